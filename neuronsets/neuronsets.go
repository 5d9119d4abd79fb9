package neuronsets

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/pyrandom"
)

// Seed is the reference's random.seed, set anew for every selection.
const Seed = 2512800

// Grid is the RW class of every neuron, [layer][neuron]; every layer has d_mlp entries.
type Grid [][]classes.Class

// GridFromResult arranges a classes.Compute result as a Grid. The result must cover every layer of
// the model: a set is drawn from all layers.
func GridFromResult(r *classes.Result) (Grid, error) {
	nl, d := r.Dims.NLayers, r.Dims.DMLP
	if len(r.Layers) != nl || len(r.Neurons) != nl*d {
		return nil, fmt.Errorf("%s: classes cover %d of %d layers; neuron sets need all layers", r.Model, len(r.Layers), nl)
	}
	g := make(Grid, nl)
	for l := range g {
		g[l] = make([]classes.Class, d)
	}
	for _, n := range r.Neurons {
		if n.Layer < 0 || n.Layer >= nl || n.Neuron < 0 || n.Neuron >= d {
			return nil, fmt.Errorf("%s: neuron %d.%d outside %d layers × %d", r.Model, n.Layer, n.Neuron, nl, d)
		}
		g[n.Layer][n.Neuron] = n.Class
	}
	return g, nil
}

// DMLP is the number of neurons per layer (0 for an empty grid).
func (g Grid) DMLP() int {
	if len(g) == 0 {
		return 0
	}
	return len(g[0])
}

// Count is the number of neurons of class c.
func (g Grid) Count(c classes.Class) int {
	k := 0
	for _, row := range g {
		for _, x := range row {
			if x == c {
				k++
			}
		}
	}
	return k
}

// Members lists the neurons of class c in the reference's order: layer-major, index ascending.
func (g Grid) Members(c classes.Class) []hooks.Neuron {
	var out []hooks.Neuron
	for l, row := range g {
		for n, x := range row {
			if x == c {
				out = append(out, hooks.Neuron{Layer: l, Index: n})
			}
		}
	}
	return out
}

func (g Grid) check() error {
	if len(g) == 0 || len(g[0]) == 0 {
		return fmt.Errorf("neuron sets: empty class grid")
	}
	for l, row := range g {
		if len(row) != len(g[0]) {
			return fmt.Errorf("neuron sets: layer %d has %d neurons, layer 0 has %d", l, len(row), len(g[0]))
		}
	}
	return nil
}

// ParseClass parses a class name as the CLI accepts it: the reference name ("conditional weakening"),
// with "_" or "-" for spaces ("conditional_weakening"), in any case, or the abbreviation of
// spec §8.1 ("CW"). The error lists the valid names.
func ParseClass(s string) (classes.Class, error) {
	t := strings.Join(strings.Fields(strings.NewReplacer("_", " ", "-", " ").Replace(s)), " ")
	if c, err := classes.ParseClass(t); err == nil {
		return c, nil
	}
	for _, c := range classes.AllClasses() {
		if strings.EqualFold(t, c.String()) || strings.EqualFold(t, c.Abbrev()) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown RW class %q: want one of %s (spaces may be written _)", s, ClassNames())
}

// ClassNames is the list of valid class names, comma-separated, in table order.
func ClassNames() string {
	var names []string
	for _, c := range classes.AllClasses() {
		names = append(names, c.String())
	}
	return strings.Join(names, ", ")
}

// SizeKind says how a subset's size is given.
type SizeKind uint8

const (
	WholeClass   SizeKind = iota // no subset: every neuron of the class
	CountSize                    // Count neurons
	FractionSize                 // int(Fraction·|class|) neurons, 0 < Fraction ≤ 1
	ClassSize                    // as many neurons as class Of has in the model
)

// Size is the reference's subset argument (--n_neurons): None, an int, a float or a class name.
type Size struct {
	Kind     SizeKind
	Count    int
	Fraction float64
	Of       classes.Class
}

// ParseSize parses --n-neurons as the reference's wrapper does: "" or "None" → whole class; decimal
// digits → a count; otherwise a number → a fraction in (0, 1]; otherwise a class name (see
// ParseClass). "1" is one neuron, "1.0" the whole class.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "None" || t == "none" {
		return Size{}, nil
	}
	if isDecimal(t) {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			return Size{}, fmt.Errorf("bad neuron count %q: want at least 1", s)
		}
		return Size{Kind: CountSize, Count: n}, nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		if !(f > 0 && f <= 1) {
			return Size{}, fmt.Errorf("bad neuron count %q: a fraction must be in (0, 1], a count a whole number ≥ 1", s)
		}
		return Size{Kind: FractionSize, Fraction: f}, nil
	}
	c, err := ParseClass(t)
	if err != nil {
		return Size{}, fmt.Errorf("bad neuron count %q: not a count, a fraction in (0, 1] or a class: %v", s, err)
	}
	return Size{Kind: ClassSize, Of: c}, nil
}

func isDecimal(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// String is the size as the reference's --n_neurons would be written ("None", "24", "0.5",
// "strengthening").
func (s Size) String() string {
	switch s.Kind {
	case CountSize:
		return strconv.Itoa(s.Count)
	case FractionSize:
		return pyFloat(s.Fraction)
	case ClassSize:
		return s.Of.String()
	}
	return "None"
}

// pyFloat is Python's repr of a float in (0, 1]: shortest round-trip digits, exponent form below
// 1e-4, and always a '.' or an exponent.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// Spec is one named set: a class, a subset size, and whether its random baseline is wanted.
type Spec struct {
	Class    classes.Class
	Size     Size
	Baseline bool
	Seed     int64 // the random seed; 0: the reference's Seed
}

// Name is the reference's folder name of the set (not of its baseline): the class name, followed by
// the count or fraction as written ("weakening24", "weakening0.5") or by "_" and the size class
// ("weakening_strengthening"). A size class equal to the class itself is the whole class (the
// reference's wrapper maps it to None), so its name is the bare class name.
func (s Spec) Name() string {
	name := s.Class.String()
	switch s.Size.Kind {
	case CountSize, FractionSize:
		return name + s.Size.String()
	case ClassSize:
		if s.Size.Of != s.Class {
			return name + "_" + s.Size.Of.String()
		}
	}
	return name
}

// BaselineName is the folder name of the set's random baseline: Name() + "_baseline".
func (s Spec) BaselineName() string { return s.Name() + "_baseline" }

// Intervention names an ablation as the reference's folders do, zero_ablation or mean_ablation (""
// is zero), with the ConditionSuffix of its gate and post conditions ("+", "-" or "").
func Intervention(ablation, gate, post string) string {
	return cmp.Or(ablation, "zero") + "_ablation" + ConditionSuffix(gate, post)
}

// ConditionSuffix is the reference's suffix for a conditional ablation, "_gate{g}_post{p}", with
// "None" for a missing condition ("_gate-_postNone"); "" when neither is given. gate and post are
// "+", "-" or "".
func ConditionSuffix(gate, post string) string {
	if gate == "" && post == "" {
		return ""
	}
	none := func(s string) string {
		if s == "" {
			return "None"
		}
		return s
	}
	return "_gate" + none(gate) + "_post" + none(post)
}

// Selection is a resolved set.
type Selection struct {
	Spec      Spec
	Name      string // Spec.Name()
	ClassSize int    // neurons in the class
	// Neurons are the selected neurons in the reference's order: the class order for the whole class,
	// random.sample's order for a subset (what the reference ablates; hooks may sort them).
	Neurons []hooks.Neuron
	// Baseline (only with Spec.Baseline) is the random baseline: layers ascending, within a layer
	// random.sample's order, or every non-class neuron ascending when the set holds at least half of
	// the layer.
	Baseline []hooks.Neuron
	// Warnings are the reference's printed warnings (a layer whose baseline is all other neurons).
	Warnings []string
}

// Select draws the set of spec from g as the reference does. Errors: an empty grid, a class with no
// neurons, a subset larger than the class, a subset of 0 neurons, and (with the baseline) a layer
// with fewer non-class neurons than the set has there (the reference's random.sample fails there).
func Select(g Grid, spec Spec) (*Selection, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	if spec.Class >= classes.NumClasses {
		return nil, fmt.Errorf("neuron sets: bad class %d", spec.Class)
	}
	sel := &Selection{Spec: spec, Name: spec.Name()}
	members := g.Members(spec.Class)
	sel.ClassSize = len(members)
	if len(members) == 0 {
		return nil, fmt.Errorf("class %s has no neurons in this model", spec.Class)
	}
	r := pyrandom.New(cmp.Or(spec.Seed, Seed))
	sel.Neurons = members
	k := -1
	switch sz := spec.Size; sz.Kind {
	case WholeClass:
	case CountSize:
		k = sz.Count
	case FractionSize:
		if !(sz.Fraction > 0 && sz.Fraction <= 1) || math.IsNaN(sz.Fraction) {
			return nil, fmt.Errorf("fraction %v of class %s outside (0, 1]", sz.Fraction, spec.Class)
		}
		k = int(sz.Fraction * float64(len(members)))
	case ClassSize:
		k = g.Count(sz.Of)
	default:
		return nil, fmt.Errorf("neuron sets: bad size kind %d", sz.Kind)
	}
	switch {
	case k < 0:
	case k > len(members):
		return nil, fmt.Errorf("class %s has only %d neurons: cannot choose %d (--n-neurons %s)", spec.Class, len(members), k, spec.Size)
	case k == 0:
		return nil, fmt.Errorf("--n-neurons %s selects 0 of the %d neurons of class %s", spec.Size, len(members), spec.Class)
	case k < len(members):
		idx, err := r.Sample(len(members), k)
		if err != nil {
			return nil, err
		}
		sel.Neurons = make([]hooks.Neuron, k)
		for i, j := range idx {
			sel.Neurons[i] = members[j]
		}
	}
	if spec.Baseline {
		if err := sel.baseline(g, r); err != nil {
			return nil, err
		}
	}
	return sel, nil
}

// baseline continues r as the reference's random_baseline.
func (sel *Selection) baseline(g Grid, r *pyrandom.Random) error {
	d := g.DMLP()
	counts := make([]int, len(g))
	for _, n := range sel.Neurons {
		counts[n.Layer]++
	}
	sel.Baseline = []hooks.Neuron{}
	for l, c := range counts {
		if c == 0 {
			continue
		}
		var others []int
		for n, x := range g[l] {
			if x != sel.Spec.Class {
				others = append(others, n)
			}
		}
		if 2*c < d { // the reference's number < d_mlp/2
			if c > len(others) {
				return fmt.Errorf("baseline of %s: layer %d has %d selected neurons but only %d outside class %s", sel.Name, l, c, len(others), sel.Spec.Class)
			}
			idx, err := r.Sample(len(others), c)
			if err != nil {
				return err
			}
			for _, j := range idx {
				sel.Baseline = append(sel.Baseline, hooks.Neuron{Layer: l, Index: others[j]})
			}
			continue
		}
		sel.Warnings = append(sel.Warnings, fmt.Sprintf("%s: the set holds %d of the %d neurons of layer %d (at least half): its baseline takes all %d other neurons of that layer",
			sel.Name, c, d, l, len(others)))
		for _, n := range others {
			sel.Baseline = append(sel.Baseline, hooks.Neuron{Layer: l, Index: n})
		}
	}
	return nil
}

// LayerCounts counts ns per layer for a grid of nLayers layers.
func LayerCounts(ns []hooks.Neuron, nLayers int) []int {
	out := make([]int, nLayers)
	for _, n := range ns {
		if n.Layer >= 0 && n.Layer < nLayers {
			out[n.Layer]++
		}
	}
	return out
}
