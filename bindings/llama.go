package bindings

/*
#cgo CFLAGS: -std=c11 -I${SRCDIR}/../native
#cgo LDFLAGS: -lm
#include "bindings.h"
*/
import "C"

import (
	_ "github.com/wcos-dev/wcos/native" // wcos's C hooks and metrics
)

// ggml comes from one of two places, chosen by build tag (docs/cuda.md): backend_static.go compiles
// llama.cpp and ggml's CPU backend into the binary with cgo (the default); backend_dynamic.go
// (-tags wcos_dynamic) links the shared libraries of native/cmake and loads backends at run time.
// Each defines initBackend, which initialises llama.cpp once per process, and selectDevices.

// SystemInfo reports the CPU features ggml was compiled with.
func SystemInfo() string {
	initBackend()
	return C.GoString(C.llama_print_system_info())
}
