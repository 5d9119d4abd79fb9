package classes

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/convert"
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

// sameResult requires equal neuron rows (bit for bit) and equal exact regions.
func sameResult(t *testing.T, name string, a, b *Result) {
	t.Helper()
	if len(a.Neurons) != len(b.Neurons) {
		t.Fatalf("%s: %d vs %d neurons", name, len(a.Neurons), len(b.Neurons))
	}
	for i, x := range a.Neurons {
		if x != b.Neurons[i] {
			t.Fatalf("%s: neuron %d: %+v vs %+v", name, i, x, b.Neurons[i])
		}
	}
	for i, g := range a.Regions.Layers {
		if g != b.Regions.Layers[i] {
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
	if _, err := RefactorSigns(dir, []int{0}); err == nil {
		t.Fatal("olmo2: RefactorSigns gave signs without knowing the processing")
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
