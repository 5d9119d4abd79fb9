package classes

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/runinfo"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{-1, 1}, 0},
		{[]float64{0.1, 0.7, -0.3, 0.2, 0.9, 0.4}, 0.30000000000000004}, // torch.lerp(0.2, 0.4, 0.5)
		{[]float64{1, math.NaN(), 2}, math.NaN()},
	} {
		got := median(slices.Clone(c.v))
		if got != c.want && !(math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("median(%v) = %v, want %v", c.v, got, c.want)
		}
	}
}

// randomRun computes and writes a classes run of a random model (seed) over layers of nLayers.
func randomRun(t *testing.T, dir string, nLayers, d, ff int, seed uint64, layers []int) *Result {
	t.Helper()
	o := DefaultOptions()
	o.Region, o.Layers = RegionNone, layers
	r, err := Compute(randomSource(nLayers, d, ff, seed, map[int]int{}), o)
	if err != nil {
		t.Fatal(err)
	}
	info := runinfo.New("classes", nil)
	info.Model = &runinfo.FileInfo{Path: "memory"}
	if err := r.WriteDir(dir, WriteOptions{Formats: []string{}, Run: info}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMedians: per analysed layer the medians equal those of the run's own neurons (sorted here, the
// middle value or the mean of the two middle ones), at depth layer/(n_layers−1); medians.csv holds
// them exactly; the runs keep their order and names.
func TestMedians(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "model-a"), filepath.Join(tmp, "model-b")
	runs := map[string]*Result{"model-a": randomRun(t, a, 4, 16, 33, 1, nil), "model-b": randomRun(t, b, 6, 12, 20, 2, []int{0, 2, 5})}
	rows, err := Medians([]string{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4+3 || rows[0].Name != "model-a" || rows[4].Name != "model-b" || rows[5].Layer != 2 {
		t.Fatalf("rows %+v", rows)
	}
	mid := func(v []float64) float64 {
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	for _, row := range rows {
		r := runs[row.Name]
		var lo, go_, gl []float64
		for _, n := range r.Neurons {
			if n.Layer == row.Layer {
				lo, go_, gl = append(lo, n.LinOut), append(go_, n.GateOut), append(gl, n.GateLin)
			}
		}
		want := [3]float64{mid(lo), mid(go_), mid(gl)}
		got := [3]float64{row.LinOut, row.GateOut, row.GateLin}
		for k := range 3 {
			if math.Abs(got[k]-want[k]) > 1e-15 {
				t.Errorf("%s layer %d cosine %d: median %v, want %v", row.Name, row.Layer, k, got[k], want[k])
			}
		}
		if row.Neurons != len(lo) || row.Depth != float64(row.Layer)/float64(r.Dims.NLayers-1) || row.NLayers != r.Dims.NLayers {
			t.Errorf("%s layer %d: %+v", row.Name, row.Layer, row)
		}
	}
	if rows[0].LinOut > rows[3].LinOut-0.1 {
		t.Errorf("the planted trend is missing: linout medians %v … %v", rows[0].LinOut, rows[3].LinOut)
	}

	out := filepath.Join(tmp, "medians")
	if err := WriteMedians(out, rows, "linout", []string{"svg"}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "medians.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != len(rows)+1 || !slices.Equal(recs[0], MedianColumns) {
		t.Fatalf("medians.csv: %v %v", recs, err)
	}
	for i, row := range rows {
		if v, _ := strconv.ParseFloat(recs[i+1][5], 64); v != row.LinOut || recs[i+1][0] != row.Name {
			t.Errorf("medians.csv row %d: %v, want %+v", i, recs[i+1], row)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "medians_linout.svg")); err != nil {
		t.Error(err)
	}
	if named, err := Medians([]string{a, b}, []string{"OLMo", "Llama"}); err != nil || named[0].Name != "OLMo" || named[6].Name != "Llama" {
		t.Errorf("--names: %v %v", named, err)
	}
}

// TestMediansErrors: bad input is one line naming the folder or file, and WriteMedians leaves nothing.
func TestMediansErrors(t *testing.T) {
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good")
	randomRun(t, good, 2, 8, 10, 4, nil)
	csvText, _ := os.ReadFile(filepath.Join(good, "neurons.csv"))
	summary, _ := os.ReadFile(filepath.Join(good, "summary.json"))
	bad := func(name, sum, csv string) string {
		dir := filepath.Join(tmp, name)
		os.MkdirAll(dir, 0o755)
		if sum != "" {
			os.WriteFile(filepath.Join(dir, "summary.json"), []byte(sum), 0o644)
		}
		if csv != "" {
			os.WriteFile(filepath.Join(dir, "neurons.csv"), []byte(csv), 0o644)
		}
		return dir
	}
	lines := strings.SplitN(string(csvText), "\n", 3)
	for _, c := range []struct {
		name  string
		dirs  []string
		names []string
		want  string
	}{
		{"no folder", []string{filepath.Join(tmp, "missing")}, nil, "missing: not a `wcos classes` output folder"},
		{"bad summary", []string{bad("bad-summary", "{", string(csvText))}, nil, "bad-summary/summary.json"},
		{"no csv", []string{bad("no-csv", string(summary), "")}, nil, "no-csv/neurons.csv"},
		{"no column", []string{bad("no-column", string(summary), "layer,neuron\n0,0\n")}, nil, `no-column/neurons.csv: no column "linout"`},
		{"layer out of range", []string{bad("range", string(summary), lines[0]+"\n7"+lines[1][1:]+"\n")}, nil, "range/neurons.csv: line 2: layer"},
		{"not a number", []string{bad("nan", string(summary), lines[0]+"\n0,0,x,0,0,orthogonal output,1,1,1,1\n")}, nil, `nan/neurons.csv: line 2: gatelin "x"`},
		{"empty", []string{bad("empty", string(summary), lines[0]+"\n")}, nil, "empty/neurons.csv: no neurons"},
		{"duplicate names", []string{good, good}, nil, `both named "good"`},
		{"names count", []string{good}, []string{"a", "b"}, "2 names for 1 folders"},
	} {
		_, err := Medians(c.dirs, c.names)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.name, err, c.want)
		}
	}
	// A run without refactoring beside a refactored one: linout compares, gateout does not.
	unref := bad("unrefactored", strings.Replace(string(summary), `"refactored": true`, `"refactored": false`, 1), string(csvText))
	mixed, err := Medians([]string{good, unref}, nil)
	if err != nil || mixed[0].Refactored == mixed[len(mixed)-1].Refactored {
		t.Fatalf("mixed runs: %v %+v", err, mixed)
	}
	out := filepath.Join(tmp, "out")
	for _, c := range []struct {
		cos  string
		rows []LayerMedian
		want string
	}{{"norm", mixed[:1], "unknown cosine"}, {"gateout", mixed, "sign convention"}} {
		if err := WriteMedians(out, c.rows, c.cos, nil, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--cos %s: error %v, want %q", c.cos, err, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a failed WriteMedians left %s", out)
		}
	}
	if err := WriteMedians(out, mixed, "linout", nil, nil); err != nil {
		t.Errorf("linout of mixed runs: %v", err)
	}
}

// FuzzReadNeuronCosines: any neurons.csv gives cosines or an error, never a panic, and every value
// read lands in a layer within range.
func FuzzReadNeuronCosines(f *testing.F) {
	f.Add("layer,neuron,gatelin,gateout,linout\n0,0,0.1,0.2,0.3\n1,0,NaN,NaN,-1\n", 2)
	f.Add("linout,gateout,gatelin,layer\n1,2,3,0\n", 1)
	f.Add("layer,linout,gateout,gatelin\n\"0\",1e400,-0,+1\n", 3)
	f.Fuzz(func(t *testing.T, text string, nLayers int) {
		if nLayers <= 0 || nLayers > 64 {
			return
		}
		cos, err := readNeuronCosines(strings.NewReader(text), nLayers)
		if err != nil {
			return
		}
		if len(cos) != nLayers {
			t.Fatalf("%d layers, want %d", len(cos), nLayers)
		}
		for _, c := range cos {
			if len(c[0]) != len(c[1]) || len(c[1]) != len(c[2]) {
				t.Fatalf("ragged layer %v", c)
			}
		}
	})
}
