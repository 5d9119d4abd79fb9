// Package generate continues prompts with neuron sets ablated (the reference's
// ablation_utils/generate.py): clean, with a set and with its random baseline, the ablations those of
// the entropy experiment (zero or mean, --gate/--post conditions). The reference generated 1,024 tokens
// after "<|endoftext|>" alone (the empty prompt here) and read the texts side by side.
//
// Per prompt: tokens = BOS (bindings.Model.BOS: the EOS id for OLMo) + tokenize(prompt), continued by
// bindings.Context.Generate with the set's hooks, greedily (argmax at each step, first on ties) or,
// with Config.Sampling, by drawing from softmax(logits/T) — the reference's --do_sample, which it left
// unseeded; here the seed fixes the draws, and the clean and ablated runs of a prompt draw the same
// numbers. Generation ends at EOS. The text is the prompt's and the new tokens' pieces (special tokens
// written out, as Hugging Face's decode), without the BOS.
package generate
