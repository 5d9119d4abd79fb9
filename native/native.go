// Package native holds wcos's C code: the eval-callback hooks that capture, ablate and accumulate
// statistics of MLP neurons, the per-token metrics, the GGUF matrix helpers and the log sink. It is a
// cgo package of its own so that the go tool tracks changes to these files (C files #included from
// another folder are invisible to its cache); package bindings calls it through wcos_native.h.
package native

// #cgo CFLAGS: -std=gnu11
// #cgo LDFLAGS: -lm -ldl -lpthread
import "C"
