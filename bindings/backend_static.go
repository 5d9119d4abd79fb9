//go:build !wcos_dynamic

package bindings

// #include "bindings.h"
import "C"

import (
	"os"
	"sync"

	_ "github.com/ollama/ollama/llama/llama.cpp/src" // compiles and links llama.cpp and ggml (CPU)
)

// Dynamic reports whether ggml is linked as shared libraries with loadable backends (wcos_dynamic).
const Dynamic = false

var initOnce sync.Once

// initBackend initialises llama.cpp once per process and routes its log through native/log.c:
// errors to stderr, the rest only with WCOS_VERBOSE=1.
func initBackend() {
	initOnce.Do(func() {
		installCrashDiag()
		C.wcos_log_verbose(C.bool(os.Getenv("WCOS_VERBOSE") != ""))
		C.llama_log_set(C.ggml_log_callback(C.wcos_log), nil)
		C.llama_backend_init()
	})
}

// selectDevices sets the offload of p. The static build has only the CPU backend, so GPU layers
// are accepted and ignored: the commands' default --gpu-layers 999 must keep working here.
func selectDevices(p *C.struct_llama_model_params, gpuLayers int) (release func(), err error) {
	p.n_gpu_layers = 0
	return func() {}, nil
}
