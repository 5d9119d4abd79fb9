// Package classes computes the read-write (RW) functionality classes of gated (SwiGLU) MLP neurons
// from their weights alone (paper-spec §1–§2): per neuron the cosines cos(w_gate,w_in),
// cos(w_gate,w_out) and cos(w_in,w_out) in float64, TransformerLens-processed or raw, the refactor sign
// s_n, the 11-class key, per-layer counts, the beta and mismatched-pair randomness regions, and writes
// tables and figures for `wcos classes`.
//
// Weights come from a Hugging Face directory (package hf) or a GGUF file of any ggml type (package
// bindings), one layer at a time, so a 7B model needs about one layer of float32 weights in memory.
// TransformerLens's processing depends on the architecture's norm before the MLP (Norm, source.go's
// tables): OLMo's weightless LayerNorm, the RMSNorms of Llama, Mistral, Qwen and Gemma, and the
// LayerNorms of the vanilla GPT-2, Pythia, OPT, BLOOM and GPT-J.
package classes
