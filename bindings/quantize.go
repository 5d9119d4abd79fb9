package bindings

// #include "bindings.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// quantFTypes maps the quantisation names wcos accepts to llama_ftype.
var quantFTypes = map[string]C.enum_llama_ftype{
	"q8_0":   C.LLAMA_FTYPE_MOSTLY_Q8_0,
	"q4_k_m": C.LLAMA_FTYPE_MOSTLY_Q4_K_M,
}

// Quantize runs llama.cpp's llama_model_quantize on the GGUF file in, writing out (created or
// truncated). ftype is "q8_0" or "q4_k_m"; threads ≤ 0 uses every CPU.
//
// llama.cpp decides each tensor's type (Q4_K_M mixes Q4_K and Q6_K, with fallbacks for odd row
// lengths) and copies tensors it does not quantise unchanged: those whose name does not end in
// "weight" among them. For Q8_0 it rejects a tensor whose rows are not a multiple of 32 ("Unsupported
// tensor size") rather than falling back, and its per-tensor overrides are C++ objects the C API cannot
// build, so callers that need such tensors kept must store them under such a name and rename them
// afterwards (package convert does).
func Quantize(in, out, ftype string, threads int) error {
	ft, ok := quantFTypes[ftype]
	if !ok {
		return fmt.Errorf("quantize: unknown type %q (want q8_0 or q4_k_m)", ftype)
	}
	initBackend()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := C.llama_model_quantize_default_params()
	p.nthread = C.int32_t(threads)
	p.ftype = ft
	cin, cout := C.CString(in), C.CString(out)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	if rc := C.llama_model_quantize(cin, cout, &p); rc != 0 {
		// The caller names the files; llama.cpp has logged the reason to stderr.
		return fmt.Errorf("llama_model_quantize to %s failed (rc %d; llama.cpp logged the reason)", ftype, int(rc))
	}
	return nil
}
