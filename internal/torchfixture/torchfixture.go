// Package torchfixture locates the torch.save test files of package torchpt (written by torch itself)
// and reads torch's printout of their tensors, for the tests of the packages that read them.
package torchfixture

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Tensor is torch's printout of one tensor: dtype, shape and values (row-major, as float64).
type Tensor struct {
	DType  string    `json:"dtype"`
	Shape  []int64   `json:"shape"`
	Values []float64 `json:"values"`
}

// Path is a file under torchpt/testdata.
func Path(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "torchpt", "testdata", name)
}

// Values reads torch's printout name (state.json, mingpt.json).
func Values(tb testing.TB, name string) map[string]Tensor {
	tb.Helper()
	b, err := os.ReadFile(Path(name))
	if err != nil {
		tb.Fatal(err)
	}
	var v map[string]Tensor
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return v
}

// Float32 are t's values as float32 (exact: torch printed float32 values).
func (t Tensor) Float32() []float32 {
	f := make([]float32, len(t.Values))
	for i, x := range t.Values {
		f[i] = float32(x)
	}
	return f
}
