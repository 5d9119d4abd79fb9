package bindings

/*
#cgo CFLAGS: -std=c11 -I${SRCDIR}/../native
#cgo LDFLAGS: -lm
#include "bindings.h"
*/
import "C"

import (
	"os"
	"sync"

	_ "github.com/ollama/ollama/llama/llama.cpp/src" // compiles and links llama.cpp and ggml (CPU)

	_ "github.com/wcos-dev/wcos/native" // wcos's C hooks and metrics
)

var initOnce sync.Once

// initBackend initialises llama.cpp once per process and routes its log through native/log.c:
// errors to stderr, the rest only with WCOS_VERBOSE=1.
func initBackend() {
	initOnce.Do(func() {
		C.wcos_log_verbose(C.bool(os.Getenv("WCOS_VERBOSE") != ""))
		C.llama_log_set(C.ggml_log_callback(C.wcos_log), nil)
		C.llama_backend_init()
	})
}

// SystemInfo reports the CPU features ggml was compiled with.
func SystemInfo() string {
	initBackend()
	return C.GoString(C.llama_print_system_info())
}
