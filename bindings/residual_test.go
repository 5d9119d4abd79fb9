package bindings_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// unembedding reads W_U of a GGUF model as [vocab, d] rows: output.weight, or the token embedding when
// the embeddings are tied.
func unembedding(t *testing.T, path string) ([]float32, int) {
	t.Helper()
	for _, name := range []string{"output.weight", "token_embd.weight"} {
		w, sh, err := bindings.ReadGGUFTensors(path, []string{name})
		if err == nil {
			return w[name], int(sh[name][1])
		}
	}
	t.Fatalf("%s: neither output.weight nor token_embd.weight", path)
	return nil, 0
}

// finalLogits applies OLMo-1's final norm (LayerNorm without weights, population variance) and W_U to
// one residual row, in float64.
func finalLogits(x []float32, wu []float32, eps float64) []float64 {
	d := len(x)
	var mean, vr float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(d)
	for _, v := range x {
		vr += (float64(v) - mean) * (float64(v) - mean)
	}
	inv := 1 / math.Sqrt(vr/float64(d)+eps)
	n := make([]float64, d)
	for i, v := range x {
		n[i] = (float64(v) - mean) * inv
	}
	out := make([]float64, len(wu)/d)
	for r := range out {
		row := wu[r*d : (r+1)*d]
		var s float64
		for i, w := range row {
			s += float64(w) * n[i]
		}
		out[r] = s
	}
	return out
}

// TestResidualReproducesLogits captures the residual stream after every layer (hook_resid_post) and
// checks it against the engine itself: the last layer's row, through the final LayerNorm and W_U,
// must give the logits llama.cpp computed at that token (relative error ≤ 1e-4 of the largest logit),
// on the tied tiny-olmo and the untied random fixture, with one or several ubatches, with and without
// an ablation, and through the device path's host emulation. An ablation at layer k must leave the
// residual of layers < k bit for bit as in the clean run and change it from layer k on.
func TestResidualReproducesLogits(t *testing.T) {
	models := []struct{ name, dir, ref string }{
		{"tiny-olmo", testmodels.TinyDir(), "tiny-olmo-reference.safetensors"},
		{"untied-olmo-random", testmodels.UntiedDir(), "untied-olmo-random-reference.safetensors"},
	}
	type tcase struct {
		name      string
		ubatch    int
		ablate    bool
		emulate   bool
		perRow    bool
		positions []int // tokens of each row checked against the logits
	}
	cases := []tcase{
		{name: "clean", positions: []int{0, 1, 31, 63}},
		{name: "clean/ubatch=24", ubatch: 24, positions: []int{0, 23, 24, 63}},
		{name: "ablated", ablate: true, positions: []int{0, 7, 40, 63}},
		{name: "ablated/device-emulation", ablate: true, emulate: true, positions: []int{0, 5, 63}},
		{name: "ablated/per-row", ablate: true, perRow: true, positions: []int{2, 63}},
	}
	for _, mc := range models {
		ref := loadReference(t, mc.ref)
		path := testmodels.GGUF(t, mc.dir, "f32")
		wu, d := unembedding(t, path)
		L := len(ref.tokens[0])
		rows := ref.tokens[:2]
		for _, tc := range cases {
			t.Run(mc.name+"/"+tc.name, func(t *testing.T) {
				// One thread: the 2-core CI machine is shared, and ggml's spinning threads slow down badly there.
				r := newRunOn(t, path, 2, L, tc.ubatch, 0, func(o *bindings.ContextOptions) { o.PerRow, o.Threads = tc.perRow, 1 })
				clean := newRunOn(t, path, 2, L, 0, 0, func(o *bindings.ContextOptions) { o.Threads = 1 })
				if tc.emulate {
					bindings.TuneDevice(r.ctx, 1, 0, 0)
				}
				nl, nff := r.m.NLayer(), r.m.NFF()
				if r.m.NEmbd() != d {
					t.Fatalf("W_U has %d columns, the model d_model %d", d, r.m.NEmbd())
				}
				k := nl - 1 // ablated layer
				if nl > 2 {
					k = nl / 2
				}
				spec := hooks.Spec{Residual: true}
				if tc.ablate {
					a := &hooks.Ablation{}
					for n := 0; n < nff; n += 3 {
						a.Neurons = append(a.Neurons, hooks.Neuron{Layer: k, Index: n})
					}
					spec.Ablation = a
				}
				r.decode(t, spec, rows)
				clean.decode(t, hooks.Spec{Residual: true}, rows)
				eps := float64(r.m.NormEps())
				var worst float64
				for s := range rows {
					if tc.perRow && s == 0 {
						continue // Logits hold the last row only
					}
					for _, p := range tc.positions {
						p = min(p, L-1) // the untied fixture's rows are shorter
						i := s*L + p
						res := r.ctx.Residual(nl - 1)
						if len(res) != 2*L*d {
							t.Fatalf("Residual(%d): %d floats, want %d", nl-1, len(res), 2*L*d)
						}
						got := finalLogits(res[i*d:(i+1)*d], wu, eps)
						want := r.ctx.Logits(i)
						var diff, scale float64
						for j := range want {
							diff = math.Max(diff, math.Abs(got[j]-float64(want[j])))
							scale = math.Max(scale, math.Abs(float64(want[j])))
						}
						rel := diff / scale
						worst = math.Max(worst, rel)
						if rel > 1e-4 || math.IsNaN(rel) {
							t.Fatalf("row %d token %d: norm(resid_post[%d])·W_U vs logits: max abs %.3g (relative %.3g)", s, p, nl-1, diff, rel)
						}
					}
				}
				t.Logf("final-layer residual vs logits: worst relative error %.3g", worst)
				if !tc.ablate {
					for l := 0; l < nl; l++ {
						if dd := maxAbsDiff(r.ctx.Residual(l), clean.ctx.Residual(l)); dd > 1e-5 {
							t.Errorf("layer %d: residual differs from a one-ubatch clean run by %.3g", l, dd)
						}
					}
					return
				}
				for l := 0; l < nl; l++ {
					a, b := r.ctx.Residual(l), clean.ctx.Residual(l)
					same := fmt.Sprint(a) == fmt.Sprint(b)
					if tc.perRow { // one KV stream per row reorders float sums: compare within 1e-5
						same = maxAbsDiff(a, b) <= 1e-5
					}
					if l < k && !same {
						t.Errorf("layer %d < ablated layer %d: residual changed by %.3g", l, k, maxAbsDiff(a, b))
					}
					if l >= k && maxAbsDiff(a, b) < 1e-4 {
						t.Errorf("layer %d ≥ ablated layer %d: residual unchanged (max diff %.3g)", l, k, maxAbsDiff(a, b))
					}
				}
			})
		}
	}
}

// TestResidualOff: without Spec.Residual there is nothing to read, also after a decode that captured.
func TestResidualOff(t *testing.T) {
	ref := loadReference(t, "tiny-olmo-reference.safetensors")
	path := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	r := newRun(t, path, 1, len(ref.tokens[0]), 0)
	r.decode(t, hooks.Spec{Residual: true}, ref.tokens[:1])
	if got := r.ctx.Residual(0); len(got) != len(ref.tokens[0])*r.m.NEmbd() {
		t.Fatalf("Residual(0) after a capturing decode: %d floats", len(got))
	}
	r.decode(t, hooks.Spec{}, ref.tokens[:1])
	for _, l := range []int{-1, 0, r.m.NLayer()} {
		if got := r.ctx.Residual(l); got != nil {
			t.Errorf("Residual(%d) without Spec.Residual: %d floats, want nil", l, len(got))
		}
	}
}
