package classes

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ollama/ollama/fs/ggml"

	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// mlpTensor is one tensor for the hand-written test files: HF (row-major) shape and values.
type mlpTensor struct {
	name  string
	shape []int64
	v     []float32
}

// randomMLP returns layers×3 tensors with HF names and shapes, gate/up [ff,d], down [d,ff].
func randomMLP(layers, d, ff int, seed uint64) []mlpTensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	var ts []mlpTensor
	for l := range layers {
		g, u, dn := GGUFMLPNames(l)
		for i, name := range []string{g, u, dn} {
			shape := []int64{int64(ff), int64(d)}
			if i == 2 {
				shape = []int64{int64(d), int64(ff)}
			}
			v := make([]float32, d*ff)
			for k := range v {
				v[k] = float32(rng.NormFloat64())
			}
			ts = append(ts, mlpTensor{name, shape, v})
		}
	}
	return ts
}

// writeGGUF writes F32 tensors (names as given) with olmo.* metadata through ollama's Go writer.
func writeGGUF(tb testing.TB, path string, layers, d, ff int, ts []mlpTensor) {
	writeArchGGUF(tb, path, "olmo", layers, d, ff, ts)
}

// writeArchGGUF writes F32 tensors with arch's metadata.
func writeArchGGUF(tb testing.TB, path, arch string, layers, d, ff int, ts []mlpTensor) {
	tb.Helper()
	kv := ggml.KV{"general.architecture": arch, arch + ".block_count": uint32(layers), arch + ".embedding_length": uint32(d),
		arch + ".feed_forward_length": uint32(ff)}
	var gts []*ggml.Tensor
	for _, t := range ts {
		shape := make([]uint64, len(t.shape))
		for i, s := range t.shape {
			shape[len(shape)-1-i] = uint64(s) // ggml ne order
		}
		gts = append(gts, testmodels.F32Tensor(t.name, shape, t.v))
	}
	testmodels.WriteGGUF(tb, path, kv, gts)
}

var (
	plantedOnce sync.Once
	plantedPath string
)

// plantedGGUF is a 2-layer random F32 GGUF (d_model 32, n_ff 64), written once per test binary.
func plantedGGUF(tb testing.TB) string {
	plantedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wcos-classes-gguf-*")
		if err != nil {
			tb.Fatal(err)
		}
		plantedPath = filepath.Join(dir, "planted.gguf")
		writeGGUF(tb, plantedPath, 2, 32, 64, randomMLP(2, 32, 64, 1))
	})
	return plantedPath
}

// TestGGUFReader: a hand-written F32 GGUF gives exactly the cosines of the same weights in memory.
func TestGGUFReader(t *testing.T) {
	ts := randomMLP(2, 32, 64, 1)
	src, err := Open(plantedGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if d := src.Dims(); d != (Dims{NLayers: 2, DModel: 32, DMLP: 64, Arch: "olmo"}) {
		t.Fatalf("dims %+v", d)
	}
	mem := &MemSource{Name: "mem", D: Dims{NLayers: 2, DModel: 32, DMLP: 64}, Layers: func(l int) (*LayerWeights, error) {
		return &LayerWeights{DMLP: 64, DModel: 32, Gate: ts[3*l].v, In: ts[3*l+1].v, Out: transpose(ts[3*l+2].v, 32, 64)}, nil
	}}
	o := DefaultOptions()
	a, err := Compute(src, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compute(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Neurons {
		if a.Neurons[i] != b.Neurons[i] {
			t.Fatalf("neuron %d: gguf %+v, memory %+v", i, a.Neurons[i], b.Neurons[i])
		}
	}
}

// TestGGUFGolden: tiny-olmo converted to F32 (and to its own BF16) GGUF gives the golden classes.
func TestGGUFGolden(t *testing.T) {
	g := loadGolden(t)
	for _, typ := range []string{"f32", "bf16"} {
		src, err := Open(testmodels.GGUF(t, testmodels.TinyDir(), typ))
		if err != nil {
			t.Fatal(err)
		}
		for _, proc := range []Processing{Raw, TL} {
			gr := &g.Raw
			if proc == TL {
				gr = &g.TL
			}
			o := DefaultOptions()
			o.Processing, o.Refactor = proc, false
			r, err := Compute(src, o)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, typ+"/"+string(proc), r, g, gr, true)
		}
		src.Close()
	}
}

// TestQuantizedClasses reports the fraction of neurons whose class changes when the model is
// quantised, against F32, for tiny-olmo and the untied random fixture.
func TestQuantizedClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("converts four models")
	}
	for _, dir := range []string{testmodels.TinyDir(), testmodels.UntiedDir()} {
		classify := func(typ string) *Result {
			src, err := Open(testmodels.GGUF(t, dir, typ))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			o := DefaultOptions()
			o.Region = RegionNone
			r, err := Compute(src, o)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		ref := classify("f32")
		for _, typ := range []string{"q8_0", "q4_k_m"} {
			q := classify(typ)
			diff := 0
			var maxd float64
			for i, n := range ref.Neurons {
				if q.Neurons[i].Class != n.Class {
					diff++
				}
				maxd = math.Max(maxd, math.Abs(q.Neurons[i].LinOut-n.LinOut))
			}
			frac := float64(diff) / float64(len(ref.Neurons))
			t.Logf("%s %s: %d of %d neurons (%.4f%%) change class vs f32; max |Δlinout| %.2e", filepath.Base(dir), typ, diff, len(ref.Neurons), 100*frac, maxd)
			if frac > 0.01 {
				t.Errorf("%s %s: %.2f%% of classes changed", filepath.Base(dir), typ, 100*frac)
			}
		}
	}
}

// TestBadModels: each bad input fails in Open or Compute with one line naming the file.
func TestBadModels(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hfDir := func(name string, ts []mlpTensor) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		write(filepath.Join(name, "config.json"), []byte(`{"architectures":["OlmoForCausalLM"],"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1}`))
		var st []safetensors.Tensor
		for _, t := range ts {
			name := strings.Replace(strings.Replace(strings.Replace(strings.Replace(t.name, "blk.0.", "model.layers.0.mlp.", 1),
				"ffn_gate", "gate_proj", 1), "ffn_up", "up_proj", 1), "ffn_down", "down_proj", 1)
			st = append(st, safetensors.F32(name, t.shape, t.v))
		}
		if err := safetensors.Write(filepath.Join(d, "model.safetensors"), st, nil); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := randomMLP(1, 8, 16, 3)
	badShape := randomMLP(1, 8, 16, 3)
	badShape[2].shape = []int64{16, 8} // down_proj transposed
	truncated, _ := os.ReadFile(plantedGGUF(t))
	noGate := filepath.Join(dir, "nogate.gguf")
	writeGGUF(t, noGate, 1, 8, 16, good[1:])
	shapeGGUF := filepath.Join(dir, "shape.gguf")
	writeGGUF(t, shapeGGUF, 1, 8, 16, badShape)
	cases := []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "nope.gguf"), "nope.gguf"},
		{"not a model", write("junk.bin", []byte("hello world, not a model")), "not a GGUF"},
		{"truncated gguf", write("trunc.gguf", truncated[:len(truncated)-100]), "trunc.gguf"},
		{"gguf without gate", noGate, "no gated MLP"},
		{"gguf shape mismatch", shapeGGUF, "shape"},
		{"hf without gate", hfDir("hf-nogate", good[1:]), "no gated MLP"},
		{"hf shape mismatch", hfDir("hf-shape", badShape), "shape"},
		{"directory without config", t.TempDir(), "config.json"},
	}
	for _, c := range cases {
		src, err := Open(c.path)
		if err == nil {
			_, err = Compute(src, DefaultOptions())
			src.Close()
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line mentioning %q", c.name, msg, c.want)
		}
		if !strings.Contains(msg, filepath.Base(c.path)) && !strings.Contains(msg, c.path) {
			t.Errorf("%s: error %q does not name %s", c.name, msg, c.path)
		}
	}
}
