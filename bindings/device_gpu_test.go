//go:build wcos_dynamic

package bindings_test

import (
	"math"
	"math/rand"
	"os"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestGPUDeviceHooks compares the CUDA device hooks (libwcos-cuda.so) with the host path on the same
// GPU (tensors copied to the host), for every case of compareHookPaths. The GPU
// computes both runs alike, so the hooks' own work must agree: values within 1e-5, metrics within
// 1e-6 relative (float contraction differs between nvcc and gcc), statistics' means within 1e-4.
// Skipped without a GPU unless WCOS_TEST_GPU=1.
func TestGPUDeviceHooks(t *testing.T) {
	needGPU(t)
	compareHookPaths(t, 999, func(base, dev *run, tc hookCase) {
		bindings.TuneDevice(base.ctx, -1, 0, 0)
		bindings.TuneDevice(dev.ctx, 0, tc.candCap, tc.rpt)
	}, "CUDA", 1e-5, 1e-6)
}

// gpuLayers is every layer on the GPU, or none in scripts/gpu-check.sh's rehearsal without a GPU
// (WCOS_GPU_CHECK_CPU=1); without either the test is skipped (needGPU).
func gpuLayers(t *testing.T) int {
	t.Helper()
	if os.Getenv("WCOS_GPU_CHECK_CPU") == "1" {
		return 0
	}
	needGPU(t)
	return 999
}

// needGPU skips the test without a GPU device, unless WCOS_TEST_GPU=1 demands one.
func needGPU(t *testing.T) {
	t.Helper()
	if bindings.HasGPU() {
		return
	}
	if os.Getenv("WCOS_TEST_GPU") == "1" {
		t.Fatal("WCOS_TEST_GPU=1 but no GPU device is loaded")
	}
	t.Skip("no GPU device")
}

// TestGPUGenerate: greedy generation with every layer on the GPU, clean and with a conditional
// ablation through the device hooks, picks at every step a token whose logit in a full decode of the
// text on the same GPU is within 1e-3 of the largest, and ends only at EOS or the length.
func TestGPUGenerate(t *testing.T) {
	layers := gpuLayers(t)
	r := newRunOn(t, tinyF32(t), 4, 64, 0, layers)
	eos := r.m.EOS()
	rows := [][]int32{{eos}, {eos, 11, 12, 13, 14, 15, 16, 17}, {eos, 100, 7, 300}}
	for _, abl := range []*hooks.Ablation{nil, {Neurons: testmodels.ReferenceAblated(), Gate: -1}} {
		if err := r.ctx.SetHooks(hooks.Spec{Ablation: abl}); err != nil {
			t.Fatal(err)
		}
		gen, err := r.ctx.Generate(rows, bindings.GenerateOptions{MaxNew: 24, Stop: []int32{eos}})
		if err != nil {
			t.Fatal(err)
		}
		checkGreedy(t, r.ctx, rows, gen, 24, eos, 1e-3)
	}
}

// TestGPUSingleToken: one-token decodes, where ggml-cuda would fuse the up and gate products into the
// GLU kernel and never write them (a generation step, a last layer with one output row) unless the
// hooks ask for them. Captures of gate, up and post in every layer, under a gate-conditional ablation
// of every third neuron, agree with the CPU's within 1e-4, the logits within 1e-3.
func TestGPUSingleToken(t *testing.T) {
	layers := gpuLayers(t)
	path := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	cpu, gpu := newRunOn(t, path, 1, 1, 0, 0), newRunOn(t, path, 1, 1, 0, layers)
	nl, nff := cpu.m.NLayer(), cpu.m.NFF()
	spec := hooks.Spec{Capture: hooks.Capture{}, Ablation: &hooks.Ablation{Gate: -1}}
	for l := range nl {
		spec.Capture[l] = nil
		for n := l % 3; n < nff; n += 3 {
			spec.Ablation.Neurons = append(spec.Ablation.Neurons, hooks.Neuron{Layer: l, Index: n})
		}
	}
	for _, tok := range []int32{cpu.m.EOS(), 11, 300} {
		rows := [][]int32{{tok}}
		cpu.decode(t, spec, rows)
		gpu.decode(t, spec, rows)
		for l := range nl {
			for _, k := range []bindings.Kind{bindings.Gate, bindings.Up, bindings.Post} {
				a, b := cpu.ctx.Captured(l, k, nff), gpu.ctx.Captured(l, k, nff)
				if len(a) != nff || len(b) != nff || maxAbsDiff(a, b) > 1e-4 {
					t.Fatalf("token %d: layer %d kind %d: CPU and GPU captures differ (len %d/%d, max %.3g)", tok, l, k, len(a), len(b), maxAbsDiff(a, b))
				}
			}
		}
		if d := maxAbsDiff(cpu.ctx.Logits(0), gpu.ctx.Logits(0)); d > 1e-3 {
			t.Fatalf("token %d: logits differ by %.3g", tok, d)
		}
	}
}

// TestGPUMatMul: the product with W_U kept on the GPU (the attributes lens) agrees with the CPU's
// within 1e-4 relative to the largest entry (F32 on both; cuBLAS may sum in another order or in TF32
// unless NVIDIA_TF32_OVERRIDE=0), and its top-50 per row with the CPU's but for near-ties.
func TestGPUMatMul(t *testing.T) {
	needGPU(t)
	const n, k, rows = 50304, 256, 36
	r := rand.New(rand.NewSource(5))
	b := make([]float32, n*k)
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	a := make([]float32, rows*k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	mm, err := bindings.NewMatMul(b, n, k, rows, true, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer mm.Close()
	if d := mm.Device(); d == "CPU" {
		t.Fatalf("device %q, want a GPU", d)
	}
	for _, m := range []int{rows, 9} {
		got, err := mm.Apply(a, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := bindings.MatMulNT(a, m, b, n, k, nil, 4)
		if err != nil {
			t.Fatal(err)
		}
		worst, top := 0.0, 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
			top = max(top, math.Abs(float64(want[i])))
		}
		t.Logf("%s, %d rows: largest difference %.3g of %.3g", mm.Device(), m, worst, top)
		if worst > 1e-4*top {
			t.Errorf("%d rows: GPU and CPU products differ by %.3g (largest entry %.3g)", m, worst, top)
		}
	}
}
