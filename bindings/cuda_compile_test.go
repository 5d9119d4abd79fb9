package bindings_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCUDAKernelsCompile compiles native/cuda/wcos_cuda.cu (the device hooks, with devkern.h's bodies
// as device functions) for sm_90 where nvcc is installed, and fails on errors, warnings or register
// spills: CI has no nvcc, the GPU machine has no Go, so this is where a change to devkern.h that gcc
// accepts and nvcc does not is caught. Skipped without nvcc (Debian: nvidia-cuda-toolkit, non-free).
func TestCUDAKernelsCompile(t *testing.T) {
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		if nvcc, err = exec.LookPath("/usr/local/cuda/bin/nvcc"); err != nil {
			t.Skip("no nvcc")
		}
	}
	out := filepath.Join(t.TempDir(), "libwcos-cuda.so")
	cmd := exec.Command(nvcc, "-std=c++17", "-O3", "-arch=sm_90", "-Xcompiler", "-fPIC,-Wall", "-Xptxas", "-warn-spills",
		"-shared", "-o", out, filepath.Join("..", "native", "cuda", "wcos_cuda.cu"))
	b, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(strings.ToLower(string(b)), "warning") {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
	}
}
