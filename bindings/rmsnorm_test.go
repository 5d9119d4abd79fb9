package bindings_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

func randomRows(rows, n int, seed uint64) [][]int32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]int32, rows)
	for r := range out {
		out[r] = make([]int32, n)
		for i := range out[r] {
			out[r][i] = int32(rng.IntN(50000))
		}
	}
	return out
}

// TestRMSNormScale: on an RMSNorm model (Llama, Gemma-2) the recorded scale is TransformerLens's
// RMSNorm hook_scale, sqrt(mean(x²) + eps) of the last layer's residual, with eps from llama.cpp's
// layer_norm_rms_epsilon — not the LayerNorm's sqrt(var + eps), which differs there by more than the
// tolerance. Host path and the device path's host emulation.
func TestRMSNormScale(t *testing.T) {
	const L, d = 24, testmodels.RMSDModel
	rows := randomRows(2, L, 3)
	for _, arch := range testmodels.RMSArchs {
		path := testmodels.RMSModel(t, arch, nil)
		for _, emulate := range []bool{false, true} {
			r := newRunOn(t, path, 2, L, 0, 0, func(o *bindings.ContextOptions) { o.Threads = 1 })
			if !r.m.RMSNorm() || math.Abs(float64(r.m.NormEps())-testmodels.RMSEps) > 1e-12 {
				t.Fatalf("%s: RMSNorm %v, eps %g; want true, %g", arch, r.m.RMSNorm(), r.m.NormEps(), testmodels.RMSEps)
			}
			if emulate {
				bindings.TuneDevice(r.ctx, 1, 0, 0)
			}
			r.decode(t, hooks.Spec{Scale: true, Residual: true}, rows)
			res, sc := r.ctx.Residual(testmodels.RMSLayers-1), r.ctx.Scales()
			if len(sc) != 2*L || len(res) != 2*L*d {
				t.Fatalf("%s emulate=%v: %d scales, %d residual floats", arch, emulate, len(sc), len(res))
			}
			var lnOff float64
			for i, got := range sc {
				var ss, sum float64
				for _, v := range res[i*d : (i+1)*d] {
					ss += float64(v) * float64(v)
					sum += float64(v)
				}
				want := math.Sqrt(ss/d + testmodels.RMSEps)
				if rel := math.Abs(float64(got)-want) / want; rel > 1e-6 {
					t.Fatalf("%s emulate=%v token %d: scale %g, want sqrt(mean(x²)+eps) = %g (relative %.2g)", arch, emulate, i, got, want, rel)
				}
				mean := sum / d
				lnOff = max(lnOff, math.Abs(math.Sqrt(ss/d-mean*mean+testmodels.RMSEps)-want)/want)
			}
			if lnOff < 1e-4 {
				t.Fatalf("%s: the LayerNorm scale is within %.2g of the RMSNorm one: the test cannot tell them apart", arch, lnOff)
			}
		}
	}
}

// TestRMSNormAblation: the ablation hooks find the gated MLP node of llama.cpp's Llama graph
// (ffn_swiglu) and Gemma-2 graph (ffn_geglu). Zero ablation of neurons equals the model whose down_proj
// columns of those neurons are 0, logit for logit, and changes the clean logits; so does generation.
func TestRMSNormAblation(t *testing.T) {
	zero := map[int][]int{0: {9, 64}, 1: {3, 5, 17, 127}}
	for _, arch := range testmodels.RMSArchs {
		checkZeroAblation(t, arch, testmodels.RMSModel(t, arch, nil), testmodels.RMSModel(t, arch, zero), zero, nil)
	}
}

// zeroAblation is a check of checkZeroAblation: its rows, options, the ablation and the clean run.
type zeroAblation struct {
	rows  [][]int32
	opts  func(*bindings.ContextOptions)
	abl   *hooks.Ablation
	clean *run
}

// checkZeroAblation requires the zero ablation of the neurons zero lists on the model at path to equal
// the model zeroed, whose down-projection columns of those neurons are 0: logits of a decode of 2×24
// tokens within 1e-5 and greedy generation token for token; and to change the clean logits. The clean
// run captures capture.
func checkZeroAblation(t *testing.T, name, path, zeroed string, zero map[int][]int, capture hooks.Capture) *zeroAblation {
	t.Helper()
	const L = 24
	z := &zeroAblation{rows: randomRows(2, L, 4), opts: func(o *bindings.ContextOptions) { o.Threads = 1 }, abl: &hooks.Ablation{}}
	for l, ns := range zero {
		for _, n := range ns {
			z.abl.Neurons = append(z.abl.Neurons, hooks.Neuron{Layer: l, Index: n})
		}
	}
	ablated := newRunOn(t, path, 2, L, 0, 0, z.opts)
	ablated.decode(t, hooks.Spec{Ablation: z.abl}, z.rows)
	want := newRunOn(t, zeroed, 2, L, 0, 0, z.opts)
	want.decode(t, hooks.Spec{}, z.rows)
	z.clean = newRunOn(t, path, 2, L, 0, 0, z.opts)
	z.clean.decode(t, hooks.Spec{Capture: capture}, z.rows)
	var diff, change float64
	for i := range 2 * L {
		diff = max(diff, maxAbsDiff(ablated.ctx.Logits(i), want.ctx.Logits(i)))
		change = max(change, maxAbsDiff(ablated.ctx.Logits(i), z.clean.ctx.Logits(i)))
	}
	if diff > 1e-5 {
		t.Fatalf("%s: zero ablation vs zeroed down-projection columns: logits differ by %.3g", name, diff)
	}
	if change < 1e-3 {
		t.Fatalf("%s: zero ablation changed the logits by only %.3g: the hooks did not reach the graph", name, change)
	}
	prompts := [][]int32{z.rows[0][:5], z.rows[1][:9]}
	gen := func(path string, spec hooks.Spec) [][]int32 {
		r := newRunOn(t, path, 2, L, 0, 0, z.opts)
		if err := r.ctx.SetHooks(spec); err != nil {
			t.Fatal(err)
		}
		g, err := r.ctx.Generate(prompts, bindings.GenerateOptions{MaxNew: 12})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return g
	}
	if g, w := gen(path, hooks.Spec{Ablation: z.abl}), gen(zeroed, hooks.Spec{}); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Fatalf("%s: generation with the ablation %v, with zeroed columns %v", name, g, w)
	}
	t.Logf("%s: ablated vs zeroed columns %.3g; ablated vs clean %.3g", name, diff, change)
	return z
}

// TestBOS: OLMo's BOS is its EOS id (it has none: HF add_bos_token with bos := eos); another
// architecture's is its vocabulary's tokenizer.ggml.bos_token_id (the test Llama's is <|padding|>, 1).
func TestBOS(t *testing.T) {
	olmo, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer olmo.Close()
	if olmo.BOS() != olmo.EOS() || olmo.EOS() != 0 {
		t.Errorf("tiny-olmo: BOS %d, EOS %d; want both 0 (<|endoftext|>)", olmo.BOS(), olmo.EOS())
	}
	llama, err := bindings.LoadModel(testmodels.RMSModel(t, "llama", nil), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer llama.Close()
	key, ok := llama.Meta("tokenizer.ggml.bos_token_id")
	if !ok || key != fmt.Sprint(llama.BOS()) || llama.BOS() != 1 || llama.EOS() != 0 {
		t.Errorf("llama: BOS %d, EOS %d, tokenizer.ggml.bos_token_id %q (present %v); want 1, 0", llama.BOS(), llama.EOS(), key, ok)
	}
}
