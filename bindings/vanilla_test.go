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
	z := checkZeroAblation(t, "gpt2", testmodels.VanillaModel(t, nil), testmodels.VanillaModel(t, zero), zero, hooks.Capture{0: nil, 1: nil})
	nff, n := testmodels.VanillaFF, len(z.rows)*len(z.rows[0])
	for l := range testmodels.VanillaLayers {
		g, u, p := z.clean.ctx.Captured(l, bindings.Gate, nff), z.clean.ctx.Captured(l, bindings.Up, nff), z.clean.ctx.Captured(l, bindings.Post, nff)
		if len(g) != n*nff || fmt.Sprint(g) != fmt.Sprint(u) {
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
		c := *z.abl
		c.Gate, c.Post = cond[0], cond[1]
		r := newRunOn(t, z.clean.m.Path, 2, len(z.rows[0]), 0, 0, z.opts)
		r.decode(t, hooks.Spec{Ablation: &c}, z.rows)
		for i := range n {
			if d := maxAbsDiff(r.ctx.Logits(i), z.clean.ctx.Logits(i)); d != 0 {
				t.Fatalf("gate %v post %v: token %d changed by %.3g, want no change", cond[0], cond[1], i, d)
			}
		}
	}
}
