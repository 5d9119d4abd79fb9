package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/models"
	"github.com/wcos-dev/wcos/neuronsets"
)

// neuronSet is a resolved --neurons value.
type neuronSet struct {
	// Neurons in the order the reference ablates them (class order, or random.sample's order for a
	// subset; the baseline by layer). Explicit lists are sorted (hooks.ParseNeurons).
	Neurons []hooks.Neuron
	// Name is the reference's folder name of the set ("weakening", "weakening_strengthening",
	// "weakening24_baseline"); "" for an explicit list.
	Name string
	// Warnings are the reference's warnings (a baseline layer that takes all other neurons).
	Warnings []string
	// Selection is the named set's selection (nil for an explicit list).
	Selection *neuronsets.Selection
	// NLayers is the model's layer count (0 for an explicit list).
	NLayers int
}

// neuronSetFlags are the flag values that name a set, checked without touching the model.
type neuronSetFlags struct {
	flag  string // the flag naming the set, for messages
	spec  neuronsets.Spec
	named bool // the flag names a class (else an explicit list or nothing)
	list  []hooks.Neuron
	// emptyBaseline accepts an empty baseline (a class holding every neuron of each of its layers),
	// which is otherwise an error.
	emptyBaseline bool
}

// isNeuronList reports whether --neurons is an explicit list (L.N,… or @FILE) rather than a class.
func isNeuronList(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || strings.HasPrefix(s, "@") || (s[0] >= '0' && s[0] <= '9')
}

// parseNeuronSetFlags checks --neurons, --n-neurons and --baseline: an explicit list is parsed, a
// class name and size are validated (a bad class fails before any model is loaded).
func parseNeuronSetFlags(flag, neurons, nNeurons string, baseline bool) (*neuronSetFlags, error) {
	if isNeuronList(neurons) {
		if nNeurons != "" || baseline {
			return nil, fmt.Errorf("--n-neurons and --baseline need a class name in --neurons (e.g. --neurons weakening), not a neuron list")
		}
		list, err := hooks.ParseNeurons(neurons)
		if err != nil {
			return nil, err
		}
		return &neuronSetFlags{flag: flag, list: list}, nil
	}
	cls, err := neuronsets.ParseClass(neurons)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", flag, err)
	}
	size, err := neuronsets.ParseSize(nNeurons)
	if err != nil {
		return nil, fmt.Errorf("--n-neurons: %v", err)
	}
	return &neuronSetFlags{flag: flag, named: true, spec: neuronsets.Spec{Class: cls, Size: size, Baseline: baseline}}, nil
}

// classesModel is the model the classes of a named set are computed from: the Hugging Face
// directory itself when --model is one (the checkpoint's own weights, not a converted or quantised
// GGUF), the embedded tiny-olmo's directory for no --model, else the GGUF file resolved.
func classesModel(modelArg, resolved string) (string, error) {
	if modelArg == "" {
		return models.DefaultHFDir()
	}
	if st, err := os.Stat(modelArg); err == nil && st.IsDir() {
		return modelArg, nil
	}
	if resolved != "" {
		return resolved, nil
	}
	return modelArg, nil
}

// resolveNeuronSet turns the values of --neurons, --n-neurons and --baseline into neurons: an explicit
// list (L.N,… or @FILE) as given, or a named set of the paper (paper-spec §3) drawn from the RW classes
// of model (a Hugging Face directory or GGUF file; see classesModel) exactly as the reference code
// draws it. model is classesModel(--model, the resolved GGUF). progress (may be nil) receives
// per-layer progress lines for long class computations. The result holds the neurons (in the order the
// reference ablates them; sort a copy for hooks and checkpoints), the set's reference name (with
// "_baseline"; add neuronsets.ConditionSuffix for --gate/--post) and the reference's warnings.
// Commands that want a bad class name to fail before loading anything call parseNeuronSetFlags first
// and resolve later, as entropy does.
func resolveNeuronSet(neurons, nNeurons string, baseline bool, model string, progress io.Writer) (*neuronSet, error) {
	f, err := parseNeuronSetFlags("--neurons", neurons, nNeurons, baseline)
	if err != nil {
		return nil, err
	}
	return f.resolve(model, progress)
}

func (f *neuronSetFlags) resolve(model string, progress io.Writer) (*neuronSet, error) {
	if !f.named {
		return &neuronSet{Neurons: f.list}, nil
	}
	src, err := classes.Open(model)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	o := classes.DefaultOptions()
	o.Region = classes.RegionNone // the regions are never used for classes
	start := time.Now()
	if progress != nil {
		o.Progress = func(layer, done, total int, elapsed time.Duration) {
			if time.Since(start) > 2*time.Second {
				fmt.Fprintf(progress, "classes: layer %d (%d/%d) %.1fs\n", layer, done, total, elapsed.Seconds())
			}
		}
	}
	r, err := classes.Compute(src, o)
	if err != nil {
		return nil, err
	}
	g, err := neuronsets.GridFromResult(r)
	if err != nil {
		return nil, err
	}
	sel, err := neuronsets.Select(g, f.spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.flag, err)
	}
	ns := &neuronSet{Neurons: sel.Neurons, Name: sel.Name, Selection: sel, NLayers: len(g)}
	if f.spec.Baseline && len(sel.Baseline) == 0 && !f.emptyBaseline {
		return nil, fmt.Errorf("%s: the random baseline of %s is empty: the class holds every neuron of the layers it is in", f.flag, sel.Name)
	}
	if f.spec.Baseline {
		ns.Neurons, ns.Name, ns.Warnings = sel.Baseline, f.spec.BaselineName(), sel.Warnings
	}
	return ns, nil
}

// layerSummary is "N neurons; per layer 0:3 1:0 …" over all layers.
func (ns *neuronSet) layerSummary() string {
	counts := neuronsets.LayerCounts(ns.Neurons, ns.NLayers)
	parts := make([]string, len(counts))
	for l, c := range counts {
		parts[l] = fmt.Sprintf("%d:%d", l, c)
	}
	return fmt.Sprintf("%d neurons; per layer %s", len(ns.Neurons), strings.Join(parts, " "))
}

// record adds the set to a run.json options map: the flags, the resolved name, size and list.
func (ns *neuronSet) record(opts map[string]any, nNeurons string, baseline bool, condition string) {
	opts["n_neurons"], opts["baseline"] = nNeurons, baseline
	if ns.Selection == nil {
		return
	}
	opts["neuron_set"] = ns.Name + condition
	opts["neuron_set_size"] = len(ns.Neurons)
	opts["neuron_set_class_size"] = ns.Selection.ClassSize
	opts["neuron_set_seed"] = neuronsets.Seed
	opts["neuron_list"] = neuronStrings(ns.Neurons)
	if len(ns.Warnings) > 0 {
		opts["neuron_set_warnings"] = ns.Warnings
	}
}

// neuronStrings is ns as "L.N" strings.
func neuronStrings(ns []hooks.Neuron) []string {
	list := make([]string, len(ns))
	for i, n := range ns {
		list[i] = n.String()
	}
	return list
}

func neuronsCommand() *cli.Command {
	return &cli.Command{
		Name:      "neurons",
		Usage:     "write one of the paper's named neuron sets (a class, a random subset, or its random baseline) as L.N lines",
		UsageText: "wcos neurons [--model M] --set CLASS [--n-neurons N|F|CLASS] [--baseline] [-o FILE]",
		Description: `Computes the RW classes of the model (as wcos classes, without randomness regions) and selects a set
exactly as the reference code's neuron_choice does (paper-spec §3): the neurons of --set in
layer-major order; with --n-neurons a random subset drawn by Python's random.sample after
random.seed(2512800): N neurons, int(F·|class|) neurons for a fraction F in (0, 1] ("1" is one
neuron, "1.0" the whole class), or as many as the class CLASS has. --baseline gives the set's random
baseline instead: per layer with c selected neurons, c random neurons of that layer outside the class,
or all of them when c is at least half the layer (a warning says so).

Class names as in the paper ("conditional weakening"; _ for spaces and abbreviations such as CW work).
The set is written one L.N per line after a # comment naming it (the --neurons @FILE format), in the
order the reference ablates it; per-layer counts go to stderr. A Hugging Face --model is read
directly; a GGUF file is dequantised (a quantised model may put neurons near ±0.5 in other classes).

Examples:
  wcos neurons --set weakening                               # embedded tiny-olmo
  wcos neurons --model OLMo-7B-0424-hf/ --set weakening -o weakening.txt
  wcos neurons --model OLMo-7B-0424-hf/ --set "conditional weakening" --n-neurons strengthening
  wcos neurons --model OLMo-7B-0424-hf/ --set weakening --baseline -o weakening_baseline.txt`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Hugging Face directory or GGUF file (default: embedded tiny-olmo)"},
			&cli.StringFlag{Name: "set", Usage: "RW class, e.g. weakening or \"conditional weakening\"", Required: true},
			&cli.StringFlag{Name: "n-neurons", Usage: "random subset: a count N, a fraction F in (0, 1], or a class name (as many as it has)"},
			&cli.BoolFlag{Name: "baseline", Usage: "write the set's random baseline instead"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output file (default: stdout)"},
		},
		Action: runNeurons,
	}
}

func runNeurons(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("neurons: unexpected argument %q (see --help)", c.Args().First())
	}
	set := c.String("set")
	if isNeuronList(set) {
		return fmt.Errorf("--set %q: want an RW class name, one of %s", set, neuronsets.ClassNames())
	}
	f, err := parseNeuronSetFlags("--set", set, c.String("n-neurons"), c.Bool("baseline"))
	if err != nil {
		return err
	}
	model, err := classesModel(c.String("model"), "")
	if err != nil {
		return err
	}
	ew := c.App.ErrWriter
	if ew == nil {
		ew = os.Stderr
	}
	ns, err := f.resolve(model, ew)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %d neurons (class %s: %d; seed %d) of %s\n", ns.Name, len(ns.Neurons), f.spec.Class,
		ns.Selection.ClassSize, neuronsets.Seed, model)
	for _, n := range ns.Neurons {
		b.WriteString(n.String())
		b.WriteByte('\n')
	}
	if out := c.String("out"); out != "" {
		if err := atomicfile.WriteFile(out, []byte(b.String())); err != nil {
			return err
		}
	} else {
		w := bufio.NewWriter(c.App.Writer)
		w.WriteString(b.String())
		if err := w.Flush(); err != nil {
			return err
		}
	}
	for _, wmsg := range ns.Warnings {
		fmt.Fprintln(ew, "warning:", wmsg)
	}
	fmt.Fprintf(ew, "%s: %s\n", ns.Name, ns.layerSummary())
	return nil
}
