// Package safetensors reads and writes the safetensors format (an 8-byte little-endian header length,
// a JSON header of dtype/shape/data_offsets per tensor, then raw little-endian data), the format of
// Hugging Face checkpoints and of wcos's own tensor outputs (readable by torch, numpy and safetensors).
package safetensors
