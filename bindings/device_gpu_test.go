//go:build wcos_dynamic

package bindings_test

import (
	"os"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
)

// TestGPUDeviceHooks compares the CUDA device hooks (libwcos-cuda.so) with the host path on the same
// GPU (tensors copied to the host), for every case of compareHookPaths. The GPU
// computes both runs alike, so the hooks' own work must agree: values within 1e-5, metrics within
// 1e-6 relative (float contraction differs between nvcc and gcc), statistics' means within 1e-4.
// Skipped without a GPU unless WCOS_TEST_GPU=1.
func TestGPUDeviceHooks(t *testing.T) {
	gpu := false
	for _, d := range bindings.Devices() {
		gpu = gpu || d.GPU
	}
	if !gpu {
		if os.Getenv("WCOS_TEST_GPU") == "1" {
			t.Fatal("WCOS_TEST_GPU=1 but no GPU device is loaded")
		}
		t.Skip("no GPU device")
	}
	compareHookPaths(t, 999, func(base, dev *run, tc hookCase) {
		bindings.TuneDevice(base.ctx, -1, 0, 0)
		bindings.TuneDevice(dev.ctx, 0, tc.candCap, tc.rpt)
	}, "CUDA", 1e-5, 1e-6)
}
