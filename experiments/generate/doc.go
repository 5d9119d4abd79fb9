// Package generate continues prompts greedily with neuron sets ablated (the reference's
// ablation_utils/generate.py): clean, with a set and with its random baseline, the ablations those of
// the entropy experiment (zero or mean, --gate/--post conditions). The reference generated 1,024 tokens
// after "<|endoftext|>" alone (the empty prompt here) and read the texts side by side; a weakening set
// ablated shows up as repetition.
//
// Per prompt: tokens = BOS (the EOS id, as for OLMo) + tokenize(prompt), continued by
// bindings.Context.Generate (argmax at each step, first on ties; ends at EOS) with the set's hooks. The
// text is the prompt's and the new tokens' pieces (special tokens written out, as Hugging Face's
// decode), without the BOS. Sampling (the reference's --do_sample, unseeded there) is not offered.
package generate
