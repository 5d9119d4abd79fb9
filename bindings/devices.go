package bindings

// #include "bindings.h"
import "C"

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Device is one ggml backend device.
type Device struct {
	Name, Description string
	GPU               bool
	FreeBytes         uint64
	TotalBytes        uint64
}

// Devices lists the devices of the loaded backends.
func Devices() []Device {
	initBackend()
	var out []Device
	for i := C.size_t(0); i < C.ggml_backend_dev_count(); i++ {
		d := C.ggml_backend_dev_get(i)
		var free, total C.size_t
		C.ggml_backend_dev_memory(d, &free, &total)
		t := C.ggml_backend_dev_type(d)
		out = append(out, Device{
			Name: C.GoString(C.ggml_backend_dev_name(d)), Description: C.GoString(C.ggml_backend_dev_description(d)),
			GPU:       t == C.GGML_BACKEND_DEVICE_TYPE_GPU || t == C.GGML_BACKEND_DEVICE_TYPE_IGPU,
			FreeBytes: uint64(free), TotalBytes: uint64(total),
		})
	}
	return out
}

// HasGPU reports whether a GPU backend device is loaded.
func HasGPU() bool {
	initBackend()
	return len(gpuDevices()) > 0
}

func gpuDevices() []C.ggml_backend_dev_t {
	var gpus []C.ggml_backend_dev_t
	for i := C.size_t(0); i < C.ggml_backend_dev_count(); i++ {
		d := C.ggml_backend_dev_get(i)
		if t := C.ggml_backend_dev_type(d); t == C.GGML_BACKEND_DEVICE_TYPE_GPU || t == C.GGML_BACKEND_DEVICE_TYPE_IGPU {
			gpus = append(gpus, d)
		}
	}
	return gpus
}

// MappedGGMLBase lists the distinct libggml-base files mapped into this process (/proc/self/maps):
// exactly one in a correct build.
func MappedGGMLBase() []string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		p := fields[5]
		if strings.HasPrefix(filepath.Base(p), "libggml-base.so") {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				p = r
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}
