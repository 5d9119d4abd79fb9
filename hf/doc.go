// Package hf reads Hugging Face OLMo checkpoints: config.json and one or many safetensors shards (with
// model.safetensors.index.json), giving tensors by their HF names as float32 or raw bytes.
package hf
