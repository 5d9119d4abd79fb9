package bindings

// #include "bindings.h"
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// MatMulNT computes c[i*n+j] = dot(a[i*k:(i+1)*k], b[j*k:(j+1)*k]) in float32 with ggml's CPU backend
// (SIMD, llamafile sgemm) on nThreads threads (≤ 0: GOMAXPROCS). c is allocated when nil or too short.
func MatMulNT(a []float32, m int, b []float32, n, k int, c []float32, nThreads int) ([]float32, error) {
	initBackend() // the CPU backend is loaded at run time in the wcos_dynamic build
	if m <= 0 || n <= 0 || k <= 0 || len(a) < m*k || len(b) < n*k {
		return nil, fmt.Errorf("MatMulNT: bad sizes m=%d n=%d k=%d (len a %d, b %d)", m, n, k, len(a), len(b))
	}
	if len(c) < m*n {
		c = make([]float32, m*n)
	}
	if nThreads <= 0 {
		nThreads = runtime.GOMAXPROCS(0)
	}
	rc := C.wcos_matmul_nt((*C.float)(unsafe.Pointer(&a[0])), C.int64_t(m), (*C.float)(unsafe.Pointer(&b[0])),
		C.int64_t(n), C.int64_t(k), (*C.float)(unsafe.Pointer(&c[0])), C.int(nThreads))
	if rc != 0 {
		return nil, fmt.Errorf("MatMulNT: ggml failed (%d)", int(rc))
	}
	return c[:m*n], nil
}

// TopKRows returns, for each of the rows of x [rows, n], the indices of its k largest values, largest
// first, ties to the lower index (NaN below every number); in C (wcos_topk_rows).
func TopKRows(x []float32, rows, n, k int) ([][]int32, error) {
	if rows < 0 || n <= 0 || k <= 0 || len(x) < rows*n || n > math.MaxInt32 {
		return nil, fmt.Errorf("TopKRows: bad sizes rows=%d n=%d k=%d (len x %d)", rows, n, k, len(x))
	}
	k = min(k, n)
	out := make([]int32, rows*k)
	if rows > 0 {
		C.wcos_topk_rows((*C.float)(unsafe.Pointer(&x[0])), C.int64_t(rows), C.int64_t(n), C.int32_t(k), (*C.int32_t)(unsafe.Pointer(&out[0])))
	}
	tops := make([][]int32, rows)
	for r := range tops {
		tops[r] = out[r*k : (r+1)*k : (r+1)*k]
	}
	return tops, nil
}

// MatMul is MatMulNT with the right operand fixed: b is copied once into a backend's memory — a
// GPU's when asked for and one is loaded, uploaded once — and each Apply sends only a's rows and reads
// back the product. The logit lens uses it to keep W_U on the device next to the model.
type MatMul struct {
	mm      *C.wcos_matmul
	n, k, m int
}

// NewMatMul keeps b [n, k] for products with up to maxRows rows at a time, on the GPU when gpu is set
// and a GPU backend is loaded, else on the CPU with nThreads threads (≤ 0: GOMAXPROCS).
func NewMatMul(b []float32, n, k, maxRows int, gpu bool, nThreads int) (*MatMul, error) {
	initBackend()
	if n <= 0 || k <= 0 || maxRows <= 0 || len(b) < n*k {
		return nil, fmt.Errorf("NewMatMul: bad sizes n=%d k=%d rows=%d (len b %d)", n, k, maxRows, len(b))
	}
	if nThreads <= 0 {
		nThreads = runtime.GOMAXPROCS(0)
	}
	var rc C.int
	mm := C.wcos_matmul_new((*C.float)(unsafe.Pointer(&b[0])), C.int64_t(n), C.int64_t(k), C.int64_t(maxRows), C.int(boolInt(gpu)), C.int(nThreads), &rc)
	if mm == nil && gpu && rc == -5 { // no GPU backend: the CPU's
		mm = C.wcos_matmul_new((*C.float)(unsafe.Pointer(&b[0])), C.int64_t(n), C.int64_t(k), C.int64_t(maxRows), 0, C.int(nThreads), &rc)
	}
	if mm == nil {
		return nil, fmt.Errorf("NewMatMul: ggml failed (%d) for [%d, %d] × %d rows", int(rc), n, k, maxRows)
	}
	return &MatMul{mm: mm, n: n, k: k, m: maxRows}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Device names the backend device that holds b ("CPU", "CUDA0", …).
func (p *MatMul) Device() string { return C.GoString(C.wcos_matmul_device(p.mm)) }

// Apply returns c [m, n] = a [m, k] · bᵀ, into c when it is long enough.
func (p *MatMul) Apply(a []float32, m int, c []float32) ([]float32, error) {
	if m <= 0 || m > p.m || len(a) < m*p.k {
		return nil, fmt.Errorf("MatMul.Apply: %d rows (len a %d), want 1 to %d rows of %d", m, len(a), p.m, p.k)
	}
	if len(c) < m*p.n {
		c = make([]float32, m*p.n)
	}
	if rc := C.wcos_matmul_apply(p.mm, (*C.float)(unsafe.Pointer(&a[0])), C.int64_t(m), (*C.float)(unsafe.Pointer(&c[0]))); rc != 0 {
		return nil, fmt.Errorf("MatMul.Apply: ggml failed (%d)", int(rc))
	}
	return c[:m*p.n], nil
}

// Close frees b's copy and the backend.
func (p *MatMul) Close() {
	if p != nil && p.mm != nil {
		C.wcos_matmul_free(p.mm)
		p.mm = nil
	}
}
