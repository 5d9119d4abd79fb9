package convert

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/hf"
	"github.com/wcos-dev/wcos/safetensors"
)

// wantKind is what a GGUF value must be: its GGUF type and, for scalars, its value.
type wantKind struct {
	key string
	typ uint32
	val any // nil: only the type is checked
}

var fileTypes = map[string]uint32{"f32": 0, "f16": 1, "bf16": 32, "q8_0": 7, "q4_k_m": 15}

// TestConvertFormat converts the shipped checkpoints to every type and checks the GGUF against
// engine.md §5.2/§11 and the Hugging Face tensors.
func TestConvertFormat(t *testing.T) {
	for _, m := range []testModel{tinyOLMo, untied} {
		for _, typ := range Types {
			t.Run(m.name+"/"+typ, func(t *testing.T) {
				path, rep := converted(t, m.name, m.dir, typ)
				ck := openHF(t, m.dir)
				g, err := readGGUFFile(path)
				if err != nil {
					t.Fatal(err)
				}
				checkKeys(t, g, &ck.Config, typ)
				checkVocab(t, g, m.dir)
				checkTensors(t, path, g, ck, typ, rep)
				if rep.Tied != m.tied || rep.SourceDType != m.dtype || rep.Type != typ {
					t.Errorf("report %+v", rep)
				}
			})
		}
	}
}

// TestConvertGQA converts a random F32 checkpoint with 4 query and 2 key/value heads, so K is
// permuted per KV head, to every type.
func TestConvertGQA(t *testing.T) {
	dir := synthDir(t, gqaSpec)
	ck := openHF(t, dir)
	for _, typ := range Types {
		t.Run(typ, func(t *testing.T) {
			path, rep := converted(t, "gqa", dir, typ)
			g, err := readGGUFFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkKeys(t, g, &ck.Config, typ)
			checkTensors(t, path, g, ck, typ, rep)
			tokens, types := g.KV["tokenizer.ggml.tokens"].([]any), g.KV["tokenizer.ggml.token_type"].([]any)
			for id, want := range map[int]int32{0: tokenNormal, 257: tokenNormal, 258: tokenControl, 259: tokenUserDefined, 260: tokenUnused, 319: tokenUnused} {
				if types[id] != want {
					t.Errorf("token %d %q: type %v, want %d", id, tokens[id], types[id], want)
				}
			}
			if tokens[319] != "[PAD319]" || g.KV["tokenizer.ggml.bos_token_id"] != uint32(258) {
				t.Errorf("token 319 %q, bos %v", tokens[319], g.KV["tokenizer.ggml.bos_token_id"])
			}
		})
	}
}

// TestConvertDefaultType checks that no --type keeps the checkpoint's dtype.
func TestConvertDefaultType(t *testing.T) {
	for _, m := range []testModel{tinyOLMo, untied} {
		path, rep := converted(t, m.name, m.dir, "")
		g, err := readGGUFFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Type != strings.ToLower(m.dtype) || g.Tensors[0].Type != dtypeToGGML[m.dtype] {
			t.Errorf("%s: default type %s / %s, want %s", m.name, rep.Type, typeName(g.Tensors[0].Type), m.dtype)
		}
	}
}

func checkKeys(t *testing.T, g *ggufFile, c *hf.Config, typ string) {
	t.Helper()
	want := []wantKind{
		{"general.architecture", ggufString, "olmo"},
		{"general.file_type", ggufUint32, fileTypes[typ]},
		{"general.quantization_version", ggufUint32, uint32(2)},
		{"olmo.block_count", ggufUint32, uint32(c.NumHiddenLayers)},
		{"olmo.context_length", ggufUint32, uint32(c.MaxPositionEmbeddings)},
		{"olmo.embedding_length", ggufUint32, uint32(c.HiddenSize)},
		{"olmo.feed_forward_length", ggufUint32, uint32(c.IntermediateSize)},
		{"olmo.attention.head_count", ggufUint32, uint32(c.NumAttentionHeads)},
		{"olmo.attention.head_count_kv", ggufUint32, uint32(c.NumKeyValueHeads)},
		{"olmo.rope.freq_base", ggufFloat32, float32(c.RopeTheta)},
		{"olmo.attention.layer_norm_epsilon", ggufFloat32, float32(1e-5)},
		{"tokenizer.ggml.model", ggufString, "gpt2"},
		{"tokenizer.ggml.pre", ggufString, "olmo"},
		{"tokenizer.ggml.eos_token_id", ggufUint32, uint32(*c.EOSTokenID)},
		{"tokenizer.ggml.bos_token_id", ggufUint32, uint32(*c.EOSTokenID)}, // no bos in config: eos (§11)
		{"tokenizer.ggml.padding_token_id", ggufUint32, uint32(*c.PadTokenID)},
		{"tokenizer.ggml.add_bos_token", ggufBool, false},
		{"tokenizer.ggml.add_eos_token", ggufBool, false},
		{"tokenizer.ggml.tokens", ggufArray, nil},
		{"tokenizer.ggml.token_type", ggufArray, nil},
		{"tokenizer.ggml.merges", ggufArray, nil},
	}
	if c.ClipQKV != nil {
		want = append(want, wantKind{"olmo.attention.clamp_kqv", ggufFloat32, float32(*c.ClipQKV)})
	} else if _, ok := g.KV["olmo.attention.clamp_kqv"]; ok {
		t.Errorf("clamp_kqv written without clip_qkv")
	}
	for _, w := range want {
		got, ok := g.KV[w.key]
		switch {
		case !ok:
			t.Errorf("key %s missing", w.key)
		case g.KVType[w.key] != w.typ:
			t.Errorf("key %s has GGUF type %d, want %d", w.key, g.KVType[w.key], w.typ)
		case w.val != nil && got != w.val:
			t.Errorf("key %s = %v (%T), want %v (%T)", w.key, got, got, w.val, w.val)
		}
	}
	for key, et := range map[string]uint32{"tokenizer.ggml.tokens": ggufString, "tokenizer.ggml.token_type": ggufInt32, "tokenizer.ggml.merges": ggufString} {
		if g.ArrayType[key] != et {
			t.Errorf("array %s has element type %d, want %d", key, g.ArrayType[key], et)
		}
	}
	if n := len(g.KV["tokenizer.ggml.tokens"].([]any)); n != c.VocabSize {
		t.Errorf("%d tokens, want vocab_size %d", n, c.VocabSize)
	}
	if n := len(g.KV["tokenizer.ggml.token_type"].([]any)); n != c.VocabSize {
		t.Errorf("%d token types, want vocab_size %d", n, c.VocabSize)
	}
}

// checkVocab checks the GPT-NeoX vocabulary of the shipped checkpoints against engine.md §11.
func checkVocab(t *testing.T, g *ggufFile, dir string) {
	t.Helper()
	tok, err := hf.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokens, types := g.KV["tokenizer.ggml.tokens"].([]any), g.KV["tokenizer.ggml.token_type"].([]any)
	for id := range tokens {
		want := tokenNormal
		switch {
		case id <= 1: // <|endoftext|>, <|padding|>
			want = tokenControl
		case id >= 50254 && id <= 50276: // whitespace runs, added but not special
			want = tokenUserDefined
		case id >= 50277:
			want = tokenUnused
			if tokens[id] != fmt.Sprintf("[PAD%d]", id) {
				t.Errorf("token %d = %q, want [PAD%d]", id, tokens[id], id)
			}
		}
		if types[id] != want {
			t.Errorf("token %d %q: type %v, want %d", id, tokens[id], types[id], want)
		}
	}
	for s, id := range tok.Vocab {
		if tokens[id] != s {
			t.Fatalf("token %d = %q, want %q", id, tokens[id], s)
		}
	}
	if tokens[0] != "<|endoftext|>" || tokens[50276] != "  " || tokens[50254] != strings.Repeat(" ", 24) {
		t.Errorf("tokens 0, 50276, 50254 = %q, %q, %q", tokens[0], tokens[50276], tokens[50254])
	}
	merges := g.KV["tokenizer.ggml.merges"].([]any)
	if len(merges) != len(tok.Merges) || merges[0] != "Ġ Ġ" || merges[len(merges)-1] != tok.Merges[len(tok.Merges)-1] {
		t.Errorf("%d merges, first %q; want %d, %q", len(merges), merges[0], len(tok.Merges), tok.Merges[0])
	}
}

// hfToGGUF maps each HF tensor name to its GGUF name.
func hfToGGUF(c *hf.Config) map[string]string {
	m := map[string]string{"model.embed_tokens.weight": "token_embd.weight"}
	if !c.TieWordEmbeddings {
		m["lm_head.weight"] = "output.weight"
	}
	for l := range c.NumHiddenLayers {
		for hfn, gn := range map[string]string{
			"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
			"self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
		} {
			m[fmt.Sprintf("model.layers.%d.%s.weight", l, hfn)] = fmt.Sprintf("blk.%d.%s.weight", l, gn)
		}
	}
	return m
}

// srcRow is the HF row that GGUF row r of a Q (heads = n_head) or K (heads = n_kv_head) matrix
// holds: in each head of hd rows, GGUF row 2i+j is HF row j·hd/2+i (engine.md §5.2).
func srcRow(r, rows, heads int) int {
	hd := rows / heads
	h, k := r/hd, r%hd
	return h*hd + (k%2)*(hd/2) + k/2
}

func checkTensors(t *testing.T, path string, g *ggufFile, ck *hf.Checkpoint, typ string, rep Report) {
	t.Helper()
	c := &ck.Config
	names := hfToGGUF(c)
	if len(g.Tensors) != len(names) || rep.Tensors != len(names) {
		t.Errorf("%d tensors (report %d), want %d", len(g.Tensors), rep.Tensors, len(names))
	}
	byName := map[string]ggufTensor{}
	for _, ti := range g.Tensors {
		byName[ti.Name] = ti
	}
	block := outTypes[typ].block
	var wantKept []string
	for hfName, name := range names {
		ti, ok := byName[name]
		if !ok {
			t.Errorf("tensor %s (from %s) missing", name, hfName)
			continue
		}
		info, _ := ck.Info(hfName)
		rows, cols := int(info.Shape[0]), int(info.Shape[1])
		if !slices.Equal(ti.Dims, []uint64{uint64(cols), uint64(rows)}) {
			t.Errorf("%s: dims %v, want the reversed HF shape [%d %d]", name, ti.Dims, cols, rows)
		}
		if ti.Offset%alignment != 0 {
			t.Errorf("%s: offset %d not %d-aligned", name, ti.Offset, alignment)
		}
		kept := block > 1 && int64(cols)%block != 0
		if kept {
			wantKept = append(wantKept, name)
		}
		var okType bool
		switch {
		case block == 1:
			okType = ti.Type == outTypes[typ].ggml
		case kept:
			okType = ti.Type == typeF16
		case typ == "q8_0":
			okType = ti.Type == typeQ8_0
		default: // q4_k_m mixes Q4_K and Q6_K
			okType = ti.Type == typeQ4_K || ti.Type == typeQ6_K
		}
		if !okType {
			t.Errorf("%s: type %s for --type %s (row length %d, kept F16: %v)", name, typeName(ti.Type), typ, cols, kept)
			continue
		}
		heads := 0
		switch {
		case strings.HasSuffix(name, "attn_q.weight"):
			heads = c.NumAttentionHeads
		case strings.HasSuffix(name, "attn_k.weight"):
			heads = kvHeads(c)
		}
		checkData(t, path, g, ti, ck, hfName, rows, cols, heads)
	}
	slices.Sort(wantKept)
	gotKept := slices.Sorted(slices.Values(rep.KeptF16))
	if !slices.Equal(gotKept, wantKept) {
		t.Errorf("report keeps %v in F16, want %v", gotKept, wantKept)
	}
}

// checkData compares a GGUF tensor with the HF one, row-permuted for Q and K: bit-exact for F32, F16
// and BF16 (HF values rounded to nearest-even), within half a quantisation step for Q8_0.
func checkData(t *testing.T, path string, g *ggufFile, ti ggufTensor, ck *hf.Checkpoint, hfName string, rows, cols, heads int) {
	t.Helper()
	hfv, _, err := ck.Float32(hfName)
	if err != nil {
		t.Fatal(err)
	}
	raw := tensorBytesAt(t, path, g, ti)
	var got, scale []float32
	switch ti.Type {
	case typeF32:
		got, _ = safetensors.ToFloat32("F32", raw)
	case typeF16:
		got, _ = safetensors.ToFloat32("F16", raw)
	case typeBF16:
		got, _ = safetensors.ToFloat32("BF16", raw)
	case typeQ8_0:
		got, scale = dequantQ8_0(raw)
	default:
		return // K-quants: checked by loading and running the model
	}
	round := map[uint32]func(float32) float32{
		typeF32:  func(x float32) float32 { return x },
		typeF16:  func(x float32) float32 { return safetensors.F16ToF32(safetensors.F32ToF16(x)) },
		typeBF16: func(x float32) float32 { return math.Float32frombits(uint32(f32ToBF16(x)) << 16) },
	}[ti.Type]
	for r := range rows {
		src := r
		if heads > 0 {
			src = srcRow(r, rows, heads)
		}
		for c := range cols {
			want, v := hfv[src*cols+c], got[r*cols+c]
			if scale != nil {
				if d := math.Abs(float64(v - want)); d > 0.6*math.Abs(float64(scale[r*cols+c]))+1e-7 {
					t.Fatalf("%s row %d col %d: Q8_0 %g vs HF %s row %d %g (scale %g)", ti.Name, r, c, v, hfName, src, want, scale[r*cols+c])
				}
				continue
			}
			if math.Float32bits(v) != math.Float32bits(round(want)) {
				t.Fatalf("%s row %d col %d: %g, want HF %s row %d = %g", ti.Name, r, c, v, hfName, src, round(want))
			}
		}
	}
}

func TestPermuteRows(t *testing.T) {
	// 2 heads of 4 rows, one byte per row: HF rows [a0 a1 b0 b1] per head become [a0 b0 a1 b1].
	in := []byte{0, 1, 2, 3, 4, 5, 6, 7}
	want := []byte{0, 2, 1, 3, 4, 6, 5, 7}
	if got := permuteRows(in, 8, 2); !slices.Equal(got, want) {
		t.Errorf("permuteRows = %v, want %v", got, want)
	}
	for _, c := range []struct{ rows, heads int }{{8, 2}, {64, 4}, {256, 8}, {16, 2}} {
		in := make([]byte, c.rows)
		for i := range in {
			in[i] = byte(i)
		}
		got := permuteRows(in, int64(c.rows), c.heads)
		for r := range got {
			if int(got[r]) != srcRow(r, c.rows, c.heads) {
				t.Fatalf("rows %d heads %d: row %d holds %d, want %d", c.rows, c.heads, r, got[r], srcRow(r, c.rows, c.heads))
			}
		}
	}
}
