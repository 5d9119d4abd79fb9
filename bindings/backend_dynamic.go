//go:build wcos_dynamic

package bindings

// The one-ggml build (docs/cuda.md): llama.cpp, ggml-base and the backend registry are the shared
// libraries of native/cmake (build/lib), and the backends (libggml-cpu.so, libggml-cuda.so) are
// dlopened from the directory of the libggml-base.so this process mapped, so every backend binds to
// that one ggml-base (engine.md §6.4). The exe finds build/lib through the rpath $ORIGIN/lib; the
// second rpath serves `go test` binaries, which run from a temporary directory.

/*
#cgo LDFLAGS: -L${SRCDIR}/../build/lib -lllama -lggml -lggml-base
#cgo LDFLAGS: -Wl,-rpath,$ORIGIN/lib -Wl,-rpath,${SRCDIR}/../build/lib
#include "bindings.h"
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Dynamic reports whether ggml is linked as shared libraries with loadable backends (wcos_dynamic).
const Dynamic = true

var (
	initOnce sync.Once
	// backendPaths are the directories or files backends were loaded from (for error messages).
	backendPaths []string
)

// initBackend routes llama.cpp's and ggml's log through native/log.c (errors to stderr, the rest
// only with WCOS_VERBOSE=1), loads the backends and initialises llama.cpp, once per process.
//
// WCOS_BACKEND_PATH (a list of directories or backend files, separated by ':') replaces the default,
// the directory of the mapped libggml-base.so (build/lib beside the exe). ggml itself also honours
// GGML_BACKEND_PATH=<file>.
func initBackend() {
	initOnce.Do(func() {
		installCrashDiag()
		C.wcos_log_verbose(C.bool(os.Getenv("WCOS_VERBOSE") != ""))
		C.llama_log_set(C.ggml_log_callback(C.wcos_log), nil)
		if env := os.Getenv("WCOS_BACKEND_PATH"); env != "" {
			backendPaths = filepath.SplitList(env)
		} else if libs := MappedGGMLBase(); len(libs) > 0 {
			backendPaths = []string{filepath.Dir(libs[0])}
		} else if exe, err := os.Executable(); err == nil {
			backendPaths = []string{filepath.Join(filepath.Dir(exe), "lib")}
		}
		for _, p := range backendPaths {
			cp := C.CString(p)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				C.ggml_backend_load(cp) // logs the reason at error level when it fails
			} else {
				C.ggml_backend_load_all_from_path(cp) // silently skips what does not load
			}
			C.free(unsafe.Pointer(cp))
		}
		pinBackends()
		C.llama_backend_init()
	})
}

// selectDevices sets the offload of p: gpuLayers < 0 offloads every layer when a GPU backend is
// loaded and none otherwise; gpuLayers > 0 requires a GPU. WCOS_DEVICE=N restricts the model to
// the N-th GPU (as ggml numbers them, after CUDA_VISIBLE_DEVICES); by default llama.cpp splits the
// layers over all GPUs. release frees the device list after the model is loaded.
func selectDevices(p *C.struct_llama_model_params, gpuLayers int) (release func(), err error) {
	release = func() {}
	if C.ggml_backend_dev_by_type(C.GGML_BACKEND_DEVICE_TYPE_CPU) == nil {
		return release, fmt.Errorf("no CPU backend (libggml-cpu.so) found in %s; build with make dynamic, or set WCOS_BACKEND_PATH", strings.Join(backendPaths, ":"))
	}
	gpus := gpuDevices()
	switch {
	case gpuLayers < 0 && len(gpus) > 0:
		gpuLayers = 999
	case gpuLayers < 0:
		gpuLayers = 0
	case gpuLayers > 0 && len(gpus) == 0:
		return release, noGPUError(gpuLayers)
	}
	p.n_gpu_layers = C.int32_t(gpuLayers)
	env := os.Getenv("WCOS_DEVICE")
	if env == "" || gpuLayers == 0 {
		return release, nil
	}
	n, err := strconv.Atoi(env)
	if err != nil || n < 0 || n >= len(gpus) {
		return release, fmt.Errorf("WCOS_DEVICE=%s: want a GPU index in [0,%d)", env, len(gpus))
	}
	// llama.cpp reads a NULL-terminated device list; it must outlive llama_model_load_from_file.
	list := (*[2]C.ggml_backend_dev_t)(C.malloc(C.size_t(2 * unsafe.Sizeof(gpus[0]))))
	list[0], list[1] = gpus[n], nil
	p.devices = &list[0]
	p.split_mode = C.LLAMA_SPLIT_MODE_NONE
	return func() { C.free(unsafe.Pointer(list)) }, nil
}

// noGPUError says why no GPU is there: no CUDA backend library, one that did not load (its missing
// dependency was logged by ggml_backend_load), or one without a visible device.
func noGPUError(gpuLayers int) error {
	where := strings.Join(backendPaths, ":")
	for _, p := range backendPaths {
		lib := filepath.Join(p, "libggml-cuda.so")
		if _, err := os.Stat(lib); err != nil {
			continue
		}
		for i := C.size_t(0); i < C.ggml_backend_reg_count(); i++ {
			if C.GoString(C.ggml_backend_reg_name(C.ggml_backend_reg_get(i))) == "CUDA" {
				return fmt.Errorf("--gpu-layers %d: the CUDA backend (%s) found no GPU (driver, CUDA_VISIBLE_DEVICES?); use --gpu-layers 0 for the CPU", gpuLayers, lib)
			}
		}
		cl := C.CString(lib)
		C.ggml_backend_load(cl) // logs dlerror() (e.g. a missing libcublas) at error level
		C.free(unsafe.Pointer(cl))
		return fmt.Errorf("--gpu-layers %d: %s did not load (see the error above); use --gpu-layers 0 for the CPU", gpuLayers, lib)
	}
	return fmt.Errorf("--gpu-layers %d: no CUDA backend found in %s; build with make cuda (or use --gpu-layers 0 for the CPU)", gpuLayers, where)
}

// pinBackends keeps every loaded backend library mapped until exit (native/pin.c): on the H200 both
// wcos and the test binary crashed at exit (a jump to 0x31) once the CUDA backend had been unloaded.
func pinBackends() {
	for _, p := range backendPaths {
		libs := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			libs, _ = filepath.Glob(filepath.Join(p, "libggml-*.so"))
		}
		for _, lib := range libs {
			cl := C.CString(lib)
			C.wcos_pin_library(cl)
			C.free(unsafe.Pointer(cl))
		}
	}
}
