package convert

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/safetensors"
)

func TestGGUFRoundTrip(t *testing.T) {
	kvs := []kv{
		{"general.architecture", "olmo"},
		{"olmo.block_count", uint32(8)},
		{"olmo.attention.layer_norm_epsilon", float32(1e-5)},
		{"tokenizer.ggml.add_bos_token", false},
		{"tokenizer.ggml.tokens", []string{"a", "", "ĠĠ"}},
		{"tokenizer.ggml.token_type", []int32{1, 5, -3}},
		{"x.signed", int32(-7)},
	}
	data := [][]byte{bytes.Repeat([]byte{1}, 3*2*4), bytes.Repeat([]byte{2}, 34*2)}
	ts := []tensorOut{
		{Name: "a.weight", Type: typeF32, Dims: []uint64{3, 2}, Size: 24, Write: func(w io.Writer) error { _, err := w.Write(data[0]); return err }},
		{Name: "b.weight", Type: typeQ8_0, Dims: []uint64{32, 2}, Size: 68, Write: func(w io.Writer) error { _, err := w.Write(data[1]); return err }},
	}
	var buf bytes.Buffer
	if err := writeGGUF(&buf, kvs, ts); err != nil {
		t.Fatal(err)
	}
	g, err := readGGUF(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []uint32{ggufString, ggufUint32, ggufFloat32, ggufBool, ggufArray, ggufArray, ggufInt32}
	for i, p := range kvs {
		if g.Keys[i] != p.Key || g.KVType[p.Key] != wantTypes[i] {
			t.Errorf("key %d: %s type %d, want %s type %d", i, g.Keys[i], g.KVType[p.Key], p.Key, wantTypes[i])
		}
	}
	if g.KV["olmo.block_count"] != uint32(8) || g.KV["olmo.attention.layer_norm_epsilon"] != float32(1e-5) || g.KV["x.signed"] != int32(-7) {
		t.Errorf("scalars: %v", g.KV)
	}
	if tt := g.KV["tokenizer.ggml.token_type"].([]any); g.ArrayType["tokenizer.ggml.token_type"] != ggufInt32 || tt[2] != int32(-3) {
		t.Errorf("token_type %v (element type %d)", tt, g.ArrayType["tokenizer.ggml.token_type"])
	}
	if g.DataStart%alignment != 0 || int64(buf.Len()) != g.DataStart+pad(24)+68+(pad(68)-68) {
		t.Errorf("data at %d, file %d bytes", g.DataStart, buf.Len())
	}
	for i, ti := range g.Tensors {
		got := buf.Bytes()[g.DataStart+ti.Offset : g.DataStart+ti.Offset+ti.Size()]
		if ti.Name != ts[i].Name || !slices.Equal(ti.Dims, ts[i].Dims) || ti.Type != ts[i].Type || !bytes.Equal(got, data[i]) {
			t.Errorf("tensor %d: %+v", i, ti)
		}
		if string(buf.Bytes()[ti.NameAt:ti.NameAt+int64(len(ti.Name))]) != ti.Name {
			t.Errorf("tensor %d: NameAt %d does not point at its name", i, ti.NameAt)
		}
	}
}

func TestGGUFWriterRejects(t *testing.T) {
	ok := func(w io.Writer) error { _, err := w.Write(make([]byte, 8)); return err }
	cases := []struct {
		name string
		kvs  []kv
		ts   []tensorOut
		want string
	}{
		{"untyped int", []kv{{"olmo.block_count", 8}}, nil, "unsupported metadata type int"},
		{"float64", []kv{{"olmo.rope.freq_base", 1e4}}, nil, "unsupported metadata type float64"},
		{"size mismatch", nil, []tensorOut{{Name: "t", Type: typeF32, Dims: []uint64{3}, Size: 8, Write: ok}}, "needs 12 bytes"},
		{"row not whole blocks", nil, []tensorOut{{Name: "t", Type: typeQ8_0, Dims: []uint64{16}, Size: 8, Write: ok}}, "needs 0 bytes"},
		{"short data", nil, []tensorOut{{Name: "t", Type: typeF32, Dims: []uint64{4}, Size: 16, Write: ok}}, "wrote 8 bytes, expected 16"},
	}
	for _, c := range cases {
		err := writeGGUF(io.Discard, c.kvs, c.ts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestReadGGUFCorrupt(t *testing.T) {
	var buf bytes.Buffer
	writeGGUF(&buf, []kv{{"general.architecture", "olmo"}, {"tokenizer.ggml.tokens", []string{"a", "b"}}}, nil)
	full := buf.Bytes()
	g, err := readGGUF(bytes.NewReader(full))
	if err != nil || g.HeaderSize >= int64(len(full)) {
		t.Fatalf("%v; header %d of %d bytes", err, g.HeaderSize, len(full))
	}
	for n := range int(g.HeaderSize) {
		if _, err := readGGUF(bytes.NewReader(full[:n])); err == nil {
			t.Fatalf("a header cut at %d of %d bytes parsed", n, len(full))
		}
	}
	bad := slices.Clone(full)
	bad[0] = 'X'
	if _, err := readGGUF(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "not a GGUF") {
		t.Errorf("bad magic: %v", err)
	}
}

func FuzzReadGGUF(f *testing.F) {
	var buf bytes.Buffer
	writeGGUF(&buf, []kv{{"a", uint32(1)}, {"b", []string{"x"}}, {"c", []int32{1}}}, []tensorOut{
		{Name: "t", Type: typeF16, Dims: []uint64{2, 2}, Size: 8, Write: func(w io.Writer) error { _, err := w.Write(make([]byte, 8)); return err }}})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := readGGUF(bytes.NewReader(b))
		if err == nil && g.DataStart > int64(len(b))+alignment {
			t.Fatalf("data start %d beyond %d bytes", g.DataStart, len(b))
		}
	})
}

func TestF32ToF16(t *testing.T) {
	// Every finite half survives the round trip half → float32 → half.
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN
		}
		if got := safetensors.F32ToF16(safetensors.F16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("half %#04x → %#04x", h, got)
		}
	}
	cases := []struct {
		in   float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},             // tie, even below
		{1 + 3.0/2048, 0x3c02},             // tie, even above
		{1 + 1.0/2048 + 1.0/65536, 0x3c01}, // just over the tie
		{65504, 0x7bff},
		{65520, 0x7c00}, // rounds to Inf
		{-1e9, 0xfc00},
		{0x1p-24, 0x0001}, // smallest subnormal
		{0x1p-25, 0x0000}, // tie to even: zero
		{0x1.8p-25, 0x0001},
		{0x1p-26, 0x0000},
		{0x1.ffcp-15, 0x0400}, // largest subnormal rounds up into the smallest normal
		{float32(math.Inf(-1)), 0xfc00},
		{float32(math.Copysign(0, -1)), 0x8000},
	}
	for _, c := range cases {
		if got := safetensors.F32ToF16(c.in); got != c.want {
			t.Errorf("safetensors.F32ToF16(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if h := safetensors.F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN → %#04x", h)
	}
	// Random values: the result is a nearest half.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		x := float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(40)-25)))
		h := safetensors.F32ToF16(x)
		got := float64(safetensors.F16ToF32(h))
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7c00 == 0x7c00 || (nb^h)&0x8000 != 0 {
				continue
			}
			if alt := float64(safetensors.F16ToF32(nb)); math.Abs(alt-float64(x)) < math.Abs(got-float64(x)) {
				t.Fatalf("safetensors.F32ToF16(%g) = %g, but %g is nearer", x, got, alt)
			}
		}
	}
}

func TestF32ToBF16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, even above
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
		{0x7f800000, 0x7f80},
	}
	for _, c := range cases {
		if got := f32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("f32ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if h := f32ToBF16(math.Float32frombits(0x7f800001)); h&0x7f80 != 0x7f80 || h&0x7f == 0 {
		t.Errorf("NaN → %#04x", h)
	}
}
