package classes

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/runinfo"
)

func TestHalfCoarseBin(t *testing.T) {
	for _, c := range []struct {
		linout float64
		want   int
	}{
		{-1, 0}, {-0.81, 0}, {-0.8, 1}, {-0.2, 4}, {-1e-9, 4}, {0, 5}, {math.Copysign(0, -1), 5}, {0.19, 5},
		{0.2, 6}, {0.8, 9}, {0.999, 9}, {1, 9}, {math.NaN(), -1},
	} {
		if got := halfCoarseBin(c.linout); got != c.want {
			t.Errorf("halfCoarseBin(%v) = %d (%s), want %d", c.linout, got, HalfCoarseLabel(max(got, 0)), c.want)
		}
	}
	if HalfCoarseLabel(0) != "-1.0 ≤ cos < -0.8" || HalfCoarseLabel(9) != "0.8 ≤ cos ≤ 1" {
		t.Errorf("labels %q, %q", HalfCoarseLabel(0), HalfCoarseLabel(9))
	}
}

// TestHalfCoarseOutputs: a vanilla run writes half_coarse.csv (each layer's bins adding up to d_mlp,
// and agreeing with its neurons' linout) and half_coarse.svg; a gated run writes neither.
func TestHalfCoarseOutputs(t *testing.T) {
	const d, ff = 8, 30
	mk := func(gated bool) *Result {
		w := &LayerWeights{DMLP: ff, DModel: d, In: make([]float32, ff*d), Out: make([]float32, ff*d)}
		if gated {
			w.Gate = make([]float32, ff*d)
		}
		for n := range ff { // linout sweeps [-1, 1]
			th := math.Pi * float64(n) / float64(ff-1)
			w.In[n*d], w.Out[n*d], w.Out[n*d+1] = 1, float32(math.Cos(th)), float32(math.Sin(th))
			if gated {
				w.Gate[n*d+2] = 1
			}
		}
		o := DefaultOptions()
		o.Processing, o.Region = Raw, RegionNone
		r, err := Compute(&MemSource{Name: "m", D: Dims{NLayers: 1, DModel: d, DMLP: ff}, Layers: func(int) (*LayerWeights, error) { return w, nil }}, o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := mk(false)
	counts := r.HalfCoarse()[0]
	var tot int64
	for b, c := range counts {
		var want int64
		for _, n := range r.Neurons {
			if halfCoarseBin(n.LinOut) == b {
				want++
			}
		}
		if c != want || c == 0 {
			t.Errorf("bin %s: %d neurons, want %d (> 0)", HalfCoarseLabel(b), c, want)
		}
		tot += c
	}
	if tot != ff {
		t.Errorf("bins add up to %d, want %d", tot, ff)
	}
	for _, gated := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		info := runinfo.New("classes", nil)
		info.Model = &runinfo.FileInfo{Path: "memory"}
		if err := mk(gated).WriteDir(dir, WriteOptions{Formats: []string{"svg"}, Run: info}); err != nil {
			t.Fatal(err)
		}
		b, errCSV := os.ReadFile(filepath.Join(dir, "half_coarse.csv"))
		_, errSVG := os.Stat(filepath.Join(dir, "half_coarse.svg"))
		if gated != (errCSV != nil) || gated != (errSVG != nil) {
			t.Errorf("gated %v: half_coarse.csv %v, half_coarse.svg %v", gated, errCSV, errSVG)
		}
		if !gated && !strings.HasPrefix(strings.SplitN(string(b), "\n", 3)[1], "0,") {
			t.Errorf("half_coarse.csv:\n%s", b)
		}
	}
}
