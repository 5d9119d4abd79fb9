package convert

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/safetensors"
)

// TestLoadConverted loads every converted file with llama.cpp and checks its shape.
func TestLoadConverted(t *testing.T) {
	gqa := synthDir(t, gqaSpec)
	for _, m := range []testModel{tinyOLMo, untied, {name: "gqa", dir: gqa}} {
		for _, typ := range Types {
			t.Run(m.name+"/"+typ, func(t *testing.T) {
				path, _ := converted(t, m.name, m.dir, typ)
				ck := openHF(t, m.dir)
				c := &ck.Config
				mod, err := bindings.LoadModel(path, bindings.ModelOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close()
				got := []int{mod.VocabSize(), mod.NLayer(), mod.NEmbd(), mod.NFF(), int(mod.EOS())}
				want := []int{c.VocabSize, c.NumHiddenLayers, c.HiddenSize, c.IntermediateSize, *c.EOSTokenID}
				if mod.Arch() != "olmo" || !slices.Equal(got, want) {
					t.Errorf("arch %s, vocab/layers/embd/ff/eos %v, want olmo %v", mod.Arch(), got, want)
				}
			})
		}
	}
}

// TestTokenizerGolden tokenises the golden strings (made with the HF tokenizer, no special tokens)
// with llama.cpp on the converted vocabulary; engine.md §11: they match only with the token types
// of §11.
func TestTokenizerGolden(t *testing.T) {
	path, _ := converted(t, tinyOLMo.name, tinyOLMo.dir, "f32")
	b, err := os.ReadFile("../testdata/fixtures/tokenizer-golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	mod, err := bindings.LoadModel(path, bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	for _, g := range golden {
		ids, err := mod.Tokenize(g.Text)
		if err != nil || !slices.Equal(ids, g.IDs) {
			t.Errorf("%q: %v %v, want %v", g.Text, ids, err, g.IDs)
		}
	}
}

// TestLogitsMatchReference runs the converted models in llama.cpp's exact mode and compares logits
// with the Hugging Face float32 forward stored in the fixtures. A missing or reversed Q/K permutation
// is off by >4, a missing clamp_kqv by 0.03, a wrong LayerNorm epsilon by 0.01 (engine.md §11); the
// other bounds are about 3× the drift measured for each type.
func TestLogitsMatchReference(t *testing.T) {
	bounds := map[string]float64{"f32": 1e-3, "f16": 0.02, "bf16": 0.1, "q8_0": 0.5, "q4_k_m": 2}
	refs := map[string]string{
		tinyOLMo.name: "../testdata/fixtures/tiny-olmo-reference.safetensors",
		untied.name:   "../testdata/fixtures/untied-olmo-random-reference.safetensors",
	}
	for _, m := range []testModel{tinyOLMo, untied} {
		ref, err := safetensors.Open(refs[m.name])
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		tokens, err1 := ref.Int32("tokens")
		pos, err2 := ref.Int32("logits_pos")
		logits, err3 := ref.Float32("logits")
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		nseq := int(ref.Tensors["tokens"].Shape[0])
		seqLen := len(tokens) / nseq
		rows := make([][]int32, nseq)
		for s := range rows {
			rows[s] = tokens[s*seqLen : (s+1)*seqLen]
		}
		for _, typ := range Types {
			t.Run(m.name+"/"+typ, func(t *testing.T) {
				path, _ := converted(t, m.name, m.dir, typ)
				mod, err := bindings.LoadModel(path, bindings.ModelOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close()
				ctx, err := mod.NewContext(bindings.ContextOptions{MaxTokens: len(tokens), MaxRows: nseq, Threads: 2, Exact: true})
				if err != nil {
					t.Fatal(err)
				}
				defer ctx.Close()
				if err := ctx.Decode(rows); err != nil {
					t.Fatal(err)
				}
				nv := mod.VocabSize()
				var worst float64
				for s := range nseq {
					for k, p := range pos {
						got := ctx.Logits(s*seqLen + int(p))
						want := logits[(s*len(pos)+k)*nv : (s*len(pos)+k+1)*nv]
						for i := range want {
							worst = max(worst, math.Abs(float64(got[i]-want[i])))
						}
					}
				}
				t.Logf("%s %s: max |logit − HF| = %.3g", m.name, typ, worst)
				if worst > bounds[typ] {
					t.Errorf("%s %s: max |logit − HF| = %.3g > %g", m.name, typ, worst, bounds[typ])
				}
			})
		}
	}
}
