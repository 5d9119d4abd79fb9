package freqs

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/neuronsets"
	"github.com/wcos-dev/wcos/safetensors"
)

// TestRandomBaselineRule: ByClass's baselines follow the reference's random_baseline (per layer with
// c class neurons, c others when c < d_mlp/2, else all others), are disjoint from the class, and are
// the neurons neuronsets.Select draws with Python's generator (checked against CPython there).
func TestRandomBaselineRule(t *testing.T) {
	cases := []struct {
		name string
		nff  int
		sel  []int // weakening neurons per layer (the first k of the layer)
		want []int // baseline size per layer
	}{
		{"c < d/2 samples c", 10, []int{2, 4}, []int{2, 4}},
		{"c = d/2 takes all others", 10, []int{5}, []int{5}},
		{"c > d/2 takes all others", 10, []int{9, 10}, []int{1, 0}},
		{"layer without class is skipped", 10, []int{0, 3, 0}, []int{0, 3, 0}},
		{"odd d: 3 < 3.5 samples", 7, []int{3}, []int{3}},
		{"odd d: 4 ≥ 3.5 takes all", 7, []int{4}, []int{3}},
		{"single neuron layer", 1, []int{1}, []int{0}},
	}
	for _, c := range cases {
		L := len(c.sel)
		cls := make([]classes.Class, L*c.nff)
		for i := range cls {
			cls[i] = classes.OrthogonalOutput
		}
		for l, k := range c.sel {
			for n := 0; n < k; n++ {
				cls[l*c.nff+n] = classes.Weakening
			}
		}
		freq := make([]float64, len(cls))
		row := ByClass(freq, cls, L, c.nff, 0)[classes.Weakening]
		got := row.BaselineIdx
		per := make([]int, L)
		for _, i := range got {
			if cls[i] == classes.Weakening {
				t.Errorf("%s: baseline neuron %d.%d is in the class", c.name, i/c.nff, i%c.nff)
			}
			per[i/c.nff]++
		}
		if !slices.IsSorted(got) || !slices.Equal(per, c.want) {
			t.Errorf("%s: baseline %v, sizes per layer %v, want ascending with %v", c.name, got, per, c.want)
		}
		grid := make(neuronsets.Grid, L)
		for l := range grid {
			grid[l] = cls[l*c.nff : (l+1)*c.nff]
		}
		sel, err := neuronsets.Select(grid, neuronsets.Spec{Class: classes.Weakening, Baseline: true})
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		for _, n := range sel.Baseline {
			want = append(want, n.Layer*c.nff+n.Index)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Errorf("%s: baseline %v, the reference's draw %v", c.name, got, want)
		}
	}
}

func TestOLSPearson(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name       string
		x, y       []float64
		a, b, r, p float64
	}{
		// By hand: x̄ = 3, ȳ = 4, Sxx = 10, Sxy = 6, Syy = 6 → b = 0.6, a = 2.2, r = 6/√60,
		// t = r√(3/(1−r²)) = 2.1213, p = 2·P(T₃ > t) = 0.124027 (closed-form Student t, 3 df).
		{"hand", []float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5}, 2.2, 0.6, 6 / math.Sqrt(60), 0.12402706265755459},
		{"NaN pair skipped", []float64{1, 2, nan, 3, 4, 5}, []float64{2, 4, 7, 5, 4, 5}, 2.2, 0.6, 6 / math.Sqrt(60), 0.12402706265755459},
		{"exact line", []float64{0, 1, 2, 3}, []float64{1, -1, -3, -5}, 1, -2, -1, 0},
		{"constant x", []float64{1, 1, 1}, []float64{1, 2, 3}, nan, nan, nan, nan},
		{"two points", []float64{0, 1}, []float64{0, 2}, 0, 2, nan, nan},
	}
	near := func(got, want float64) bool {
		return math.IsNaN(got) && math.IsNaN(want) || math.Abs(got-want) <= 1e-9
	}
	for _, c := range cases {
		a, b := OLS(c.x, c.y)
		r, p := Pearson(c.x, c.y)
		if !near(a, c.a) || !near(b, c.b) || !near(r, c.r) || !near(p, c.p) {
			t.Errorf("%s: a %v b %v r %v p %v, want %v %v %v %v", c.name, a, b, r, p, c.a, c.b, c.r, c.p)
		}
	}
}

// TestWriteOutputs runs a small freqs pass on tiny-olmo and checks every output against the summary
// and an independent computation. WCOS_FREQS_OUT keeps the folder for looking at the figures.
func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("WCOS_FREQS_OUT"); d != "" {
		dir = d
		os.RemoveAll(filepath.Join(dir, "out"))
	}
	out := filepath.Join(dir, "out")
	cfg := testConfig(t, out)
	cfg.MaxTokens = 400
	s, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteOutputs(out, s, cfg.Model, OutputOptions{ModelSHA256: "other"}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("summary of another model: error %v, want one line", err)
	}
	o, err := WriteOutputs(out, s, cfg.Model, OutputOptions{LogY: true, ModelSHA256: cfg.ModelSHA256})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + o.Table())

	want := []string{"summary.safetensors", "neurons.parquet", "neurons.csv", "freqs_by_class.csv", "freqs_by_class.md"}
	for _, f := range []string{"layers_log", "categories_log", "linout", "gateout", "gatelin", "norm_gate", "norm_in_out",
		"linout_all_layers", "norm_gate_all_layers", "linout_0_3_7"} {
		want = append(want, f+".png", f+".svg")
	}
	for _, f := range want {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
		if f != "summary.safetensors" && !slices.Contains(o.Files, f) {
			t.Errorf("%s missing from Outputs.Files %v", f, o.Files)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries beside the output folder, want none (temporary folders left?)", len(ents)-1)
	}

	// Independent inputs: freq_gate_pos and the quadrant tensors as written, classes from the weights.
	st, err := safetensors.Open(filepath.Join(out, "summary.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	freq, err := st.Float64("freq_gate_pos")
	if err != nil {
		t.Fatal(err)
	}
	src, err := classes.Open(cfg.Model)
	if err != nil {
		t.Fatal(err)
	}
	co := classes.DefaultOptions()
	co.Region = classes.RegionNone
	res, err := classes.Compute(src, co)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	L, N := s.NLayer, s.NFF

	rows, err := parquet.ReadFile[outNeuronRow](filepath.Join(out, "neurons.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != L*N {
		t.Fatalf("neurons.parquet: %d rows, want %d", len(rows), L*N)
	}
	quad := map[string][]float64{}
	for _, q := range Quadrants {
		for _, v := range []string{"freq", "post.mean", "gate.mean", "in.mean", "swish.mean"} {
			if quad[q+"."+v], err = st.Float64(q + "." + v); err != nil {
				t.Fatal(err)
			}
		}
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for i := range rows {
		r := &rows[i]
		if int(r.Layer) != i/N || int(r.Neuron) != i%N || r.Class != res.Neurons[i].Class.String() || r.FreqGatePos != freq[i] {
			t.Fatalf("parquet row %d: %d.%d %s freq %v, want %d.%d %s %v", i, r.Layer, r.Neuron, r.Class, r.FreqGatePos, i/N, i%N, res.Neurons[i].Class, freq[i])
		}
		for q, vals := range r.quadrantValues() {
			for v, name := range []string{"freq", "post.mean", "gate.mean", "in.mean", "swish.mean"} {
				if want := quad[Quadrants[q]+"."+name][i]; !same(*vals[v], want) {
					t.Fatalf("parquet row %d %s %s: %v, summary %v", i, Quadrants[q], name, *vals[v], want)
				}
			}
		}
	}
	if sch := parquet.SchemaOf(outNeuronRow{}); len(sch.Fields()) != len(outNeuronColumns()) {
		t.Errorf("parquet schema has %d columns, want %d", len(sch.Fields()), len(outNeuronColumns()))
	}
	csvRows := readCSV(t, filepath.Join(out, "neurons.csv"))
	if len(csvRows) != L*N+1 || strings.Join(csvRows[0], ",") != strings.Join(outNeuronColumns(), ",") {
		t.Errorf("neurons.csv: %d lines, header %v", len(csvRows), csvRows[0])
	}

	// The table: true means from scratch; baselines checked against the rule and re-averaged.
	byCSV := readCSV(t, filepath.Join(out, "freqs_by_class.csv"))
	if len(byCSV) != int(classes.NumClasses)+1 {
		t.Fatalf("freqs_by_class.csv: %d lines", len(byCSV))
	}
	for ci, c := range classes.AllClasses() {
		var sum float64
		var cnt int
		perLayer := make([]int, L)
		for i, n := range res.Neurons {
			if n.Class == c {
				sum += freq[i]
				cnt++
				perLayer[n.Layer]++
			}
		}
		row := o.ByClass[ci]
		wantTrue := sum / float64(cnt)
		if row.Class != c || row.Neurons != cnt || !(math.Abs(row.True-wantTrue) < 1e-12 || cnt == 0 && math.IsNaN(row.True)) {
			t.Errorf("%s: %d neurons, true %v; want %d, %v", c, row.Neurons, row.True, cnt, wantTrue)
		}
		basePer := make([]int, L)
		var bsum float64
		for _, i := range row.BaselineIdx {
			if res.Neurons[i].Class == c {
				t.Errorf("%s: baseline neuron %d.%d is in the class", c, i/N, i%N)
			}
			basePer[i/N]++
			bsum += freq[i]
		}
		for l := range L {
			want := perLayer[l]
			if 2*perLayer[l] >= N {
				want = N - perLayer[l]
			}
			if basePer[l] != want {
				t.Errorf("%s layer %d: %d baseline neurons for %d in the class, want %d", c, l, basePer[l], perLayer[l], want)
			}
		}
		if len(row.BaselineIdx) > 0 && math.Abs(row.Baseline-bsum/float64(len(row.BaselineIdx))) > 1e-12 {
			t.Errorf("%s: baseline %v, mean over its neurons %v", c, row.Baseline, bsum/float64(len(row.BaselineIdx)))
		}
		rec := byCSV[ci+1]
		gotTrue, _ := strconv.ParseFloat(rec[2], 64)
		gotBase, _ := strconv.ParseFloat(rec[3], 64)
		if rec[0] != c.String() || rec[1] != strconv.Itoa(cnt) || !same(gotTrue, row.True) || !same(gotBase, row.Baseline) {
			t.Errorf("freqs_by_class.csv line %d: %v, want %s %d %v %v", ci+2, rec, c, cnt, row.True, row.Baseline)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "freqs_by_class.md"))
	if !strings.Contains(string(md), "| class | neurons | true | baseline |") || strings.Count(string(md), "\n| ") != int(classes.NumClasses)+1 {
		t.Errorf("freqs_by_class.md:\n%s", md)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}
