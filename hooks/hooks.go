package hooks

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Neuron is neuron Index of layer Layer, written "L.N".
type Neuron struct{ Layer, Index int }

// NamedSet is a neuron set with the name its outputs carry ("weakening24", "weakening24_baseline").
type NamedSet struct {
	Name    string
	Neurons []Neuron
}

func (n Neuron) String() string { return fmt.Sprintf("%d.%d", n.Layer, n.Index) }

// ParseNeuron parses "L.N".
func ParseNeuron(s string) (Neuron, error) {
	l, n, ok := strings.Cut(strings.TrimSpace(s), ".")
	li, err1 := strconv.Atoi(l)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || li < 0 || ni < 0 {
		return Neuron{}, fmt.Errorf("bad neuron %q: want LAYER.INDEX, e.g. 31.2578", s)
	}
	return Neuron{li, ni}, nil
}

// ParseNeurons parses "L.N,L.N,…" or "@FILE" (one L.N per line; blank lines and # comments skipped).
// The result is sorted and free of duplicates.
func ParseNeurons(spec string) ([]Neuron, error) {
	var items []string
	where := "--neurons"
	if path, ok := strings.CutPrefix(spec, "@"); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		line := 0
		for sc.Scan() {
			line++
			t := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(t, '#'); i >= 0 {
				t = strings.TrimSpace(t[:i])
			}
			if t == "" {
				continue
			}
			if _, err := ParseNeuron(t); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
			items = append(items, t)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		where = path
	} else if strings.TrimSpace(spec) != "" {
		items = strings.Split(spec, ",")
	}
	seen := map[Neuron]bool{}
	var out []Neuron
	for _, it := range items {
		n, err := ParseNeuron(it)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	SortNeurons(out)
	return out, nil
}

// SortNeurons orders neurons layer-major, index ascending (the reference's order).
func SortNeurons(ns []Neuron) {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].Layer != ns[j].Layer {
			return ns[i].Layer < ns[j].Layer
		}
		return ns[i].Index < ns[j].Index
	})
}

// Sign is a strict sign condition: 0 none, +1 only where > 0, -1 only where < 0.
type Sign int8

// ParseSign accepts "", "+", "-" (and "pos"/"neg").
func ParseSign(s string) (Sign, error) {
	switch s {
	case "":
		return 0, nil
	case "+", "pos", "positive":
		return 1, nil
	case "-", "neg", "negative":
		return -1, nil
	}
	return 0, fmt.Errorf("bad sign %q: want + or -", s)
}

func (s Sign) String() string {
	switch s {
	case 1:
		return "+"
	case -1:
		return "-"
	}
	return ""
}

// Ablation edits hook_post of Neurons: set to Values[i] (nil: zero) where the gate (hook_pre) and
// post conditions hold. The post condition is tested on Signs[i]·post (Signs nil: raw sign), with
// Signs the refactor signs s_n of paper-spec §1.2 when refactoring is on.
type Ablation struct {
	Neurons []Neuron
	Values  []float32
	Signs   []int8
	Gate    Sign
	Post    Sign
}

// Capture records gate, up and post of Neurons[layer] (nil slice: every neuron) for each listed layer.
type Capture map[int][]int

// Spec is everything the hooks do during one forward pass.
type Spec struct {
	Capture  Capture
	Ablation *Ablation
	Scale    bool // record the final LayerNorm scale per token
	// Residual records the residual stream after every layer (hook_resid_post) at every token:
	// NLayer × tokens × d_model floats per decode (bindings.Context.Residual).
	Residual bool
}

// Validate checks neuron ranges against a model's shape.
func (s Spec) Validate(nLayer, nFF int) error {
	check := func(n Neuron) error {
		if n.Layer >= nLayer || n.Index >= nFF {
			return fmt.Errorf("neuron %s out of range: the model has %d layers of %d neurons", n, nLayer, nFF)
		}
		return nil
	}
	for l, idx := range s.Capture {
		for _, i := range idx {
			if err := check(Neuron{l, i}); err != nil {
				return err
			}
		}
		if l < 0 || l >= nLayer {
			return fmt.Errorf("capture layer %d out of range: the model has %d layers", l, nLayer)
		}
	}
	if a := s.Ablation; a != nil {
		// A neuron listed twice would be edited twice in one node, in an order the device kernels do
		// not fix.
		seen := make(map[Neuron]bool, len(a.Neurons))
		for _, n := range a.Neurons {
			if err := check(n); err != nil {
				return err
			}
			if seen[n] {
				return fmt.Errorf("ablation: neuron %s listed twice", n)
			}
			seen[n] = true
		}
		if a.Values != nil && len(a.Values) != len(a.Neurons) {
			return fmt.Errorf("ablation: %d values for %d neurons", len(a.Values), len(a.Neurons))
		}
		if a.Signs != nil && len(a.Signs) != len(a.Neurons) {
			return fmt.Errorf("ablation: %d signs for %d neurons", len(a.Signs), len(a.Neurons))
		}
	}
	return nil
}
