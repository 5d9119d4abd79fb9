package torchpt

import (
	"archive/zip"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/torchfixture"
	"github.com/wcos-dev/wcos/safetensors"
)

// values decodes raw little-endian elements of dtype as float64.
func values(t *testing.T, dtype string, raw []byte) []float64 {
	t.Helper()
	var out []float64
	switch dtype {
	case "I64":
		for i := 0; i < len(raw); i += 8 {
			var v int64
			for k := 7; k >= 0; k-- {
				v = v<<8 | int64(raw[i+k])
			}
			out = append(out, float64(v))
		}
	case "I32":
		for i := 0; i < len(raw); i += 4 {
			out = append(out, float64(int32(uint32(raw[i])|uint32(raw[i+1])<<8|uint32(raw[i+2])<<16|uint32(raw[i+3])<<24)))
		}
	case "U8", "BOOL":
		for _, b := range raw {
			out = append(out, float64(b))
		}
	case "F64":
		for i := 0; i < len(raw); i += 8 {
			var v uint64
			for k := 7; k >= 0; k-- {
				v = v<<8 | uint64(raw[i+k])
			}
			out = append(out, math.Float64frombits(v))
		}
	default:
		f, err := safetensors.ToFloat32(dtype, raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range f {
			out = append(out, float64(x))
		}
	}
	return out
}

// TestStateDict reads files torch 1.13 wrote (the zip format with pickle protocol 2, its default, and 4;
// the legacy format): every tensor's dtype,
// shape and values equal torch's own, bit for bit, including strided and offset views of one storage,
// a scalar, an empty tensor and an nn.Parameter; the non-tensor entry is skipped; order is kept.
func TestStateDict(t *testing.T) {
	ws := torchfixture.Values(t, "state.json")
	order := []string{"w", "w_t", "w_rows", "w_col", "f16", "bf16", "f64", "i64", "i32", "u8", "bool", "scalar", "empty", "param"}
	for _, file := range []string{"state.pth", "state_p4.pth", "legacy.pth"} {
		f, err := Open(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Names(); !slices.Equal(got, order) {
			t.Errorf("%s: names %v, want %v", file, got, order)
		}
		for name, w := range ws {
			info, err := f.Info(name)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if info.DType != w.DType || !slices.Equal(info.Shape, w.Shape) {
				t.Errorf("%s: %s: %s %v, want %s %v", file, name, info.DType, info.Shape, w.DType, w.Shape)
				continue
			}
			raw, err := f.Raw(name)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if got := values(t, w.DType, raw); !slices.Equal(got, w.Values) {
				t.Errorf("%s: %s: values %v, want %v", file, name, got, w.Values)
			}
		}
		if v, err := f.Float32("w_t"); err != nil || len(v) != 15 || float64(v[1]) != ws["w_t"].Values[1] {
			t.Errorf("%s: Float32(w_t) = %v, %v", file, v, err)
		}
		if _, err := f.Float32("i64"); err == nil {
			t.Errorf("%s: Float32 of an integer tensor: no error", file)
		}
		f.Close()
	}
}

// TestRefused: what is not a state dict archive is one line naming the file and the problem.
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(filepath.Join("testdata", "state.pth"))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile(filepath.Join("testdata", "legacy.pth"))
	if err != nil {
		t.Fatal(err)
	}
	// Archives rewritten from state.pth: storage 0 cut short (stored), or every entry compressed.
	rezip := func(name string, method uint16, cut bool) string {
		zr, err := zip.OpenReader(filepath.Join("testdata", "state.pth"))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		p := filepath.Join(dir, name)
		out, _ := os.Create(p)
		defer out.Close()
		zw := zip.NewWriter(out)
		for _, e := range zr.File {
			b, err := readEntry(e, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if cut && strings.HasSuffix(e.Name, "/data/0") {
				b = b[:len(b)/2]
			}
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: method})
			w.Write(b)
		}
		zw.Close()
		return p
	}
	short, compressed := rezip("short.pth", zip.Store, true), rezip("deflated.pth", zip.Deflate, false)
	cases := []struct{ name, path, want string }{
		{"a whole module", filepath.Join("testdata", "module.pth"), "refusing Python global torch.nn.modules.linear.Linear"},
		{"not a zip", write("junk.pth", []byte("hello")), "not a torch.save file"},
		{"truncated", write("trunc.pth", good[:len(good)/2]), "trunc.pth"},
		{"truncated legacy", write("trunc-legacy.pth", legacy[:len(legacy)-10]), "past the end"},
		{"short storage", short, "holds 30 bytes"},
		{"compressed storages", compressed, "not stored uncompressed"},
		{"missing", filepath.Join(dir, "nope.pth"), "nope.pth"},
	}
	for _, c := range cases {
		_, err := Open(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming the file and %q", c.name, err, c.want)
		}
	}
}

// TestDeepNesting: a pickle nested a million tuples deep is an error, not a crash (no pickled value
// is ever printed), and IsTorch tells both formats from other files.
func TestDeepNesting(t *testing.T) {
	b := append([]byte{0x80, 2, ')'}, bytes.Repeat([]byte{0x85}, 1<<20)...)
	if _, err := unpickle(append(b, 'Q', '.')); err == nil || !strings.Contains(err.Error(), "persistent id (a tuple)") {
		t.Fatalf("deep tuple as a persistent id: error %v", err)
	}
	for name, want := range map[string]bool{"state.pth": true, "legacy.pth": true, "state.json": false, "nope": false} {
		if got := IsTorch(filepath.Join("testdata", name)); got != want {
			t.Errorf("IsTorch(%s) = %v", name, got)
		}
	}
}

// FuzzUnpickle: any pickle either fails or gives a state dict whose tensors lie in their storages;
// never a panic. The seeds are the archives' own pickles.
func FuzzUnpickle(f *testing.F) {
	for _, name := range []string{"state.pth", "state_p4.pth", "mingpt.pth", "module.pth"} {
		zr, err := zip.OpenReader(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range zr.File {
			if strings.HasSuffix(e.Name, "data.pkl") {
				b, err := readEntry(e, 1<<20)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
		zr.Close()
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := unpickle(b)
		if err != nil {
			return
		}
		d, ok := v.(*dict)
		if !ok {
			return
		}
		for _, k := range d.keys {
			tt, ok := d.m[k].(*Tensor)
			if !ok {
				continue
			}
			last, n := tt.Offset, int64(1)
			for i, s := range tt.Shape {
				if s == 0 {
					n = 0
					break
				}
				last += (s - 1) * tt.Stride[i]
				n *= s
			}
			if n > 0 && (last >= tt.storage.numel || n > tt.storage.numel) {
				t.Fatalf("tensor %q shape %v stride %v offset %d outside a storage of %d", k, tt.Shape, tt.Stride, tt.Offset, tt.storage.numel)
			}
		}
	})
}

// FuzzOpen: any file either fails to open or gives tensors whose bytes can all be read, of the length
// their shape and dtype say; never a panic. Seeds: a zip archive and a legacy file.
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"state.pth", "legacy.pth"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.pth")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		tf, err := Open(p)
		if err != nil {
			return
		}
		defer tf.Close()
		for _, name := range tf.Names() {
			info, _ := tf.Info(name)
			raw, err := tf.Raw(name)
			if err != nil {
				continue
			}
			es, _ := safetensors.DTypeSize(info.DType)
			if int64(len(raw)) != info.NumElements()*es {
				t.Fatalf("%s: %d bytes for %v of %s", name, len(raw), info.Shape, info.DType)
			}
		}
	})
}
