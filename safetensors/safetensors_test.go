package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	f32 := []float32{1, -2.5, float32(math.Inf(1)), 0}
	err := Write(p, []Tensor{
		F32("a", []int64{2, 2}, f32), I32("b", []int64{3}, []int32{-1, 0, 7}), F64("c", []int64{1}, []float64{math.Pi}),
		I64("d", []int64{2}, []int64{-5, 1 << 40}), U64("e", []int64{1}, []uint64{math.MaxUint64}), I8("f", []int64{2}, []int8{-1, 1}),
	}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := f.Float32("a"); !equal(got, f32) {
		t.Errorf("a: %v", got)
	}
	if got, _ := f.Int32("b"); len(got) != 3 || got[0] != -1 || got[2] != 7 {
		t.Errorf("b: %v", got)
	}
	if got, _ := f.Float64("c"); got[0] != math.Pi {
		t.Errorf("c: %v", got)
	}
	if got, _ := f.Int64("d"); got[1] != 1<<40 {
		t.Errorf("d: %v", got)
	}
	if got, _ := f.Int64("f"); got[0] != -1 {
		t.Errorf("f: %v", got)
	}
	if f.Metadata["k"] != "v" || strings.Join(f.Names(), ",") != "a,b,c,d,e,f" {
		t.Errorf("metadata %v names %v", f.Metadata, f.Names())
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestF16(t *testing.T) {
	cases := map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x0001: 5.960464477539063e-08, 0x7bff: 65504, 0x0000: 0}
	for h, want := range cases {
		if got := F16ToF32(h); got != want {
			t.Errorf("%#04x: %g, want %g", h, got, want)
		}
	}
	if !math.IsInf(float64(F16ToF32(0x7c00)), 1) || !math.IsNaN(float64(F16ToF32(0x7e00))) {
		t.Error("inf/nan")
	}
}

func TestBadFiles(t *testing.T) {
	good, _ := Encode([]Tensor{F32("a", []int64{2}, []float32{1, 2})}, nil)
	hdr := func(json string) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(json)))
		b.WriteString(json)
		b.Write(make([]byte, 8))
		return b.Bytes()
	}
	cases := map[string]struct {
		data []byte
		err  string
	}{
		"empty":          {nil, "no header length"},
		"truncated data": {good[:len(good)-3], "truncated"},
		"huge header":    {[]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, "header length"},
		"bad json":       {hdr("{"), "bad safetensors header"},
		"bad dtype":      {hdr(`{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}`), "unsupported dtype"},
		"shape mismatch": {hdr(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`), "needs 12 bytes"},
		"past end":       {hdr(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`), "truncated"},
	}
	dir := t.TempDir()
	for name, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, c.data, 0o644)
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", name, err, c.err)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := Encode([]Tensor{F32("a", []int64{2}, []float32{1, 2}), I32("b", []int64{1}, []int32{3})}, map[string]string{"x": "y"})
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, ti := range sf.Tensors {
			if ti.Begin < 8 || ti.End > int64(len(data)) || ti.End < ti.Begin {
				t.Fatalf("accepted out-of-file tensor %+v", ti)
			}
		}
	})
}
