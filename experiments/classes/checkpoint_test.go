package classes

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// randomSource is a random gated model (seed) with a per-layer trend planted in linout; it counts in
// loaded which layers were loaded.
func randomSource(nLayers, d, ff int, seed uint64, loaded map[int]int) *MemSource {
	rng := rand.New(rand.NewPCG(seed, 3))
	mat := func() []float32 {
		v := make([]float32, d*ff)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	ws := make([]*LayerWeights, nLayers)
	for l := range ws {
		ws[l] = &LayerWeights{DMLP: ff, DModel: d, Gate: mat(), In: mat(), Out: mat()}
		for i := range ws[l].In {
			ws[l].In[i] += float32(l) * 0.3 * ws[l].Out[i]
		}
	}
	return &MemSource{Name: "m", D: Dims{NLayers: nLayers, DModel: d, DMLP: ff}, Layers: func(l int) (*LayerWeights, error) {
		loaded[l]++
		return ws[l], nil
	}}
}

// TestCheckpointResume: a run stopped after two of four layers, saved as it went, resumes with the
// other two only, and its neurons, counts and sampled regions equal those of a run that was never
// stopped — also at another threshold, which is not an input of the checkpoint. A checkpoint made
// with another seed or processing is refused, naming the flag.
func TestCheckpointResume(t *testing.T) {
	const nl, d, ff = 4, 16, 40
	o := DefaultOptions()
	o.Region, o.Samples = RegionSampled, 500
	full, err := Compute(randomSource(nl, d, ff, 21, map[int]int{}), o)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	ck := NewCheckpoint(out, "sha256:abc", o)
	stop := errors.New("interrupted")
	o1 := o
	o1.AfterLayer = func(lr LayerResult) error {
		ck.Add(lr)
		if err := ck.Save(); err != nil {
			return err
		}
		if lr.Layer == 1 {
			return stop
		}
		return nil
	}
	if _, err := Compute(randomSource(nl, d, ff, 21, map[int]int{}), o1); !errors.Is(err, stop) {
		t.Fatalf("interrupted run: %v", err)
	}

	done, err := NewCheckpoint(out, "sha256:abc", o).Load()
	if err != nil || len(done) != 2 {
		t.Fatalf("load: %d layers, %v", len(done), err)
	}
	for _, thr := range []float64{o.Threshold, 0.3} {
		o2 := o
		o2.Done, o2.Threshold = done, thr
		loaded := map[int]int{}
		got, err := Compute(randomSource(nl, d, ff, 21, loaded), o2)
		if err != nil {
			t.Fatal(err)
		}
		if loaded[0]+loaded[1] != 0 || loaded[2] != 1 || loaded[3] != 1 {
			t.Errorf("resumed run loaded layers %v, want 2 and 3 once", loaded)
		}
		want := full
		if thr != o.Threshold {
			o3 := o
			o3.Threshold = thr
			if want, err = Compute(randomSource(nl, d, ff, 21, map[int]int{}), o3); err != nil {
				t.Fatal(err)
			}
		}
		sameResult(t, fmt.Sprintf("threshold %g: resumed vs uninterrupted", thr), got, want)
		if fmt.Sprint(got.Counts) != fmt.Sprint(want.Counts) {
			t.Errorf("threshold %g: counts %v, want %v", thr, got.Counts, want.Counts)
		}
	}

	for _, c := range []struct {
		change func(*Options)
		flag   string
	}{
		{func(o *Options) { o.Seed = 2 }, "--seed"},
		{func(o *Options) { o.Processing = Raw }, "--weights"},
		{func(o *Options) { o.Region = RegionExact }, "--region"},
	} {
		oc := o
		c.change(&oc)
		if _, err := NewCheckpoint(out, "sha256:abc", oc).Load(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s changed: error %v", c.flag, err)
		}
	}
	if _, err := NewCheckpoint(out, "sha256:other", o).Load(); err == nil || !strings.Contains(err.Error(), "model sha256") {
		t.Errorf("other model: error %v", err)
	}
}
