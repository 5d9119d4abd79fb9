// Package bindings is wcos's only cgo package: it loads GGUF models with llama.cpp, tokenizes, decodes
// batches and registers the native neuron hooks of native/ on the MLP nodes of the graph.
//
// C pointers never leave this package: callers see opaque Go types (Model, Context, Hooks) and plain
// Go slices that are copied in and out of C-allocated buffers.
package bindings
