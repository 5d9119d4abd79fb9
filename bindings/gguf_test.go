package bindings_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hf"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

func TestMatMulNT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {64, 48, 256}, {130, 70, 33}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b := make([]float32, m*k), make([]float32, n*k)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		c, err := bindings.MatMulNT(a, m, b, n, k, nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			for j := range n {
				var want float64
				for x := range k {
					want += float64(a[i*k+x]) * float64(b[j*k+x])
				}
				if d := math.Abs(float64(c[i*n+j]) - want); d > 1e-5*math.Sqrt(float64(k))*4 {
					t.Fatalf("%v: c[%d,%d] = %v, want %v", sz, i, j, c[i*n+j], want)
				}
			}
		}
	}
	if _, err := bindings.MatMulNT(nil, 0, nil, 1, 1, nil, 1); err == nil {
		t.Error("empty product accepted")
	}
}

// TestReadGGUFTensors: the F32 and BF16 conversions of tiny-olmo read back exactly the checkpoint's
// MLP weights (bf16 → f32 is exact), with HF row-major shapes; metadata gives the dimensions.
func TestReadGGUFTensors(t *testing.T) {
	ck, err := hf.Open(testmodels.TinyDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for _, typ := range []string{"f32", "bf16", "q8_0"} {
		path := testmodels.GGUF(t, testmodels.TinyDir(), typ)
		names := []string{"blk.1.ffn_gate.weight", "blk.1.ffn_up.weight", "blk.1.ffn_down.weight"}
		data, shapes, err := bindings.ReadGGUFTensors(path, names)
		if err != nil {
			t.Fatal(err)
		}
		for i, hn := range []string{"model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight"} {
			want, wshape, err := ck.Float32(hn)
			if err != nil {
				t.Fatal(err)
			}
			got := data[names[i]]
			if len(shapes[names[i]]) != 2 || shapes[names[i]][0] != wshape[0] || shapes[names[i]][1] != wshape[1] {
				t.Fatalf("%s %s: shape %v, want %v", typ, names[i], shapes[names[i]], wshape)
			}
			var maxd float64
			for k := range want {
				maxd = math.Max(maxd, math.Abs(float64(got[k]-want[k])))
			}
			tol := 0.0
			if typ == "q8_0" {
				tol = 2e-3 // Q8_0 rounding of gate/up; ffn_down stays F16 (rows of 688)
			}
			if maxd > tol {
				t.Errorf("%s %s: max |diff| %g > %g", typ, names[i], maxd, tol)
			}
		}
		g2, err := bindings.OpenGGUF(path)
		if err != nil {
			t.Fatal(err)
		}
		dims, err := g2.Dims()
		if err != nil || dims.Arch != "olmo" || dims.NLayer != 8 || dims.DModel != 256 || dims.NFF != 688 {
			t.Errorf("%s: dims %+v %v", typ, dims, err)
		}
		if _, _, err := g2.Float32("blk.99.ffn_up.weight"); err == nil {
			t.Error("missing tensor read")
		}
		g2.Close()
	}
}

// FuzzOpenGGUF: arbitrary bytes either fail to open with an error or open and read without crashing.
func FuzzOpenGGUF(f *testing.F) {
	f.Add([]byte("GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("nope"))
	if b, err := os.ReadFile(testmodels.GGUF(f, testmodels.UntiedDir(), "f32")); err == nil {
		for _, n := range []int{4, 32, 300, 5000, len(b) - 1} {
			f.Add(b[:n])
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.gguf")
		os.WriteFile(p, b, 0o644)
		g, err := bindings.OpenGGUF(p)
		if err != nil {
			return
		}
		defer g.Close()
		for i, ti := range g.Tensors() {
			if i > 4 {
				break
			}
			g.Float32(ti.Name)
		}
		g.Dims()
	})
}
