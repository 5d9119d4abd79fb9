package bindings_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/convert"
	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

const (
	llamaD, llamaFF, llamaLayers, llamaHeads = 64, 128, 2, 4
	llamaEps                                 = 1e-5
)

// llamaGGUF writes a random Llama (LlamaForCausalLM) checkpoint with tiny-olmo's tokenizer and converts
// it with ollama's converter: a model with weighted RMSNorms that llama.cpp runs through its llama
// graph. zero lists, per layer, neurons whose down_proj column is set to 0 — the network a zero
// ablation of those neurons must equal.
func llamaGGUF(t *testing.T, zero map[int][]int) string {
	t.Helper()
	const V = 50304
	d, ff := llamaD, llamaFF
	rng := rand.New(rand.NewPCG(11, 5))
	mat := func(n int, s, off float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64()*s + off)
		}
		return v
	}
	dir := t.TempDir()
	ts := []safetensors.Tensor{
		safetensors.F32("model.embed_tokens.weight", []int64{V, int64(d)}, mat(V*d, 0.5, 0.1)),
		safetensors.F32("model.norm.weight", []int64{int64(d)}, mat(d, 0.1, 1)),
		safetensors.F32("lm_head.weight", []int64{V, int64(d)}, mat(V*d, 0.2, 0)),
	}
	for l := range llamaLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		down := mat(d*ff, 0.1, 0.02)
		for _, n := range zero[l] {
			for k := range d {
				down[k*ff+n] = 0
			}
		}
		ts = append(ts,
			safetensors.F32(p+"input_layernorm.weight", []int64{int64(d)}, mat(d, 0.1, 1)),
			safetensors.F32(p+"post_attention_layernorm.weight", []int64{int64(d)}, mat(d, 0.1, 1)),
			safetensors.F32(p+"self_attn.q_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"self_attn.k_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"self_attn.v_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"self_attn.o_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"mlp.gate_proj.weight", []int64{int64(ff), int64(d)}, mat(ff*d, 0.15, 0)),
			safetensors.F32(p+"mlp.up_proj.weight", []int64{int64(ff), int64(d)}, mat(ff*d, 0.15, 0)),
			safetensors.F32(p+"mlp.down_proj.weight", []int64{int64(d), int64(ff)}, down))
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"hidden_size": d, "intermediate_size": ff, "num_hidden_layers": llamaLayers, "num_attention_heads": llamaHeads,
		"num_key_value_heads": llamaHeads, "rms_norm_eps": llamaEps, "vocab_size": V, "max_position_embeddings": 256,
		"rope_theta": 10000.0, "bos_token_id": 50279, "eos_token_id": 50279})
	files := map[string][]byte{"config.json": cfg}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(testmodels.TinyDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "llama.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := convert.ConvertModel(os.DirFS(dir), f); err != nil {
		t.Fatalf("ollama convert: %v", err)
	}
	return path
}

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

// TestRMSNormScale: on an RMSNorm model the recorded scale is TransformerLens's RMSNorm hook_scale,
// sqrt(mean(x²) + eps) of the last layer's residual, with eps from llama.cpp's layer_norm_rms_epsilon
// — not the LayerNorm's sqrt(var + eps), which differs there by more than the tolerance. Host path and
// the device path's host emulation.
func TestRMSNormScale(t *testing.T) {
	path := llamaGGUF(t, nil)
	const L = 24
	rows := randomRows(2, L, 3)
	for _, emulate := range []bool{false, true} {
		r := newRunOn(t, path, 2, L, 0, 0, func(o *bindings.ContextOptions) { o.Threads = 1 })
		if !r.m.RMSNorm() || math.Abs(float64(r.m.NormEps())-llamaEps) > 1e-12 {
			t.Fatalf("llama: RMSNorm %v, eps %g; want true, %g", r.m.RMSNorm(), r.m.NormEps(), llamaEps)
		}
		if emulate {
			bindings.TuneDevice(r.ctx, 1, 0, 0)
		}
		r.decode(t, hooks.Spec{Scale: true, Residual: true}, rows)
		res, sc := r.ctx.Residual(llamaLayers-1), r.ctx.Scales()
		if len(sc) != 2*L || len(res) != 2*L*llamaD {
			t.Fatalf("emulate=%v: %d scales, %d residual floats", emulate, len(sc), len(res))
		}
		var lnOff float64
		for i, got := range sc {
			x := res[i*llamaD : (i+1)*llamaD]
			var ss, sum float64
			for _, v := range x {
				ss += float64(v) * float64(v)
				sum += float64(v)
			}
			want := math.Sqrt(ss/llamaD + llamaEps)
			if rel := math.Abs(float64(got)-want) / want; rel > 1e-6 {
				t.Fatalf("emulate=%v token %d: scale %g, want sqrt(mean(x²)+eps) = %g (relative %.2g)", emulate, i, got, want, rel)
			}
			mean := sum / llamaD
			ln := math.Sqrt(ss/llamaD - mean*mean + llamaEps)
			lnOff = max(lnOff, math.Abs(ln-want)/want)
		}
		if lnOff < 1e-4 {
			t.Fatalf("the LayerNorm scale is within %.2g of the RMSNorm one: the test cannot tell them apart", lnOff)
		}
	}
}

// TestRMSNormAblation: the ablation hooks find the MLP nodes of llama.cpp's llama graph. Zero ablation
// of neurons equals the model whose down_proj columns of those neurons are 0, logit for logit, and
// changes the clean logits.
func TestRMSNormAblation(t *testing.T) {
	zero := map[int][]int{0: {9, 64}, 1: {3, 5, 17, 127}}
	path, zeroed := llamaGGUF(t, nil), llamaGGUF(t, zero)
	const L = 24
	rows := randomRows(2, L, 4)
	opts := func(o *bindings.ContextOptions) { o.Threads = 1 }
	a := &hooks.Ablation{}
	for l, ns := range zero {
		for _, n := range ns {
			a.Neurons = append(a.Neurons, hooks.Neuron{Layer: l, Index: n})
		}
	}
	ablated := newRunOn(t, path, 2, L, 0, 0, opts)
	ablated.decode(t, hooks.Spec{Ablation: a}, rows)
	want := newRunOn(t, zeroed, 2, L, 0, 0, opts)
	want.decode(t, hooks.Spec{}, rows)
	clean := newRunOn(t, path, 2, L, 0, 0, opts)
	clean.decode(t, hooks.Spec{}, rows)
	var diff, change float64
	for i := range 2 * L {
		diff = max(diff, maxAbsDiff(ablated.ctx.Logits(i), want.ctx.Logits(i)))
		change = max(change, maxAbsDiff(ablated.ctx.Logits(i), clean.ctx.Logits(i)))
	}
	if diff > 1e-5 {
		t.Fatalf("zero ablation vs zeroed down_proj columns: logits differ by %.3g", diff)
	}
	if change < 1e-3 {
		t.Fatalf("zero ablation changed the logits by only %.3g: the hooks did not reach the llama graph", change)
	}
	t.Logf("ablated vs zeroed columns: %.3g; ablated vs clean: %.3g", diff, change)
}
