// Package hf reads Hugging Face checkpoints: config.json and one or many safetensors shards (with
// model.safetensors.index.json) or, for checkpoints without them, pytorch_model.bin shards; it gives
// tensors by their HF names as float32 or raw bytes.
package hf
