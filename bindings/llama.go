package bindings

/*
#cgo CFLAGS: -std=c11 -I${SRCDIR}/../native
#cgo LDFLAGS: -lm
#include "bindings.h"
*/
import "C"

import (
	_ "github.com/ollama/ollama/llama/llama.cpp/src" // compiles and links llama.cpp and ggml (CPU)
)

// SystemInfo reports the CPU features ggml was compiled with.
func SystemInfo() string { return C.GoString(C.llama_print_system_info()) }
