// Package models ships the default model: tiny-olmo, a trained 19.2M-parameter OLMo-1 checkpoint in
// Hugging Face layout, embedded in the binary so every command works with no arguments and no network.
// It is converted to GGUF on first use into the user cache directory (never committed).
package models
