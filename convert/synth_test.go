package convert

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
)

func TestSynthetic(t *testing.T) {
	dir := t.TempDir()
	o := SynthOptions{Layers: 2, DModel: 256, DMLP: 512, Heads: 4, Vocab: 50304, ClipQKV: 8, Type: "f16", Seed: 7,
		TokenizerDir: tinyOLMo.dir}
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	o.Threads = 1
	rep, err := Synthetic(a, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Threads = 3
	if _, err := Synthetic(b, o); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("the file depends on the number of threads")
	}
	if rep.Tensors != 2+2*7 || rep.TypeCounts["F16"] != rep.Tensors {
		t.Errorf("report %+v", rep)
	}

	m, err := bindings.LoadModel(a, bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.NLayer() != 2 || m.NEmbd() != 256 || m.NFF() != 512 || m.VocabSize() != 50304 {
		t.Fatalf("shape: %d layers, d %d, ff %d, vocab %d", m.NLayer(), m.NEmbd(), m.NFF(), m.VocabSize())
	}
	if toks, err := m.Tokenize("Hello world"); err != nil || len(toks) != 2 {
		t.Errorf("tokenize: %v %v", toks, err)
	}
	g, err := bindings.OpenGGUF(a)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	v, _, err := g.Float32("blk.1.ffn_up.weight")
	if err != nil {
		t.Fatal(err)
	}
	var s, s2 float64
	for _, x := range v {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	mean, std := s/float64(len(v)), math.Sqrt(s2/float64(len(v)))
	if math.Abs(mean) > 1e-3 || math.Abs(std-0.02) > 1e-3 {
		t.Errorf("weights: mean %.3g, std %.4g (want 0, 0.02)", mean, std)
	}

	q := filepath.Join(dir, "q.gguf")
	qr, err := Synthetic(q, SynthOptions{Type: "q4_k_m", From: a})
	if err != nil {
		t.Fatal(err)
	}
	if qr.TypeCounts["Q4_K"] == 0 {
		t.Errorf("q4_k_m: types %v", qr.TypeCounts)
	}
	if _, err := Synthetic(q, SynthOptions{Type: "f16", From: a}); err == nil {
		t.Error("--from with f16 accepted")
	}
}
