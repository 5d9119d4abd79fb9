package compare

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/experiments/entropy"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// TestReferenceAblation runs wcos entropy on the 4×64 reference rows of
// tiny-olmo-reference.safetensors clean, with the fixture's zero ablation (neurons 0–9 of layer 5 and
// 100–109 of layer 7) and with its conditional zero ablation (gate < 0, raw post > 0), compares them,
// and checks the entropy and loss statistics against the same statistics of the Hugging Face values
// stored in the fixture (entropy, loss, ablate.zero.*, ablate.zero_gate-_post+.*).
//
// Tolerance 2e-3: the engine's entropy and loss match the fixture within 1e-3 per token with --exact
// (experiments/entropy's TestRunMatchesReference), so each diff clean − ablated is within 2e-3, and
// then so is the mean and every order statistic (min, max, and the quartiles, which interpolate
// between two order statistics): moving every value by at most ε moves each of them by at most ε.
func TestReferenceAblation(t *testing.T) {
	ref, err := safetensors.Open(testmodels.Fixture("tiny-olmo-reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dir := t.TempDir()
	ds := testmodels.ReferenceDataset(t, dir)
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	mi, err := runinfo.Hash(model)
	if err != nil {
		t.Fatal(err)
	}
	di, err := runinfo.Hash(ds)
	if err != nil {
		t.Fatal(err)
	}
	neurons := testmodels.ReferenceAblated()
	sets := []struct {
		name, prefix string
		neurons      []hooks.Neuron
		gate, post   hooks.Sign
	}{
		{"clean", "", nil, 0, 0},
		{"zero", "ablate.zero.", neurons, 0, 0},
		{"zero_gate-_post+", "ablate.zero_gate-_post+.", neurons, -1, 1},
	}
	for _, s := range sets {
		info := runinfo.New("entropy", map[string]any{"dataset": ds})
		info.Model, info.Inputs = &mi, []runinfo.FileInfo{di}
		_, err := entropy.Run(entropy.Config{Model: model, Dataset: ds, Neurons: s.neurons, Gate: s.gate, Post: s.post,
			Refactor: false, Exact: true, BatchSize: 3, MaxLength: 64, Out: filepath.Join(dir, s.name), RunInfo: info})
		if err != nil {
			t.Fatalf("entropy %s: %v", s.name, err)
		}
	}

	get := func(name string) []float32 {
		v, err := ref.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const tol = 2e-3
	worst := 0.0
	for _, changed := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprintf("cmp-changed-%v", changed))
		res, err := Compare(Options{Clean: filepath.Join(dir, "clean"), Runs: []string{filepath.Join(dir, "zero"), filepath.Join(dir, "zero_gate-_post+")},
			Metrics: []string{"entropy", "loss", "rank", "log_scale"}, ChangedOnly: changed, Out: out, LogY: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, mr := range res.Results {
			var b strings.Builder
			mr.Markdown(&b)
			t.Logf("%s, changed only %v:\n%s", mr.Metric, changed, b.String())
			if mr.Metric != "entropy" && mr.Metric != "loss" {
				continue
			}
			for i, s := range sets[1:] {
				// The fixture's diffs, computed here: entropy [4,64], loss [4,63] (no padding).
				a, b := get(mr.Metric), get(s.prefix+mr.Metric)
				var vals []float64
				for j := range a {
					vals = append(vals, float64(a[j])-float64(b[j]))
				}
				want, got := fixtureStats(vals, changed), mr.Stats[i]
				if got.Tokens != int64(len(vals)) || got.Changed != want.Changed || got.N != want.N {
					t.Errorf("%s %s changed-only %v: %d tokens, %d changed, stats over %d; fixture %d, %d, %d",
						s.name, mr.Metric, changed, got.Tokens, got.Changed, got.N, len(vals), want.Changed, want.N)
				}
				for _, c := range []struct {
					stat      string
					got, want float64
				}{{"mean", got.Mean, want.Mean}, {"min", got.Min, want.Min}, {"quartile1", got.Q1, want.Q1},
					{"median", got.Median, want.Median}, {"quartile3", got.Q3, want.Q3}, {"max", got.Max, want.Max}} {
					worst = math.Max(worst, math.Abs(c.got-c.want))
					if !(math.Abs(c.got-c.want) <= tol) {
						t.Errorf("%s %s changed-only %v: %s %.6g, fixture %.6g (tolerance %g)", s.name, mr.Metric, changed, c.stat, c.got, c.want, tol)
					}
				}
			}
		}
		for _, f := range []string{"entropy.md", "loss.csv", "rank_log.png", "log_scale_log.svg", "summary.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
	}
	t.Logf("largest deviation of a statistic from the fixture's: %.3g (tolerance %g)", worst, tol)
}

// fixtureStats are the statistics of vals by sorting (numpy.quantile, method "linear").
func fixtureStats(vals []float64, changedOnly bool) Stats {
	var st Stats
	var kept []float64
	var sum float64
	for _, v := range vals {
		if v != 0 {
			st.Changed++
		}
		if !changedOnly || v != 0 {
			kept = append(kept, v)
			sum += v
		}
	}
	st.N = int64(len(kept))
	q := sortQuantiles(kept, []float64{0, 0.25, 0.5, 0.75, 1})
	st.Mean, st.Min, st.Q1, st.Median, st.Q3, st.Max = sum/float64(len(kept)), q[0], q[1], q[2], q[3], q[4]
	return st
}
