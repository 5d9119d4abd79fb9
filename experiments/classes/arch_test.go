package classes

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ollama/ollama/convert"
	"github.com/wcos-dev/wcos/internal/torchfixture"
	"github.com/wcos-dev/wcos/safetensors"
)

// rmsCases are the RMSNorm architectures: the HF model type, its class name, the name of the norm
// before the MLP and whether HF stores Gemma's w of x·(1 + w).
var rmsCases = []struct {
	modelType, class, norm string
	plusOne                bool
}{
	{"llama", "LlamaForCausalLM", "post_attention_layernorm", false},
	{"mistral", "MistralForCausalLM", "post_attention_layernorm", false},
	{"qwen2", "Qwen2ForCausalLM", "post_attention_layernorm", false},
	{"qwen3", "Qwen3ForCausalLM", "post_attention_layernorm", false},
	{"gemma", "GemmaForCausalLM", "post_attention_layernorm", true},
	{"gemma2", "Gemma2ForCausalLM", "pre_feedforward_layernorm", true},
	{"gemma3_text", "Gemma3ForCausalLM", "pre_feedforward_layernorm", true},
}

// rmsModel is a random gated MLP with an RMSNorm before it, all values exact in float16, so a
// converter that stores the matrices as F16 loses nothing. Rows have non-zero means, so centring
// (wrong for RMSNorm models) would change the cosines.
type rmsModel struct {
	layers, d, ff  int
	gate, up, down [][]float32 // per layer; down is HF's [d, ff]
	g              [][]float32 // effective norm weight, 1 + k/64
}

func newRMSModel(layers, d, ff int, seed uint64) *rmsModel {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := &rmsModel{layers: layers, d: d, ff: ff}
	mat := func(n int) []float32 {
		v := make([]float32, n)
		off := float32(rng.IntN(201)-100) / 1024
		for i := range v {
			v[i] = float32(rng.IntN(2001)-1000)/1024 + off
		}
		return v
	}
	for range layers {
		m.gate = append(m.gate, mat(ff*d))
		m.up = append(m.up, mat(ff*d))
		m.down = append(m.down, mat(d*ff))
		g := make([]float32, d)
		for k := range g {
			g[k] = 1 + float32(rng.IntN(81)-40)/64
		}
		m.g = append(m.g, g)
	}
	return m
}

// prescaled returns the model with g multiplied into gate and up in float32 and the norm set to 1:
// the same network, whose TL processing has nothing left to fold.
func (m *rmsModel) prescaled() *rmsModel {
	p := *m
	p.gate, p.up, p.g = nil, nil, nil
	scale := func(w, g []float32) []float32 {
		s := make([]float32, len(w))
		for i, x := range w {
			s[i] = x * g[i%len(g)]
		}
		return s
	}
	for l := range m.layers {
		p.gate = append(p.gate, scale(m.gate[l], m.g[l]))
		p.up = append(p.up, scale(m.up[l], m.g[l]))
		one := make([]float32, m.d)
		for k := range one {
			one[k] = 1
		}
		p.g = append(p.g, one)
	}
	return &p
}

// write stores the model as a Hugging Face directory of the given architecture (config.json,
// model.safetensors, and an empty tokenizer.json for ollama's converter).
func (m *rmsModel) write(t *testing.T, modelType, class, norm string, plusOne bool) string {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"architectures": []string{class}, "model_type": modelType, "hidden_size": m.d,
		"intermediate_size": m.ff, "num_hidden_layers": m.layers, "num_attention_heads": 2, "num_key_value_heads": 2,
		"head_dim": m.d / 2, "rms_norm_eps": 1e-6, "vocab_size": 16, "max_position_embeddings": 64}
	b, _ := json.Marshal(cfg)
	var ts []safetensors.Tensor
	for l := range m.layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		w := append([]float32(nil), m.g[l]...)
		if plusOne {
			for k := range w {
				w[k]-- // exact: g = 1 + k/64
			}
		}
		ts = append(ts,
			safetensors.F32(p+"mlp.gate_proj.weight", []int64{int64(m.ff), int64(m.d)}, m.gate[l]),
			safetensors.F32(p+"mlp.up_proj.weight", []int64{int64(m.ff), int64(m.d)}, m.up[l]),
			safetensors.F32(p+"mlp.down_proj.weight", []int64{int64(m.d), int64(m.ff)}, m.down[l]),
			safetensors.F32(p+norm+".weight", []int64{int64(m.d)}, w))
	}
	for name, data := range map[string][]byte{"config.json": b, "tokenizer.json": []byte("{}")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func computeAt(t *testing.T, path string, proc Processing) *Result {
	t.Helper()
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	o := DefaultOptions()
	o.Processing = proc
	r, err := Compute(src, o)
	if err != nil {
		t.Fatalf("%s (%s): %v", path, proc, err)
	}
	return r
}

// sameResult requires equal neuron rows (bit for bit, NaN equal to NaN) and equal exact regions.
func sameResult(t *testing.T, name string, a, b *Result) {
	t.Helper()
	if len(a.Neurons) != len(b.Neurons) {
		t.Fatalf("%s: %d vs %d neurons", name, len(a.Neurons), len(b.Neurons))
	}
	for i, x := range a.Neurons {
		if x != b.Neurons[i] && fmt.Sprint(x) != fmt.Sprint(b.Neurons[i]) {
			t.Fatalf("%s: neuron %d: %+v vs %+v", name, i, x, b.Neurons[i])
		}
	}
	if len(a.Regions.Layers) != len(b.Regions.Layers) {
		t.Fatalf("%s: %d vs %d regions", name, len(a.Regions.Layers), len(b.Regions.Layers))
	}
	for i, g := range a.Regions.Layers {
		if !reflect.DeepEqual(g, b.Regions.Layers[i]) {
			t.Fatalf("%s: region of layer %d: %+v vs %+v", name, g.Layer, g, b.Regions.Layers[i])
		}
	}
}

// TestRMSNormFold: for an RMSNorm model, TL processing equals the raw weights of the same network with
// the norm's weight already multiplied into w_gate and w_in (spec §1.3: fold, no centring), for every
// architecture wcos knows, with Gemma's 1 + w read from HF's w. The fold matters: the raw cosines of
// the unfolded checkpoint differ.
func TestRMSNormFold(t *testing.T) {
	m := newRMSModel(2, 24, 40, 1)
	pre := m.prescaled()
	for _, c := range rmsCases {
		t.Run(c.modelType, func(t *testing.T) {
			a := m.write(t, c.modelType, c.class, c.norm, c.plusOne)
			b := pre.write(t, c.modelType, c.class, c.norm, c.plusOne)
			ra := computeAt(t, a, TL)
			if ra.Dims.Norm != RMSNorm || ra.Dims.Arch != c.modelType {
				t.Fatalf("%s: dims %+v, want an RMSNorm model", c.modelType, ra.Dims)
			}
			sameResult(t, c.modelType+": tl vs prescaled tl", ra, computeAt(t, b, TL))
			sameResult(t, c.modelType+": tl vs prescaled raw", ra, computeAt(t, b, Raw))
			raw := computeAt(t, a, Raw)
			var maxDiff float64
			for i, n := range raw.Neurons {
				maxDiff = max(maxDiff, math.Abs(n.GateLin-ra.Neurons[i].GateLin), math.Abs(n.LinOut-ra.Neurons[i].LinOut))
			}
			if maxDiff < 1e-2 {
				t.Fatalf("%s: folding the norm changed no cosine by 1e-2 (max %g): the test model does not test the fold", c.modelType, maxDiff)
			}
		})
	}
}

// TestRMSNormGGUF converts the HF checkpoints with ollama's converter (an independent implementation
// of the tensor names and of Gemma's 1 + w) and requires the GGUF's TL classes and cosines to equal
// the HF directory's bit for bit (the matrices are exact in the converter's float16).
func TestRMSNormGGUF(t *testing.T) {
	m := newRMSModel(2, 24, 40, 2)
	for _, c := range rmsCases {
		switch c.modelType {
		case "mistral", "qwen3", "gemma3_text": // not converted by ollama's converter from these classes
			continue
		}
		t.Run(c.modelType, func(t *testing.T) {
			dir := m.write(t, c.modelType, c.class, c.norm, c.plusOne)
			path := filepath.Join(t.TempDir(), "m.gguf")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := convert.ConvertModel(os.DirFS(dir), f); err != nil {
				t.Fatalf("%s: ollama convert: %v", c.modelType, err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			g := computeAt(t, path, TL)
			if g.Dims.Norm != RMSNorm {
				t.Fatalf("%s: GGUF dims %+v, want an RMSNorm model", c.modelType, g.Dims)
			}
			h := computeAt(t, dir, TL)
			g.Model, g.Format, g.Dims, g.Timing = h.Model, h.Format, h.Dims, h.Timing
			sameResult(t, c.modelType+": gguf vs hf", g, h)
		})
	}
}

// TestUnknownArchitecture: TL processing is refused, naming the file and the model type, for an
// architecture wcos does not know; raw weights work. A missing norm tensor is an error up front.
func TestUnknownArchitecture(t *testing.T) {
	m := newRMSModel(1, 8, 12, 3)
	dir := m.write(t, "olmo2", "Olmo2ForCausalLM", "post_feedforward_layernorm", false)
	src, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = Compute(src, DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), `"olmo2"`) || !strings.Contains(err.Error(), "--weights raw") {
		t.Fatalf("olmo2 with tl: error %v, want one naming the directory, the model type and --weights raw", err)
	}
	if _, err := RefactorSigns(dir, []int{0}); err == nil || !strings.Contains(err.Error(), "--refactor=false") {
		t.Fatalf("olmo2: RefactorSigns: error %v, want one pointing to --refactor=false", err)
	}
	o := DefaultOptions()
	o.Processing = Raw
	if _, err := Compute(src, o); err != nil {
		t.Fatalf("olmo2 with raw: %v", err)
	}

	bad := m.write(t, "llama", "LlamaForCausalLM", "input_layernorm", false)
	_, err = Open(bad)
	if err == nil || !strings.Contains(err.Error(), "post_attention_layernorm") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("llama without its MLP norm: error %v, want one line naming the tensor", err)
	}
}

// vanillaCases are the vanilla architectures as Hugging Face stores them (written out here, not read
// from hfLayouts, so that a wrong entry there fails): tensor names after a prefix, and whether in
// and out are stored [d_model, d_mlp] (GPT-2's Conv1D c_fc; every Linear's out) or [d_mlp, d_model].
var vanillaCases = []struct {
	modelType, prefix, in, out, norm string
	inDM, outDM                      bool
}{
	{"gpt2", "", "h.%d.mlp.c_fc.weight", "h.%d.mlp.c_proj.weight", "h.%d.ln_2.weight", true, false},
	{"gpt2", "transformer.", "h.%d.mlp.c_fc.weight", "h.%d.mlp.c_proj.weight", "h.%d.ln_2.weight", true, false},
	{"gpt_neox", "gpt_neox.", "layers.%d.mlp.dense_h_to_4h.weight", "layers.%d.mlp.dense_4h_to_h.weight", "layers.%d.post_attention_layernorm.weight", false, true},
	{"opt", "model.decoder.", "layers.%d.fc1.weight", "layers.%d.fc2.weight", "layers.%d.final_layer_norm.weight", false, true},
	{"opt", "decoder.", "layers.%d.fc1.weight", "layers.%d.fc2.weight", "layers.%d.final_layer_norm.weight", false, true},
	{"bloom", "transformer.", "h.%d.mlp.dense_h_to_4h.weight", "h.%d.mlp.dense_4h_to_h.weight", "h.%d.post_attention_layernorm.weight", false, true},
	{"bloom", "", "h.%d.mlp.dense_h_to_4h.weight", "h.%d.mlp.dense_4h_to_h.weight", "h.%d.post_attention_layernorm.weight", false, true},
	{"gptj", "transformer.", "h.%d.mlp.fc_in.weight", "h.%d.mlp.fc_out.weight", "h.%d.ln_1.weight", false, true},
	{"mingpt", "", "blocks.%d.mlp.0.weight", "blocks.%d.mlp.2.weight", "blocks.%d.ln2.weight", false, true},
}

// writeVanilla stores in and out (neuron-major [ff, d] per layer) and the LayerNorm weights g as case
// c's HF checkpoint.
func writeVanilla(t *testing.T, c int, in, out, g [][]float32, d, ff int, cfg map[string]any) string {
	t.Helper()
	vc := vanillaCases[c]
	tr := func(m []float32) []float32 { return transpose(m, ff, d) } // [ff, d] → [d, ff]
	var ts []safetensors.Tensor
	for l := range in {
		a, b := in[l], out[l]
		sa, sb := []int64{int64(ff), int64(d)}, []int64{int64(ff), int64(d)}
		if vc.inDM {
			a, sa = tr(a), []int64{int64(d), int64(ff)}
		}
		if vc.outDM {
			b, sb = tr(b), []int64{int64(d), int64(ff)}
		}
		ts = append(ts, safetensors.F32(vc.prefix+fmt.Sprintf(vc.in, l), sa, a), safetensors.F32(vc.prefix+fmt.Sprintf(vc.out, l), sb, b),
			safetensors.F32(vc.prefix+fmt.Sprintf(vc.norm, l), []int64{int64(d)}, g[l]))
	}
	dir := t.TempDir()
	if cfg == nil {
		cfg = map[string]any{}
	}
	cfg["model_type"] = vc.modelType
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestVanillaLayouts: GPT-2 (Conv1D, in stored [d, ff]), Pythia, OPT and BLOOM (Linear, out stored
// [d, ff]) under each name prefix. Planted neurons (w_out = ±w_in, w_in zero-mean, LayerNorm weight 1)
// come out strengthening and weakening with linout ±1, which a wrong transpose would scramble. With a
// random LayerNorm weight g and non-zero means, TL equals the same network with g multiplied into
// w_in (spec §1.3: fold, then centre w_in and w_out), and differs from the raw cosines.
func TestVanillaLayouts(t *testing.T) {
	const layers, d, ff = 2, 16, 24
	rng := rand.New(rand.NewPCG(8, 8))
	randm := func(n int, off float64) []float32 { return normals(rng, n, off) }
	var in, out, ones, g, prein, cin, cout [][]float32
	centred := func(m []float32) []float32 { // each row minus its mean, in float64
		c := make([]float32, len(m))
		for n := range ff {
			var mu float64
			for _, x := range m[n*d : (n+1)*d] {
				mu += float64(x)
			}
			mu /= d
			for k, x := range m[n*d : (n+1)*d] {
				c[n*d+k] = float32(float64(x) - mu)
			}
		}
		return c
	}
	for range layers {
		a, b := randm(ff*d, 0.2), randm(ff*d, -0.1)
		for k := range d { // neurons 0 and 1: zero-mean w_in, w_out = ±w_in
			x := float32(k%2*2 - 1)
			a[k], a[d+k], b[k], b[d+k] = x, x, x, -x
		}
		in, out = append(in, a), append(out, b)
		one, gl := make([]float32, d), randm(d, 1)
		for k := range one {
			one[k] = 1
		}
		ones, g = append(ones, one), append(g, gl)
		pa := slices.Clone(a)
		for i := range pa {
			pa[i] *= gl[i%d]
		}
		prein = append(prein, pa)
		cin, cout = append(cin, centred(pa)), append(cout, centred(b))
	}
	for ci, c := range vanillaCases {
		name := c.modelType + "/" + c.prefix
		r := computeAt(t, writeVanilla(t, ci, in, out, ones, d, ff, nil), TL)
		if r.Dims.NLayers != layers || r.Dims.DModel != d || r.Dims.DMLP != ff || r.Dims.Norm != LayerNorm {
			t.Fatalf("%s: dims %+v", name, r.Dims)
		}
		for l := range layers {
			s, w := r.Neurons[l*ff], r.Neurons[l*ff+1]
			if s.Class != Strengthening || w.Class != Weakening || math.Abs(s.LinOut-1) > 1e-12 || math.Abs(w.LinOut+1) > 1e-12 || !math.IsNaN(s.GateLin) {
				t.Fatalf("%s layer %d: planted neurons %+v, %+v; want strengthening and weakening, linout ±1", name, l, s, w)
			}
		}
		a := writeVanilla(t, ci, in, out, g, d, ff, nil)
		ra := computeAt(t, a, TL)
		sameResult(t, name+": tl vs prescaled tl", ra, computeAt(t, writeVanilla(t, ci, prein, out, ones, d, ff, nil), TL))
		raw := computeAt(t, a, Raw)
		// The fold and the centring done here: the raw cosines of those weights are TL's (up to their
		// rounding to float32).
		done := computeAt(t, writeVanilla(t, ci, cin, cout, ones, d, ff, nil), Raw)
		var diff, off float64
		for i, n := range raw.Neurons {
			diff = max(diff, math.Abs(n.LinOut-ra.Neurons[i].LinOut))
			off = max(off, math.Abs(done.Neurons[i].LinOut-ra.Neurons[i].LinOut))
		}
		if diff < 1e-2 {
			t.Fatalf("%s: TL and raw linout within %g: the test does not test the processing", name, diff)
		}
		if off > 1e-6 {
			t.Fatalf("%s: TL linout differs by %g from the raw linout of folded and centred weights", name, off)
		}
	}
	// OPT-350m normalises after the MLP: TL is refused, raw works.
	post := writeVanilla(t, 3, in, out, g, d, ff, map[string]any{"do_layer_norm_before": false}) // OPT
	src, err := Open(post)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := Compute(src, DefaultOptions()); err == nil || !strings.Contains(err.Error(), `"opt"`) {
		t.Errorf("post-LN OPT with tl: error %v", err)
	}
	o := DefaultOptions()
	o.Processing, o.Region = Raw, RegionNone
	if _, err := Compute(src, o); err != nil {
		t.Errorf("post-LN OPT with raw: %v", err)
	}
}

// concat is the model whose layers are m's, then n's.
func (m *rmsModel) concat(n *rmsModel) *rmsModel {
	return &rmsModel{layers: m.layers + n.layers, d: m.d, ff: m.ff, gate: slices.Concat(m.gate, n.gate),
		up: slices.Concat(m.up, n.up), down: slices.Concat(m.down, n.down), g: slices.Concat(m.g, n.g)}
}

// writeT5 stores enc and dec as a T5 checkpoint's encoder and decoder MLPs (names as Hugging Face's
// T5 writes them, spelled out here): with gated, v1.1's wi_0 (gate) and wi_1 (in), else v1.0's wi (up).
func writeT5(t *testing.T, enc, dec *rmsModel, gated bool) string {
	t.Helper()
	var ts []safetensors.Tensor
	d, ff := int64(enc.d), int64(enc.ff)
	for _, part := range []struct {
		p string
		m *rmsModel
	}{{"encoder.block.%d.layer.1.", enc}, {"decoder.block.%d.layer.2.", dec}} {
		for l := range part.m.layers {
			p := fmt.Sprintf(part.p, l)
			ts = append(ts, safetensors.F32(p+"DenseReluDense.wo.weight", []int64{d, ff}, part.m.down[l]),
				safetensors.F32(p+"layer_norm.weight", []int64{d}, part.m.g[l]))
			if gated {
				ts = append(ts, safetensors.F32(p+"DenseReluDense.wi_0.weight", []int64{ff, d}, part.m.gate[l]),
					safetensors.F32(p+"DenseReluDense.wi_1.weight", []int64{ff, d}, part.m.up[l]))
			} else {
				ts = append(ts, safetensors.F32(p+"DenseReluDense.wi.weight", []int64{ff, d}, part.m.up[l]))
			}
		}
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"model_type": "t5", "num_layers": %d, "num_decoder_layers": %d}`, enc.layers, dec.layers)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestT5 reads T5 checkpoints as TransformerLens's HookedEncoderDecoder stacks them, the encoder's
// layers then the decoder's (the reference's counts for t5-small sum to 12 layers × 2048), and folds
// the RMSNorm before each MLP into w_in (and Flan-T5's gate) like the gated RMSNorm models'. Gated T5
// must equal, bit for bit, the same layers written as one Llama checkpoint; v1.0's ReLU T5 must have
// the same linout (it does not depend on the gate) and vanilla classes.
func TestT5(t *testing.T) {
	enc, dec := newRMSModel(2, 16, 24, 11), newRMSModel(3, 16, 24, 12)
	llama := enc.concat(dec).write(t, "llama", "LlamaForCausalLM", "post_attention_layernorm", false)
	gated, relu := writeT5(t, enc, dec, true), writeT5(t, enc, dec, false)
	for _, proc := range []Processing{TL, Raw} {
		g := computeAt(t, gated, proc)
		if g.Dims.NLayers != 5 || g.Dims.Norm != RMSNorm || g.Dims.Arch != "t5" || g.Summary().Decoder != 2 {
			t.Fatalf("gated t5 (%s): dims %+v, want 5 RMSNorm layers, the decoder's from 2", proc, g.Dims)
		}
		sameResult(t, "gated t5 vs llama ("+string(proc)+")", g, computeAt(t, llama, proc))
		r := computeAt(t, relu, proc)
		if r.Dims.NLayers != 5 || len(r.Neurons) != len(g.Neurons) {
			t.Fatalf("relu t5 (%s): dims %+v, %d neurons", proc, r.Dims, len(r.Neurons))
		}
		for i, n := range r.Neurons {
			if n.LinOut != g.Neurons[i].LinOut || !math.IsNaN(n.GateLin) || !slices.Contains(VanillaClasses(), n.Class) {
				t.Fatalf("relu t5 (%s): neuron %d: %+v, want gated t5's linout %v and a vanilla class", proc, i, n, g.Neurons[i].LinOut)
			}
		}
	}
	if tl, raw := computeAt(t, relu, TL), computeAt(t, relu, Raw); tl.Neurons[0].LinOut == raw.Neurons[0].LinOut {
		t.Fatalf("relu t5: TL and raw linout equal (%v): the norm is not folded", tl.Neurons[0].LinOut)
	}
}

// TestBERT: BERT's intermediate.dense (in) and output.dense (out) give the same linout as the same
// matrices in a Llama checkpoint, under either prefix; its LayerNorm comes after the MLP, so TL is
// refused and raw works.
func TestBERT(t *testing.T) {
	m := newRMSModel(2, 16, 24, 13)
	want := computeAt(t, m.write(t, "llama", "LlamaForCausalLM", "post_attention_layernorm", false), Raw)
	for _, prefix := range []string{"bert.", ""} {
		var ts []safetensors.Tensor
		for l := range m.layers {
			p := fmt.Sprintf("%sencoder.layer.%d.", prefix, l)
			ts = append(ts, safetensors.F32(p+"intermediate.dense.weight", []int64{24, 16}, m.up[l]),
				safetensors.F32(p+"output.dense.weight", []int64{16, 24}, m.down[l]),
				safetensors.F32(p+"output.LayerNorm.weight", []int64{16}, m.g[l]))
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "bert", "num_hidden_layers": 2}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
			t.Fatal(err)
		}
		r := computeAt(t, dir, Raw)
		for i, n := range r.Neurons {
			if n.LinOut != want.Neurons[i].LinOut || !math.IsNaN(n.GateLin) {
				t.Fatalf("bert %q: neuron %d: %+v, want linout %v", prefix, i, n, want.Neurons[i].LinOut)
			}
		}
		src, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compute(src, DefaultOptions())
		src.Close()
		if err == nil || !strings.Contains(err.Error(), `"bert"`) || strings.Contains(err.Error(), " bert,") {
			t.Fatalf("bert %q with tl: error %v, want one naming bert as unknown to TL", prefix, err)
		}
	}
}

// TestVanillaGGUF: the vanilla architectures as llama.cpp's converter names them (ffn_up, ffn_down and
// the LayerNorm before the MLP: ffn_norm, GPT-J's attn_norm; spelled out here) give, bit for bit, the
// classes and cosines of the same weights as a Hugging Face checkpoint, under TL and raw. BERT's GGUF
// takes raw only.
func TestVanillaGGUF(t *testing.T) {
	const layers, d, ff = 2, 16, 24
	rng := rand.New(rand.NewPCG(9, 9))
	randm := func(n int, off float64) []float32 { return normals(rng, n, off) }
	var in, out, g [][]float32
	for range layers {
		in, out, g = append(in, randm(ff*d, 0.2)), append(out, randm(ff*d, -0.1)), append(g, randm(d, 1))
	}
	for _, c := range []struct {
		arch, norm string
		hfCase     int // the same architecture in vanillaCases; -1: none with TL
	}{{"gpt2", "ffn_norm", 0}, {"gptneox", "ffn_norm", 2}, {"bloom", "ffn_norm", 5}, {"gptj", "attn_norm", 7}, {"bert", "layer_output_norm", -1}} {
		var ts []mlpTensor
		for l := range layers {
			p := fmt.Sprintf("blk.%d.", l)
			ts = append(ts, mlpTensor{p + "ffn_up.weight", []int64{ff, d}, in[l]},
				mlpTensor{p + "ffn_down.weight", []int64{d, ff}, transpose(out[l], ff, d)},
				mlpTensor{p + c.norm + ".weight", []int64{d}, g[l]})
		}
		path := filepath.Join(t.TempDir(), c.arch+".gguf")
		writeArchGGUF(t, path, c.arch, layers, d, ff, ts)
		if c.hfCase < 0 {
			src, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compute(src, DefaultOptions())
			src.Close()
			if err == nil || !strings.Contains(err.Error(), `"bert"`) {
				t.Fatalf("%s gguf with tl: error %v, want one naming the architecture", c.arch, err)
			}
			r := computeAt(t, path, Raw)
			for l := range layers {
				for n := range ff {
					var io, ii, oo float64
					for k := range d {
						a, b := float64(in[l][n*d+k]), float64(out[l][n*d+k])
						io, ii, oo = io+a*b, ii+a*a, oo+b*b
					}
					if got, want := r.Neurons[l*ff+n].LinOut, io/math.Sqrt(ii*oo); math.Abs(got-want) > 1e-12 {
						t.Fatalf("%s gguf raw: layer %d neuron %d: linout %v, want %v", c.arch, l, n, got, want)
					}
				}
			}
			continue
		}
		hf := writeVanilla(t, c.hfCase, in, out, g, d, ff, nil)
		for _, proc := range []Processing{TL, Raw} {
			a, b := computeAt(t, path, proc), computeAt(t, hf, proc)
			if a.Dims.Norm != LayerNorm || a.Dims.NLayers != layers {
				t.Fatalf("%s gguf: dims %+v", c.arch, a.Dims)
			}
			sameResult(t, c.arch+" gguf vs hf ("+string(proc)+")", a, b)
		}
	}
}

// TestTorchStateDict: Othello-GPT's final.pth layout (minGPT), as torch 1.13 saved it in torchpt's test
// archive, opens without a config.json and gives, bit for bit, the classes and cosines of the same
// tensors (torch's own printout of them) in a Hugging Face directory of model type mingpt, under TL
// and raw. A state dict of no known layout is refused, naming the file.
func TestTorchStateDict(t *testing.T) {
	archive := torchfixture.Path("mingpt.pth")
	var ts []safetensors.Tensor
	for name, v := range torchfixture.Values(t, "mingpt.json") {
		ts = append(ts, safetensors.F32(name, v.Shape, v.Float32()))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "mingpt"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	for _, proc := range []Processing{TL, Raw} {
		a, h := computeAt(t, archive, proc), computeAt(t, dir, proc)
		if a.Format != "torch" || a.Dims.Arch != "mingpt" || a.Dims.NLayers != 2 || a.Dims.DModel != 8 || a.Dims.DMLP != 12 || a.Dims.Norm != LayerNorm {
			t.Fatalf("%s: format %s, dims %+v", proc, a.Format, a.Dims)
		}
		sameResult(t, "torch vs hf ("+string(proc)+")", a, h)
	}
	_, err := Open(torchfixture.Path("state.pth"))
	if err == nil || !strings.Contains(err.Error(), "state.pth") || !strings.Contains(err.Error(), "mingpt") {
		t.Fatalf("state dict of no known layout: error %v", err)
	}
}

// normals are n draws of N(off, 1) as float32.
func normals(rng *rand.Rand, n int, off float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() + off)
	}
	return v
}
