// Package convert writes GGUF files that llama.cpp loads as architecture "olmo" from OLMo-1 Hugging
// Face checkpoints (OlmoForCausalLM: config.json, safetensors shards, tokenizer.json).
//
// It follows llama.cpp's convert_hf_to_gguf.py for OLMo (engine.md §5.2): strictly typed olmo.* and
// tokenizer.ggml.* keys, Q and K rows permuted from Hugging Face's rotate-half RoPE layout to
// llama.cpp's adjacent pairs, tensor dims in ggml order, GPT-2 BPE vocabulary typed as engine.md §11
// measured. F32, F16 and BF16 files are written by the pure-Go GGUF writer here; Q8_0 and Q4_K_M go
// through llama.cpp's llama_model_quantize, with tensors whose rows do not fit the quantisation block
// kept in F16. Output is atomic: a failed conversion leaves no file behind.
package convert
