package neuronsets

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/hooks"
)

// goldenFile is testdata/golden.json, written by testdata/golden.py (a standard-library Python
// re-statement of the reference's neuron_choice and random_baseline).
type goldenFile struct {
	Seed  int `json:"seed"`
	Grids map[string]struct {
		Classes []string     `json:"classes"`
		Cases   []goldenCase `json:"cases"`
	} `json:"grids"`
}

type goldenCase struct {
	Class         string   `json:"class"`
	Subset        string   `json:"subset"`
	Kind          string   `json:"kind"`
	Name          string   `json:"name"`
	Error         string   `json:"error"`
	BaselineError string   `json:"baseline_error"`
	Neurons       []string `json:"neurons"`
	Baseline      []string `json:"baseline"`
	WarnedLayers  []int    `json:"warned_layers"`
}

func loadGolden(t *testing.T) goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Seed != Seed || len(g.Grids) == 0 {
		t.Fatalf("golden: seed %d, %d grids", g.Seed, len(g.Grids))
	}
	return g
}

func gridOf(rows []string) Grid {
	g := make(Grid, len(rows))
	for l, r := range rows {
		g[l] = make([]classes.Class, len(r))
		for n, ch := range r {
			g[l][n] = classes.Class(ch - 'a')
		}
	}
	return g
}

func strs(ns []hooks.Neuron) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.String()
	}
	return out
}

func short(s []string) string {
	if len(s) > 10 {
		return strings.Join(s[:10], ",") + ",… (" + strconv.Itoa(len(s)) + ")"
	}
	return strings.Join(s, ",")
}

func specOf(t *testing.T, c goldenCase) Spec {
	t.Helper()
	cls, err := classes.ParseClass(c.Class)
	if err != nil {
		t.Fatal(err)
	}
	sp := Spec{Class: cls, Baseline: true}
	switch c.Kind {
	case "none":
	case "count":
		n, err := strconv.Atoi(c.Subset)
		if err != nil {
			t.Fatal(err)
		}
		sp.Size = Size{Kind: CountSize, Count: n}
	case "fraction":
		f, err := strconv.ParseFloat(c.Subset, 64)
		if err != nil {
			t.Fatal(err)
		}
		sp.Size = Size{Kind: FractionSize, Fraction: f}
	case "class":
		of, err := classes.ParseClass(c.Subset)
		if err != nil {
			t.Fatal(err)
		}
		sp.Size = Size{Kind: ClassSize, Of: of}
	default:
		t.Fatalf("golden kind %q", c.Kind)
	}
	return sp
}

// TestGolden compares every selected neuron, its order, the baseline and the warned layers with the
// Python re-statement of the reference, on planted grids (both random.sample algorithms) and on the
// embedded tiny-olmo's classes.
func TestGolden(t *testing.T) {
	var ok, errs, warned int
	for gname, gr := range loadGolden(t).Grids {
		g := gridOf(gr.Classes)
		for _, c := range gr.Cases {
			sp := specOf(t, c)
			desc := gname + ": " + c.Class + " subset " + c.Subset
			if got := sp.Name(); got != c.Name {
				t.Errorf("%s: name %q, Python %q", desc, got, c.Name)
			}
			sel, err := Select(g, sp)
			if c.Error != "" || c.BaselineError != "" {
				errs++
				if err == nil {
					t.Errorf("%s: no error, Python fails (%s%s)", desc, c.Error, c.BaselineError)
				}
				if c.BaselineError != "" {
					// Without the baseline the set itself is fine.
					sp.Baseline = false
					sel, err := Select(g, sp)
					if err != nil || !slices.Equal(strs(sel.Neurons), c.Neurons) {
						t.Errorf("%s without baseline: %v, %v; Python %s", desc, err, sel, short(c.Neurons))
					}
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", desc, err)
				continue
			}
			ok++
			if got := strs(sel.Neurons); !slices.Equal(got, c.Neurons) {
				t.Errorf("%s: neurons %s, Python %s", desc, short(got), short(c.Neurons))
			}
			if got := strs(sel.Baseline); !slices.Equal(got, c.Baseline) {
				t.Errorf("%s: baseline %s, Python %s", desc, short(got), short(c.Baseline))
			}
			if len(sel.Warnings) != len(c.WarnedLayers) {
				t.Errorf("%s: warnings %q, Python warns for layers %v", desc, sel.Warnings, c.WarnedLayers)
			}
			if len(c.WarnedLayers) > 0 {
				warned++
			}
		}
	}
	if ok < 50 || errs < 50 || warned < 5 {
		t.Errorf("golden coverage: %d sets, %d errors, %d with warnings", ok, errs, warned)
	}
}

// planted is a 4-layer grid of d_mlp 10: weakening (W) at 0.1, 0.3, 1.0, 2.0-2.5 (6 of 10: more than
// half), 3.9; strengthening (S) at 1.1, 1.2; the rest orthogonal output.
func planted() Grid {
	rows := []string{
		"gWgWgggggg",
		"WAAggggggg",
		"WWWWWWgggg",
		"gggggggggW",
	}
	g := make(Grid, len(rows))
	for l, r := range rows {
		g[l] = make([]classes.Class, len(r))
		for n, ch := range r {
			switch ch {
			case 'W':
				g[l][n] = classes.Weakening
			case 'A':
				g[l][n] = classes.Strengthening
			default:
				g[l][n] = classes.OrthogonalOutput
			}
		}
	}
	return g
}

func TestSelect(t *testing.T) {
	g := planted()
	wAll := "0.1,0.3,1.0,2.0,2.1,2.2,2.3,2.4,2.5,3.9"
	for _, c := range []struct {
		name      string
		spec      Spec
		wantName  string
		wantLen   int
		wantSet   string // exact list in order, when deterministic
		wantError string
	}{
		{"whole class", Spec{Class: classes.Weakening}, "weakening", 10, wAll, ""},
		{"count", Spec{Class: classes.Weakening, Size: Size{Kind: CountSize, Count: 4}}, "weakening4", 4, "", ""},
		{"fraction", Spec{Class: classes.Weakening, Size: Size{Kind: FractionSize, Fraction: 0.35}}, "weakening0.35", 3, "", ""},
		{"fraction 1", Spec{Class: classes.Weakening, Size: Size{Kind: FractionSize, Fraction: 1}}, "weakening1.0", 10, wAll, ""},
		{"class size", Spec{Class: classes.Weakening, Size: Size{Kind: ClassSize, Of: classes.Strengthening}}, "weakening_strengthening", 2, "", ""},
		{"own class size", Spec{Class: classes.Weakening, Size: Size{Kind: ClassSize, Of: classes.Weakening}}, "weakening", 10, wAll, ""},
		{"count == class", Spec{Class: classes.Weakening, Size: Size{Kind: CountSize, Count: 10}}, "weakening10", 10, wAll, ""},
		{"count > class", Spec{Class: classes.Weakening, Size: Size{Kind: CountSize, Count: 11}}, "", 0, "", "only 10 neurons"},
		{"class size > class", Spec{Class: classes.Strengthening, Size: Size{Kind: ClassSize, Of: classes.Weakening}}, "", 0, "", "only 2 neurons"},
		{"fraction 0", Spec{Class: classes.Weakening, Size: Size{Kind: FractionSize, Fraction: 0}}, "", 0, "", "outside (0, 1]"},
		{"fraction > 1", Spec{Class: classes.Weakening, Size: Size{Kind: FractionSize, Fraction: 1.5}}, "", 0, "", "outside (0, 1]"},
		{"fraction to 0", Spec{Class: classes.Weakening, Size: Size{Kind: FractionSize, Fraction: 0.05}}, "", 0, "", "selects 0"},
		{"empty class", Spec{Class: classes.AtypicalWeakening}, "", 0, "", "no neurons"},
	} {
		c.spec.Baseline = true
		sel, err := Select(g, c.spec)
		if c.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantError) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.wantError)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if sel.Name != c.wantName || len(sel.Neurons) != c.wantLen || sel.ClassSize != 10 {
			t.Errorf("%s: name %q, %d neurons of %d; want %q, %d of 10", c.name, sel.Name, len(sel.Neurons), sel.ClassSize, c.wantName, c.wantLen)
		}
		if c.wantSet != "" && strings.Join(strs(sel.Neurons), ",") != c.wantSet {
			t.Errorf("%s: %v, want %s", c.name, sel.Neurons, c.wantSet)
		}
		// Members of the class, no duplicates.
		seen := map[hooks.Neuron]bool{}
		for _, n := range sel.Neurons {
			if g[n.Layer][n.Index] != classes.Weakening || seen[n] {
				t.Errorf("%s: %s not weakening or repeated", c.name, n)
			}
			seen[n] = true
		}
		checkBaseline(t, c.name, g, sel)
		// Determinism: the same spec gives the same draw, every time.
		again, _ := Select(g, c.spec)
		if !slices.Equal(again.Neurons, sel.Neurons) || !slices.Equal(again.Baseline, sel.Baseline) {
			t.Errorf("%s: a second Select differs", c.name)
		}
	}
}

// checkBaseline: per layer as many baseline neurons as selected ones when they are under half the
// layer, else all non-class neurons with a warning; never a class member.
func checkBaseline(t *testing.T, name string, g Grid, sel *Selection) {
	t.Helper()
	d := g.DMLP()
	set := LayerCounts(sel.Neurons, len(g))
	base := LayerCounts(sel.Baseline, len(g))
	warned := 0
	seen := map[hooks.Neuron]bool{}
	for _, n := range sel.Baseline {
		if g[n.Layer][n.Index] == sel.Spec.Class || seen[n] {
			t.Errorf("%s: baseline neuron %s is in the class or repeated", name, n)
		}
		seen[n] = true
	}
	for l := range g {
		others := d - g[l:l+1].Count(sel.Spec.Class)
		switch {
		case set[l] == 0 && base[l] != 0:
			t.Errorf("%s: layer %d: %d baseline neurons for no selected one", name, l, base[l])
		case set[l] > 0 && 2*set[l] < d && base[l] != set[l]:
			t.Errorf("%s: layer %d: %d baseline neurons for %d selected", name, l, base[l], set[l])
		case set[l] > 0 && 2*set[l] >= d:
			warned++
			if base[l] != others {
				t.Errorf("%s: layer %d (%d of %d selected): baseline %d, want all %d others", name, l, set[l], d, base[l], others)
			}
		}
	}
	if len(sel.Warnings) != warned {
		t.Errorf("%s: warnings %q, want %d", name, sel.Warnings, warned)
	}
}

// TestHalfRule: a set holding exactly half a layer (5 of 10) takes all others; 4 of 10 samples 4.
func TestHalfRule(t *testing.T) {
	for _, c := range []struct {
		row  string
		want int
		warn bool
	}{
		{"WWWWWggggg", 5, true},
		{"WWWWgggggg", 4, false},
		{"WWWWWWWggg", 3, true},
	} {
		g := gridOf([]string{strings.NewReplacer("W", string(rune('a'+classes.Weakening)), "g", string(rune('a'+classes.OrthogonalOutput))).Replace(c.row)})
		sel, err := Select(g, Spec{Class: classes.Weakening, Baseline: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(sel.Baseline) != c.want || (len(sel.Warnings) > 0) != c.warn {
			t.Errorf("%s: baseline %v warnings %q; want %d neurons, warning %v", c.row, sel.Baseline, sel.Warnings, c.want, c.warn)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Size
		err  bool
	}{
		{"", Size{}, false},
		{"None", Size{}, false},
		{"24", Size{Kind: CountSize, Count: 24}, false},
		{"1", Size{Kind: CountSize, Count: 1}, false},
		{"1.0", Size{Kind: FractionSize, Fraction: 1}, false},
		{"0.5", Size{Kind: FractionSize, Fraction: 0.5}, false},
		{".25", Size{Kind: FractionSize, Fraction: 0.25}, false},
		{"strengthening", Size{Kind: ClassSize, Of: classes.Strengthening}, false},
		{"conditional_weakening", Size{Kind: ClassSize, Of: classes.ConditionalWeakening}, false},
		{"Conditional Weakening", Size{Kind: ClassSize, Of: classes.ConditionalWeakening}, false},
		{"CW", Size{Kind: ClassSize, Of: classes.ConditionalWeakening}, false},
		{"0", Size{}, true},
		{"1.5", Size{}, true},
		{"-3", Size{}, true},
		{"nan", Size{}, true},
		{"weak", Size{}, true},
	} {
		got, err := ParseSize(c.in)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("ParseSize(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.err)
		}
	}
	_, err := ParseClass("weakning")
	if err == nil || !strings.Contains(err.Error(), "conditional weakening") {
		t.Errorf("ParseClass(weakning): %v; want the list of names", err)
	}
	for _, c := range []struct{ gate, post, want string }{
		{"", "", ""}, {"-", "+", "_gate-_post+"}, {"+", "", "_gate+_postNone"},
	} {
		if got := ConditionSuffix(c.gate, c.post); got != c.want {
			t.Errorf("ConditionSuffix(%q, %q) = %q, want %q", c.gate, c.post, got, c.want)
		}
	}
	for _, c := range []struct{ ablation, gate, post, want string }{
		{"", "", "", "zero_ablation"},
		{"mean", "", "", "mean_ablation"},
		{"zero", "-", "+", "zero_ablation_gate-_post+"},
		{"mean", "", "-", "mean_ablation_gateNone_post-"},
	} {
		if got := Intervention(c.ablation, c.gate, c.post); got != c.want {
			t.Errorf("Intervention(%q, %q, %q) = %q, want %q", c.ablation, c.gate, c.post, got, c.want)
		}
	}
	if got := (Spec{Class: classes.Weakening}).BaselineName(); got != "weakening_baseline" {
		t.Errorf("BaselineName = %q", got)
	}
}

func TestGridFromResult(t *testing.T) {
	r := &classes.Result{Model: "m", Dims: classes.Dims{NLayers: 2, DMLP: 2}, Layers: []int{0, 1}, Neurons: []classes.Neuron{
		{Layer: 0, Neuron: 0, Class: classes.Weakening}, {Layer: 0, Neuron: 1},
		{Layer: 1, Neuron: 0, Class: classes.OrthogonalOutput}, {Layer: 1, Neuron: 1, Class: classes.Weakening},
	}}
	g, err := GridFromResult(r)
	if err != nil || g.Count(classes.Weakening) != 2 || g[1][1] != classes.Weakening {
		t.Fatalf("%v %v", g, err)
	}
	r.Layers = []int{1}
	r.Neurons = r.Neurons[2:]
	if _, err := GridFromResult(r); err == nil {
		t.Error("partial layers: no error")
	}
}
