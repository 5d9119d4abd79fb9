package convert

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wcos-dev/wcos/hf"
	"github.com/wcos-dev/wcos/safetensors"
)

// testModel is a checkpoint the tests convert.
type testModel struct {
	name, dir string
	tied      bool
	dtype     string
}

var (
	tinyOLMo = testModel{"tiny-olmo", "../models/tiny-olmo", true, "BF16"}
	untied   = testModel{"untied-olmo-random", "../testdata/fixtures/untied-olmo-random", false, "F16"}
)

var (
	scratchOnce sync.Once
	scratch     string
	convMu      sync.Mutex
	convCache   = map[string]convResult{}
)

type convResult struct {
	path string
	rep  Report
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if scratch != "" {
		os.RemoveAll(scratch)
	}
	os.Exit(code)
}

// converted converts dir to typ once per test binary and returns the GGUF; the conversions are shared
// by the format, load and logits tests.
func converted(t *testing.T, name, dir, typ string) (string, Report) {
	t.Helper()
	scratchOnce.Do(func() {
		var err error
		if scratch, err = os.MkdirTemp("", "wcos-convert-test-*"); err != nil {
			panic(err)
		}
	})
	key := name + "/" + typ
	convMu.Lock()
	defer convMu.Unlock()
	r, ok := convCache[key]
	if !ok {
		outDir := filepath.Join(scratch, name+"-"+typ)
		os.MkdirAll(outDir, 0o755)
		r.path = filepath.Join(outDir, "model.gguf")
		r.rep, r.err = Convert(dir, r.path, Options{Type: typ, Threads: 2})
		if r.err == nil {
			// Atomic output: the folder holds the result and nothing else (no temporaries).
			if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
				r.err = fmt.Errorf("output folder holds %d entries, want only model.gguf", len(ents))
			}
		}
		convCache[key] = r
	}
	if r.err != nil {
		t.Fatalf("%s → %s: %v", name, typ, r.err)
	}
	return r.path, r.rep
}

// synthSpec describes a random OLMo checkpoint written by writeSynth.
type synthSpec struct {
	layers, d, heads, kvHeads, ff, vocab int
	dtype                                string // F32, F16 or BF16
	tied                                 bool
	torchDType                           string            // config torch_dtype ("" omitted)
	skip                                 string            // HF tensor left out
	override                             map[string]string // HF tensor → dtype to store it in instead
	nan                                  string            // HF tensor whose first value is NaN
}

var gqaSpec = synthSpec{layers: 2, d: 32, heads: 4, kvHeads: 2, ff: 64, vocab: 320, dtype: "F32"}

// byteLevel returns GPT-2's byte-to-unicode mapping: the 256 single-byte tokens of a byte-level BPE.
func byteLevel() []string {
	var bs []int
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			bs = append(bs, b)
		}
	}
	out := make([]string, 256)
	in := map[int]bool{}
	for _, b := range bs {
		in[b] = true
		out[b] = string(rune(b))
	}
	n := 0
	for b := range 256 {
		if !in[b] {
			out[b] = string(rune(256 + n))
			n++
		}
	}
	return out
}

// synthTokenizer is a byte-level BPE of 256 byte tokens, two merges, <|endoftext|> (258, special)
// and a two-space user-defined token (259).
func synthTokenizer() map[string]any {
	vocab := map[string]int{}
	for i, s := range byteLevel() {
		vocab[s] = i
	}
	vocab["Ġt"], vocab["th"], vocab["<|endoftext|>"] = 256, 257, 258
	return map[string]any{
		"version": "1.0",
		"added_tokens": []map[string]any{
			{"id": 258, "content": "<|endoftext|>", "special": true, "normalized": false},
			{"id": 259, "content": "  ", "special": false, "normalized": true},
		},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"Ġ t", "t h"}},
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// encode stores float32 values as dtype.
func encode(dtype string, v []float32) []byte {
	switch dtype {
	case "F32":
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	case "F64":
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
		return b
	}
	b := make([]byte, 2*len(v))
	for i, x := range v {
		h := safetensors.F32ToF16(x)
		if dtype == "BF16" {
			h = f32ToBF16(x)
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b
}

// writeSynth writes a random OLMo-1 checkpoint (config, one safetensors file, tokenizer) into dir.
func writeSynth(t *testing.T, dir string, s synthSpec) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	hd := s.d / s.heads
	shapes := map[string][2]int{"model.embed_tokens.weight": {s.vocab, s.d}}
	if !s.tied {
		shapes["lm_head.weight"] = [2]int{s.vocab, s.d}
	}
	for l := range s.layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		shapes[p+"self_attn.q_proj.weight"] = [2]int{s.d, s.d}
		shapes[p+"self_attn.k_proj.weight"] = [2]int{s.kvHeads * hd, s.d}
		shapes[p+"self_attn.v_proj.weight"] = [2]int{s.kvHeads * hd, s.d}
		shapes[p+"self_attn.o_proj.weight"] = [2]int{s.d, s.d}
		shapes[p+"mlp.gate_proj.weight"] = [2]int{s.ff, s.d}
		shapes[p+"mlp.up_proj.weight"] = [2]int{s.ff, s.d}
		shapes[p+"mlp.down_proj.weight"] = [2]int{s.d, s.ff}
	}
	var ts []safetensors.Tensor
	for name, sh := range shapes {
		if name == s.skip {
			continue
		}
		v := make([]float32, sh[0]*sh[1])
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.1)
		}
		if name == s.nan {
			v[0] = float32(math.NaN())
		}
		dt := s.dtype
		if o, ok := s.override[name]; ok {
			dt = o
		}
		ts = append(ts, safetensors.Tensor{Name: name, DType: dt, Shape: []int64{int64(sh[0]), int64(sh[1])}, Data: encode(dt, v)})
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"architectures": []string{"OlmoForCausalLM"}, "model_type": "olmo", "hidden_act": "silu",
		"hidden_size": s.d, "intermediate_size": s.ff, "num_hidden_layers": s.layers,
		"num_attention_heads": s.heads, "num_key_value_heads": s.kvHeads, "max_position_embeddings": 128,
		"vocab_size": s.vocab, "rope_theta": 10000.0, "rope_scaling": nil, "clip_qkv": nil,
		"tie_word_embeddings": s.tied, "eos_token_id": 258, "pad_token_id": 258, "bos_token_id": nil,
	}
	if s.torchDType != "" {
		cfg["torch_dtype"] = s.torchDType
	}
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), synthTokenizer())
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"eos_token": "<|endoftext|>", "add_bos_token": false})
}

// synthDir writes a synthetic checkpoint into a fresh temporary folder.
func synthDir(t *testing.T, s synthSpec) string {
	dir := t.TempDir()
	writeSynth(t, dir, s)
	return dir
}

// openHF opens a checkpoint for comparisons.
func openHF(t *testing.T, dir string) *hf.Checkpoint {
	t.Helper()
	ck, err := hf.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	return ck
}

// tensorBytesAt reads a tensor's data from a GGUF file.
func tensorBytesAt(t *testing.T, path string, g *ggufFile, ti ggufTensor) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, ti.Size())
	if _, err := f.ReadAt(b, g.DataStart+ti.Offset); err != nil {
		t.Fatalf("%s: tensor %s: %v", path, ti.Name, err)
	}
	return b
}

// dequantQ8_0 decodes Q8_0 blocks (f16 scale, 32 int8) and returns the values and each value's scale.
func dequantQ8_0(b []byte) (vals, scales []float32) {
	for off := 0; off+34 <= len(b); off += 34 {
		d := safetensors.F16ToF32(binary.LittleEndian.Uint16(b[off:]))
		for i := range 32 {
			vals = append(vals, d*float32(int8(b[off+2+i])))
			scales = append(scales, d)
		}
	}
	return vals, scales
}
