package bindings_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestVanillaAblation: on a non-gated (GPT-2) MLP the hooks work on llama.cpp's ffn_gelu node. Zero
// ablation equals the model whose ffn_down columns of those neurons are 0, logit for logit, in a
// decode and in generation, and changes the clean logits. The gate and up captures are both the
// pre-activation (TransformerLens's hook_pre) and post is GELU of it: the pre-activation is saved before
// ggml computes GELU over it in place. GELU has the sign of its input,
// so ablating where gate<0 and post>0, or gate>0 and post<0, changes nothing, bit for bit.
func TestVanillaAblation(t *testing.T) {
	zero := map[int][]int{0: {9, 200}, 1: {3, 5, 17, 255}}
	const L = 24
	rows := randomRows(2, L, 6)
	opts := func(o *bindings.ContextOptions) { o.Threads = 1 }
	a := &hooks.Ablation{}
	for l, ns := range zero {
		for _, n := range ns {
			a.Neurons = append(a.Neurons, hooks.Neuron{Layer: l, Index: n})
		}
	}
	path, zeroed := testmodels.VanillaModel(t, nil), testmodels.VanillaModel(t, zero)
	nff := testmodels.VanillaFF
	ablated := newRunOn(t, path, 2, L, 0, 0, opts)
	ablated.decode(t, hooks.Spec{Ablation: a}, rows)
	want := newRunOn(t, zeroed, 2, L, 0, 0, opts)
	want.decode(t, hooks.Spec{}, rows)
	clean := newRunOn(t, path, 2, L, 0, 0, opts)
	clean.decode(t, hooks.Spec{Capture: hooks.Capture{0: nil, 1: nil}}, rows)
	var diff, change float64
	for i := range 2 * L {
		diff = max(diff, maxAbsDiff(ablated.ctx.Logits(i), want.ctx.Logits(i)))
		change = max(change, maxAbsDiff(ablated.ctx.Logits(i), clean.ctx.Logits(i)))
	}
	if diff > 1e-5 || change < 1e-3 {
		t.Fatalf("zero ablation vs zeroed ffn_down columns: logits differ by %.3g; vs clean by %.3g", diff, change)
	}
	for l := range testmodels.VanillaLayers {
		g, u, p := clean.ctx.Captured(l, bindings.Gate, nff), clean.ctx.Captured(l, bindings.Up, nff), clean.ctx.Captured(l, bindings.Post, nff)
		if len(g) != 2*L*nff || fmt.Sprint(g) != fmt.Sprint(u) {
			t.Fatalf("layer %d: gate and up captures differ (%d values)", l, len(g))
		}
		// ggml's GELU is the tanh approximation, on the CPU read from a float16 table: 1e-3 relative.
		var worst float64
		for i, x := range g {
			v := float64(x)
			gelu := 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
			worst = max(worst, math.Abs(float64(p[i])-gelu)/max(1, math.Abs(v)))
		}
		if worst > 1e-3 {
			t.Fatalf("layer %d: post differs from GELU(pre) by %.3g (relative)", l, worst)
		}
	}
	for _, cond := range [][2]hooks.Sign{{-1, 1}, {1, -1}} {
		c := *a
		c.Gate, c.Post = cond[0], cond[1]
		r := newRunOn(t, path, 2, L, 0, 0, opts)
		r.decode(t, hooks.Spec{Ablation: &c}, rows)
		for i := range 2 * L {
			if d := maxAbsDiff(r.ctx.Logits(i), clean.ctx.Logits(i)); d != 0 {
				t.Fatalf("gate %v post %v: token %d changed by %.3g, want no change", cond[0], cond[1], i, d)
			}
		}
	}
	prompts := [][]int32{rows[0][:5], rows[1][:9]}
	gen := func(path string, spec hooks.Spec) [][]int32 {
		r := newRunOn(t, path, 2, L, 0, 0, opts)
		if err := r.ctx.SetHooks(spec); err != nil {
			t.Fatal(err)
		}
		g, err := r.ctx.Generate(prompts, bindings.GenerateOptions{MaxNew: 12})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g, w := gen(path, hooks.Spec{Ablation: a}), gen(zeroed, hooks.Spec{}); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Fatalf("generation with the ablation %v, with zeroed columns %v", g, w)
	}
	t.Logf("ablated vs zeroed columns %.3g; ablated vs clean %.3g", diff, change)
}
