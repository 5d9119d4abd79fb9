package compare

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/quantile"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/safetensors"
)

var update = flag.Bool("update", false, "rewrite testdata/*.md golden files")

// fakeRun is a metrics.safetensors as wcos entropy writes it: [rows, width] per metric, lengths.
type fakeRun struct {
	lengths              []int32
	width                int
	entropy, loss, scale [][]float32 // per row; shorter rows are padded with pad
	rank                 [][]int32
	pad                  float32
	model, dataset       string // run.json's model and data set sha256 ("": no run.json)
	drop                 string // leave this tensor out
}

func (f fakeRun) write(t testing.TB, dir string) string {
	t.Helper()
	n := len(f.lengths)
	flat := func(rows [][]float32) []float32 {
		out := make([]float32, n*f.width)
		for r := range n {
			for c := range f.width {
				out[r*f.width+c] = f.pad
				if c < len(rows[r]) {
					out[r*f.width+c] = rows[r][c]
				}
			}
		}
		return out
	}
	rank := make([]int32, n*f.width)
	for r := range n {
		for c := range f.width {
			rank[r*f.width+c] = int32(f.pad)
			if c < len(f.rank[r]) {
				rank[r*f.width+c] = f.rank[r][c]
			}
		}
	}
	shape := []int64{int64(n), int64(f.width)}
	var ts []safetensors.Tensor
	for _, tt := range []safetensors.Tensor{
		safetensors.F32("entropy", shape, flat(f.entropy)), safetensors.F32("loss", shape, flat(f.loss)),
		safetensors.I32("rank", shape, rank), safetensors.F32("scale", shape, flat(f.scale)),
		safetensors.I32("lengths", []int64{int64(n)}, f.lengths),
	} {
		if tt.Name != f.drop {
			ts = append(ts, tt)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "metrics.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if f.model != "" {
		info := runinfo.New("entropy", map[string]any{"dataset": "/data/d.jsonl"})
		info.Model = &runinfo.FileInfo{Path: "/models/m.gguf", SHA256: f.model}
		info.Inputs = []runinfo.FileInfo{{Path: "/data/d.jsonl", SHA256: f.dataset}}
		if err := info.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The synthetic runs: 3 rows of 3, 1 and 4 tokens in 5 columns. The ablated run's padding holds
// garbage (7), which only explicit masking by the lengths leaves out.
func cleanRun() fakeRun {
	return fakeRun{
		lengths: []int32{3, 1, 4}, width: 5,
		entropy: [][]float32{{1, 2, 3}, {5}, {1, 1, 1, 1}},
		loss:    [][]float32{{2, 3, 0}, {0}, {4, 4, 4, 0}},
		rank:    [][]int32{{10, 0, 0}, {0}, {3, 3, 3, 0}},
		scale:   [][]float32{{2, 2, 2}, {2}, {2, 2, 2, 2}},
		model:   "aa", dataset: "dd",
	}
}

func ablatedRun() fakeRun {
	return fakeRun{
		lengths: []int32{3, 1, 4}, width: 5, pad: 7,
		entropy: [][]float32{{1, 1, 5}, {5}, {0, 2, 1, -1}}, // diffs 0 1 -2 | 0 | 1 -1 0 2
		loss:    [][]float32{{1, 3, 9}, {9}, {4, 5, 2, 9}},  // diffs 1 0 | | 0 -1 2 (last token: garbage)
		rank:    [][]int32{{7, 0, 9}, {9}, {5, 3, 0, 9}},    // diffs 3 0 | | -2 0 3
		scale:   [][]float32{{2, 1, 4}, {2}, {2, 2, 2, 8}},  // log diffs 0 ln2 -ln2 | 0 | 0 0 0 -2ln2
		model:   "aa", dataset: "dd",
	}
}

// TestStatsSynthetic: every metric's statistics over all tokens and over changed tokens only, against
// values worked out by hand (numpy.quantile, method "linear").
func TestStatsSynthetic(t *testing.T) {
	dir := t.TempDir()
	clean := cleanRun().write(t, filepath.Join(dir, "clean"))
	abl := ablatedRun().write(t, filepath.Join(dir, "abl"))
	ln2 := math.Ln2
	cases := []struct {
		name        string
		metric      string
		changedOnly bool
		want        Stats // Name, Tokens, Changed, N, Mean, Min, Q1, Median, Q3, Max
	}{
		{"entropy all", "entropy", false, Stats{Tokens: 8, Changed: 5, N: 8, Mean: 0.125, Min: -2, Q1: -0.25, Median: 0, Q3: 1, Max: 2}},
		{"entropy changed", "entropy", true, Stats{Tokens: 8, Changed: 5, N: 5, Mean: 0.2, Min: -2, Q1: -1, Median: 1, Q3: 1, Max: 2}},
		{"loss all", "loss", false, Stats{Tokens: 5, Changed: 3, N: 5, Mean: 0.4, Min: -1, Q1: 0, Median: 0, Q3: 1, Max: 2}},
		{"loss changed", "loss", true, Stats{Tokens: 5, Changed: 3, N: 3, Mean: 2.0 / 3, Min: -1, Q1: 0, Median: 1, Q3: 1.5, Max: 2}},
		{"rank all", "rank", false, Stats{Tokens: 5, Changed: 3, N: 5, Mean: 0.8, Min: -2, Q1: 0, Median: 0, Q3: 3, Max: 3}},
		{"rank changed", "rank", true, Stats{Tokens: 5, Changed: 3, N: 3, Mean: 4.0 / 3, Min: -2, Q1: 0.5, Median: 3, Q3: 3, Max: 3}},
		{"log_scale all", "log_scale", false, Stats{Tokens: 8, Changed: 3, N: 8, Mean: -ln2 / 4, Min: -2 * ln2, Q1: -ln2 / 4, Median: 0, Q3: 0, Max: ln2}},
		{"log_scale changed (as scale)", "scale", true, Stats{Tokens: 8, Changed: 3, N: 3, Mean: -2 * ln2 / 3, Min: -2 * ln2, Q1: -1.5 * ln2, Median: -ln2, Q3: 0, Max: ln2}},
	}
	for _, tc := range cases {
		out := filepath.Join(dir, "out", strings.ReplaceAll(tc.name, " ", "_"))
		res, err := Compare(Options{Clean: clean, Runs: []string{abl}, Metrics: []string{tc.metric}, ChangedOnly: tc.changedOnly, Out: out, Formats: []string{}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := res.Results[0].Stats[0]
		tc.want.Name = "abl"
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }
		if got.Name != tc.want.Name || got.Tokens != tc.want.Tokens || got.Changed != tc.want.Changed || got.N != tc.want.N ||
			!near(got.Mean, tc.want.Mean) || !near(got.Min, tc.want.Min) || !near(got.Q1, tc.want.Q1) ||
			!near(got.Median, tc.want.Median) || !near(got.Q3, tc.want.Q3) || !near(got.Max, tc.want.Max) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, got, tc.want)
		}
		var total int64
		for _, c := range res.Results[0].Counts[0] {
			total += c
		}
		if total != got.N {
			t.Errorf("%s: histogram holds %d values, statistics %d", tc.name, total, got.N)
		}
	}
}

// TestF16: with F16, values are rounded to float16 before their difference and the difference too, as
// the reference stored and subtracted its metrics: a change below float16's resolution is no change
// (2.0004 and 2 are both 2 in float16, spacing 2^-9 there; so are 2.0009 and 2), 1000.3 − 1000 is 1000.5 − 1000; rank is an
// integer and keeps every change. Without F16 every float32 change counts.
func TestF16(t *testing.T) {
	dir := t.TempDir()
	c := fakeRun{lengths: []int32{4}, width: 4, model: "aa", dataset: "dd",
		entropy: [][]float32{{1, 2.0004, 3, 1000.3}}, loss: [][]float32{{1, 1, 1, 0}},
		rank: [][]int32{{5, 5, 5, 0}}, scale: [][]float32{{2.0009, 2, 2, 2}}}
	a := c
	a.entropy, a.loss = [][]float32{{1, 2, 3.5, 1000}}, [][]float32{{1.0001, 1, 2, 0}}
	a.rank, a.scale = [][]int32{{6, 5, 5, 0}}, [][]float32{{2, 2, 4, 2}}
	clean, abl := c.write(t, filepath.Join(dir, "clean")), a.write(t, filepath.Join(dir, "abl"))
	cases := []struct {
		metric        string
		f16           bool
		changed       int64
		mean, min, mx float64
	}{
		{"entropy", false, 3, (0.0004 - 0.5 + 0.3) / 4, -0.5, 0.3},
		{"entropy", true, 2, 0, -0.5, 0.5},
		{"loss", false, 2, (-0.0001 - 1) / 3, -1, -0.0001},
		{"loss", true, 1, -1.0 / 3, -1, -1},
		{"rank", true, 1, -1.0 / 3, -1, -1},
		{"log_scale", false, 2, 0, -math.Ln2, 0.00045},
		{"log_scale", true, 1, 0, -0.693359375, -0.693359375}, // log 2 − log 4 in float16
	}
	for i, tc := range cases {
		res, err := Compare(Options{Clean: clean, Runs: []string{abl}, Metrics: []string{tc.metric}, ChangedOnly: true, F16: tc.f16,
			Out: filepath.Join(dir, fmt.Sprint("out", i)), Formats: []string{}})
		if err != nil {
			t.Fatalf("%s f16=%v: %v", tc.metric, tc.f16, err)
		}
		got := res.Results[0].Stats[0]
		if got.Changed != tc.changed || got.N != tc.changed || math.Abs(got.Min-tc.min) > 1e-4 || math.Abs(got.Max-tc.mx) > 1e-4 ||
			tc.metric != "log_scale" && math.Abs(got.Mean*float64(got.N)-tc.mean*float64(got.Tokens)) > 1e-4 {
			t.Errorf("%s f16=%v: %+v, want changed %d, min %g, max %g, mean over all tokens %g", tc.metric, tc.f16, got, tc.changed, tc.min, tc.mx, tc.mean)
		}
		if tc.f16 && (got.Min != f16(got.Min) || got.Max != f16(got.Max)) {
			t.Errorf("%s f16: min %v, max %v not float16 values", tc.metric, got.Min, got.Max)
		}
	}
}

// TestGolden: the .md tables of two sets (one of them the clean run against itself: nothing changes)
// over all tokens and changed tokens only, against testdata/*.md (go test -update rewrites them).
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	clean := cleanRun().write(t, filepath.Join(dir, "clean"))
	abl := ablatedRun().write(t, filepath.Join(dir, "weakening_gate-_post+"))
	for _, changed := range []bool{false, true} {
		out := filepath.Join(dir, "out")
		_, err := Compare(Options{Clean: clean, Runs: []string{abl, clean}, Names: []string{"weakening_gate-_post+", "none"},
			ChangedOnly: changed, Out: out, LogY: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, m := range Metrics {
			b, err := os.ReadFile(filepath.Join(out, m.Name+".md"))
			if err != nil {
				t.Fatal(err)
			}
			got = append(append(got, "## "+m.Name+"\n\n"...), b...)
			got = append(got, '\n')
			for _, f := range []string{m.Name + ".csv", m.Name + "_log.png", m.Name + "_log.svg"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("changed-only %v: %v", changed, err)
				}
			}
		}
		golden := filepath.Join("testdata", "synthetic_all.md")
		if changed {
			golden = filepath.Join("testdata", "synthetic_changed.md")
		}
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update once)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("changed-only %v: tables differ from %s:\n%s", changed, golden, got)
		}
	}
}

// TestOutputs: the files and the JSON a comparison writes, named as the paper's (<metric>_log with
// log counts, <metric> without).
func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	clean := cleanRun().write(t, filepath.Join(dir, "clean"))
	abl := ablatedRun().write(t, filepath.Join(dir, "abl"))
	for _, logY := range []bool{true, false} {
		out := filepath.Join(dir, "out")
		info := runinfo.New("compare", map[string]any{"test": true})
		_, err := Compare(Options{Clean: clean, Runs: []string{abl}, Metrics: []string{"entropy"}, LogY: logY, Out: out,
			Formats: []string{"png", "svg", "pdf"}, RunInfo: info})
		if err != nil {
			t.Fatal(err)
		}
		fig := "entropy_log"
		if !logY {
			fig = "entropy"
		}
		var files []string
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			files = append(files, e.Name())
		}
		want := []string{"entropy.csv", "entropy.md", fig + ".pdf", fig + ".png", fig + ".svg", "run.json", "summary.json"}
		slices.Sort(want)
		if !slices.Equal(files, want) {
			t.Errorf("log %v: files %v, want %v", logY, files, want)
		}
		var sum struct {
			Metrics []struct {
				Stats []map[string]any `json:"stats"`
				Edges []float64        `json:"bin_edges"`
			} `json:"metrics"`
		}
		b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
		if err := json.Unmarshal(b, &sum); err != nil || len(sum.Metrics) != 1 || sum.Metrics[0].Stats[0]["quartile1"] != -0.25 ||
			len(sum.Metrics[0].Stats[0]) != 11 || sum.Metrics[0].Stats[0]["n"] != 8.0 ||
			len(sum.Metrics[0].Edges) != DefaultBins+1 || sum.Metrics[0].Edges[0] != -2 {
			t.Errorf("summary.json (%v): %s", err, b)
		}
		var ri runinfo.Info
		b, _ = os.ReadFile(filepath.Join(out, "run.json"))
		if err := json.Unmarshal(b, &ri); err != nil || len(ri.Inputs) != 2 || ri.Model == nil || ri.Model.SHA256 != "aa" {
			t.Errorf("run.json (%v): %s", err, b)
		}
		csv, _ := os.ReadFile(filepath.Join(out, "entropy.csv"))
		if !strings.HasPrefix(string(csv), "name,tokens,changed,mean,min,quartile1,median,quartile3,max\nabl,8,5,0.125,-2,-0.25,0,1,2\n") {
			t.Errorf("entropy.csv:\n%s", csv)
		}
	}
}

// TestRefused: runs that are not of the clean run's rows or model, and missing or damaged files, fail
// with one line naming the folder or file and the difference, before any output is made; an existing
// output folder is left as it was.
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	clean := cleanRun().write(t, filepath.Join(dir, "clean"))
	good := ablatedRun().write(t, filepath.Join(dir, "good"))
	mk := func(name string, change func(*fakeRun)) string {
		f := ablatedRun()
		change(&f)
		return f.write(t, filepath.Join(dir, name))
	}
	lengths := mk("lengths", func(f *fakeRun) { f.lengths = []int32{3, 2, 4} })
	rows := mk("rows", func(f *fakeRun) {
		f.lengths, f.entropy, f.loss, f.rank, f.scale = f.lengths[:2], f.entropy[:2], f.loss[:2], f.rank[:2], f.scale[:2]
	})
	model := mk("model", func(f *fakeRun) { f.model = "bb" })
	data := mk("data", func(f *fakeRun) { f.dataset = "ee" })
	noTensor := mk("notensor", func(f *fakeRun) { f.drop = "rank" })
	narrow := mk("narrow", func(f *fakeRun) { f.width = 3; f.lengths = []int32{3, 1, 4} })
	corrupt := filepath.Join(dir, "corrupt")
	os.MkdirAll(corrupt, 0o755)
	os.WriteFile(filepath.Join(corrupt, "metrics.safetensors"), []byte("\x10\x00\x00\x00\x00\x00\x00\x00{not json"), 0o644)
	truncated := filepath.Join(dir, "truncated")
	os.MkdirAll(truncated, 0o755)
	b, _ := os.ReadFile(filepath.Join(good, "metrics.safetensors"))
	os.WriteFile(filepath.Join(truncated, "metrics.safetensors"), b[:len(b)-10], 0o644)
	badRunJSON := mk("badrunjson", func(f *fakeRun) {})
	os.WriteFile(filepath.Join(badRunJSON, "run.json"), []byte("{"), 0o644)
	missing := filepath.Join(dir, "missing")

	cases := []struct {
		name  string
		clean string
		runs  []string
		names []string
		mets  []string
		out   string // default dir/out
		want  []string
	}{
		{"other lengths", clean, []string{good, lengths}, nil, nil, "", []string{lengths, "row 1 has 2 tokens", clean, "1"}},
		{"other row count", clean, []string{rows}, nil, nil, "", []string{rows, "2 rows", clean, "3"}},
		{"other model", clean, []string{model}, nil, nil, "", []string{model, "sha256 bb", "sha256 aa"}},
		{"other data set", clean, []string{data}, nil, nil, "", []string{data, "data set", "sha256 ee", "sha256 dd"}},
		{"missing folder", clean, []string{missing}, nil, nil, "", []string{missing, "no metrics.safetensors"}},
		{"missing clean", missing, []string{good}, nil, nil, "", []string{missing, "no metrics.safetensors"}},
		{"corrupt file", clean, []string{corrupt}, nil, nil, "", []string{filepath.Join(corrupt, "metrics.safetensors"), "header"}},
		{"truncated file", clean, []string{truncated}, nil, nil, "", []string{filepath.Join(truncated, "metrics.safetensors"), "truncated"}},
		{"missing tensor", clean, []string{noTensor}, nil, nil, "", []string{filepath.Join(noTensor, "metrics.safetensors"), `"rank"`}},
		{"missing tensor not needed", clean, []string{noTensor}, nil, []string{"entropy"}, "", nil},
		{"tensor narrower than a row", clean, []string{narrow}, nil, nil, "", []string{filepath.Join(narrow, "metrics.safetensors"), "shape [3 3]", "≥ 4"}},
		{"bad run.json", clean, []string{badRunJSON}, nil, nil, "", []string{filepath.Join(badRunJSON, "run.json")}},
		{"no runs", clean, nil, nil, nil, "", []string{"no ablated runs", clean}},
		{"names count", clean, []string{good, good}, []string{"a"}, nil, "", []string{"--names", "1 names for 2 runs"}},
		{"duplicate names", clean, []string{good, good}, nil, nil, "", []string{`"good"`, "--names"}},
		{"name with comma", clean, []string{good}, []string{"a,b"}, nil, "", []string{`"a,b"`}},
		{"unknown metric", clean, []string{good}, nil, []string{"perplexity"}, "", []string{"--metrics", `"perplexity"`}},
		{"--out is an input", clean, []string{good}, nil, nil, good, []string{"--out " + good, "would replace"}},
		{"--out holds the inputs", clean, []string{good}, nil, nil, dir, []string{"--out " + dir, "holds the input " + clean}},
	}
	for _, tc := range cases {
		if tc.out != "" { // an input folder as --out: it must survive
			_, err := Compare(Options{Clean: tc.clean, Runs: tc.runs, Out: tc.out, Formats: []string{}})
			if err == nil || !strings.Contains(err.Error(), tc.want[0]) || !strings.Contains(err.Error(), tc.want[1]) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(good, "metrics.safetensors")); err != nil {
				t.Fatalf("%s: input gone: %v", tc.name, err)
			}
			continue
		}
		for _, existing := range []bool{false, true} {
			out := filepath.Join(dir, "out")
			os.RemoveAll(out)
			if existing {
				os.MkdirAll(out, 0o755)
				os.WriteFile(filepath.Join(out, "keep.txt"), []byte("earlier"), 0o644)
			}
			_, err := Compare(Options{Clean: tc.clean, Runs: tc.runs, Names: tc.names, Metrics: tc.mets, Out: out, Formats: []string{}})
			if tc.want == nil {
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s: no error", tc.name)
				continue
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("%s: error not one line: %q", tc.name, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: error %q lacks %q", tc.name, msg, w)
				}
			}
			ents, _ := os.ReadDir(out)
			if existing && (len(ents) != 1 || ents[0].Name() != "keep.txt") {
				t.Errorf("%s: existing output folder changed: %v", tc.name, ents)
			}
			if _, serr := os.Stat(out); !existing && serr == nil {
				t.Errorf("%s: output folder made", tc.name)
			}
			if tmp, _ := filepath.Glob(filepath.Join(dir, ".out*")); len(tmp) > 0 {
				t.Errorf("%s: temporary folders left: %v", tc.name, tmp)
			}
		}
	}
}

// sortQuantiles is the reference: numpy.quantile(vals, q) (method "linear") by sorting.
func sortQuantiles(vals []float64, qs []float64) []float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = quantile.Sorted(s, q)
	}
	return out
}

func checkDescribe(t *testing.T, name string, vals []float64) {
	t.Helper()
	for _, changed := range []bool{false, true} {
		st, err := describe(func(fn func(float64)) error {
			for _, v := range vals {
				fn(v)
			}
			return nil
		}, changed)
		if err != nil {
			t.Fatal(err)
		}
		var kept []float64
		for _, v := range vals {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && (!changed || v != 0) {
				kept = append(kept, v)
			}
		}
		if int64(len(kept)) != st.N {
			t.Fatalf("%s (changed %v): N %d, want %d", name, changed, st.N, len(kept))
		}
		if len(kept) == 0 {
			if !math.IsNaN(st.Median) {
				t.Errorf("%s (changed %v): median %v of no values", name, changed, st.Median)
			}
			continue
		}
		want := sortQuantiles(kept, []float64{0, 0.25, 0.5, 0.75, 1})
		got := []float64{st.Min, st.Q1, st.Median, st.Q3, st.Max}
		if !slices.Equal(got, want) {
			t.Errorf("%s (changed %v): quantiles %v, sorting gives %v", name, changed, got, want)
		}
	}
}

// TestSelectMatchesSort: bucket selection gives exactly the quantiles of sorting, also where one bin
// holds most values (a spike of zeros or of tiny diffs, far outliers: several refinement passes).
func TestSelectMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gen := map[string]func() float64{
		"normal": func() float64 { return rng.NormFloat64() },
		"zeros and outliers": func() float64 {
			return []float64{0, 0, 0, 0, 0, 0, 0, 0, 1e-7 * rng.NormFloat64(), 1e4 * rng.NormFloat64()}[rng.IntN(10)]
		},
		"integers":            func() float64 { return float64(rng.IntN(5) - 2) },
		"constant":            func() float64 { return -0.5 },
		"any bits":            func() float64 { return math.Float64frombits(rng.Uint64()) },
		"tiny spike and huge": func() float64 { return []float64{1e-9 * rng.Float64(), 1e-9 * rng.Float64(), 3e30}[rng.IntN(3)] },
		"with NaN and Inf":    func() float64 { return []float64{rng.NormFloat64(), math.NaN(), math.Inf(-1)}[rng.IntN(3)] },
	}
	for name, g := range gen {
		for _, n := range []int{1, 2, 3, 7, 300_000} {
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = g()
			}
			checkDescribe(t, name, vals)
		}
	}
}

// FuzzDescribe checks the selection against sorting on arbitrary values, with buckets collected from
// 4 values on, so that small inputs take the radix passes too.
func FuzzDescribe(f *testing.F) {
	defer func(c int64) { collectMax = c }(collectMax)
	collectMax = 4
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\xf0\xbf"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var vals []float64
		for len(b) >= 8 && len(vals) < 1000 {
			vals = append(vals, math.Float64frombits(uint64(b[0])|uint64(b[1])<<8|uint64(b[2])<<16|uint64(b[3])<<24|
				uint64(b[4])<<32|uint64(b[5])<<40|uint64(b[6])<<48|uint64(b[7])<<56))
			b = b[8:]
		}
		checkDescribe(t, "fuzz", vals)
	})
}

// randomRun is a run of rows × width positions with row lengths in (width/2, width] and random
// metrics; seed makes an ablated run differ from the clean one.
func randomRun(rows, width int, seed uint64) fakeRun {
	rng := rand.New(rand.NewPCG(seed, 1))
	lengths := rand.New(rand.NewPCG(0, 1)) // the same lengths in every run
	f := fakeRun{width: width}
	for range rows {
		n := width/2 + 1 + lengths.IntN(width/2)
		f.lengths = append(f.lengths, int32(n))
		e, l, sc := make([]float32, n), make([]float32, n), make([]float32, n)
		rk := make([]int32, n)
		for i := range n {
			e[i], l[i], sc[i] = 5*rng.Float32(), 8*rng.Float32(), 1+rng.Float32()
			rk[i] = int32(rng.IntN(1000))
		}
		f.entropy, f.loss, f.scale, f.rank = append(f.entropy, e), append(f.loss, l), append(f.scale, sc), append(f.rank, rk)
	}
	return f
}

// BenchmarkCompare: a clean and two ablated runs of rows × 1024 positions, all four metrics, tables
// only (figures are a fixed cost). Reports valid positions per second per set.
func BenchmarkCompare(b *testing.B) {
	for _, rows := range []int{512, 4096} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			dir := b.TempDir()
			clean := randomRun(rows, 1024, 1).write(b, filepath.Join(dir, "clean"))
			runs := []string{randomRun(rows, 1024, 2).write(b, filepath.Join(dir, "a")), randomRun(rows, 1024, 3).write(b, filepath.Join(dir, "b"))}
			var tokens int64
			for _, n := range randomRun(rows, 1024, 1).lengths {
				tokens += int64(n)
			}
			b.ResetTimer()
			for i := range b.N {
				o := Options{Clean: clean, Runs: runs, Formats: []string{}, Out: filepath.Join(dir, fmt.Sprint("out", i))}
				if _, err := Compare(o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tokens*int64(len(runs))*int64(b.N))/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// TestTruncate: with Truncate a run with fewer (or more) rows than the clean run is compared over the
// common rows, giving what a comparison of runs cut to those rows gives; without it, it is refused;
// the common rows' lengths must still agree.
func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	cut := func(f fakeRun, n int) fakeRun {
		f.lengths, f.entropy, f.loss, f.rank, f.scale = f.lengths[:n], f.entropy[:n], f.loss[:n], f.rank[:n], f.scale[:n]
		return f
	}
	clean3 := cleanRun().write(t, filepath.Join(dir, "clean3"))
	clean2 := cut(cleanRun(), 2).write(t, filepath.Join(dir, "clean2"))
	abl3 := ablatedRun().write(t, filepath.Join(dir, "abl3"))
	abl2 := cut(ablatedRun(), 2).write(t, filepath.Join(dir, "abl2"))
	badLen := cut(ablatedRun(), 2)
	badLen.lengths = []int32{3, 2}
	bad := badLen.write(t, filepath.Join(dir, "badlen"))
	run := func(clean, abl string, truncate bool) (*Result, error) {
		return Compare(Options{Clean: clean, Runs: []string{abl}, Names: []string{"set"}, Truncate: truncate, Formats: []string{}, Out: filepath.Join(dir, "out")})
	}
	want, err := run(clean2, abl2, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, clean, abl string }{{"fewer ablated rows", clean3, abl2}, {"fewer clean rows", clean2, abl3}} {
		if _, err := run(c.clean, c.abl, false); err == nil || !strings.Contains(err.Error(), "--truncate") {
			t.Errorf("%s without truncation: error %v, want one suggesting --truncate", c.name, err)
		}
		got, err := run(c.clean, c.abl, true)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Sets[0].Rows != 2 || !reflect.DeepEqual(got.Results, want.Results) {
			t.Errorf("%s: %d rows, results %+v; want 2 rows, %+v", c.name, got.Sets[0].Rows, got.Results, want.Results)
		}
	}
	if _, err := run(clean3, bad, true); err == nil || !strings.Contains(err.Error(), "row 1 has 2 tokens") {
		t.Errorf("other lengths in the common rows: error %v", err)
	}
}
