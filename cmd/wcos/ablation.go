package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/entropy"
	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/neuronsets"
)

// ablationFlags are the options of an ablation, shared by entropy, attributes and generate: the set
// (described by neuronsUsage), zero or mean values, and the gate/post conditions.
func ablationFlags(neuronsUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "neurons", Usage: neuronsUsage},
		&cli.StringFlag{Name: "n-neurons", Usage: "with a class in --neurons: a random subset of N neurons, of a fraction F in (0, 1] of the class, or as many as class CLASS has (paper-spec §3)"},
		&cli.StringFlag{Name: "ablation", Value: "zero", Usage: "zero or mean"},
		&cli.StringFlag{Name: "means", Usage: "values for --ablation mean: a freqs summary.safetensors (conditional means, §4.3), JSON {\"L.N\": v} or CSV L.N,value"},
		&cli.StringFlag{Name: "gate", Usage: "ablate only where the gate pre-activation is + or -"},
		&cli.StringFlag{Name: "post", Usage: "ablate only where the (refactored) activation is + or -"},
		&cli.BoolFlag{Name: "refactor", Value: true, Usage: "post condition on s_n·post, s_n = sign(w_gate·w_in) of TransformerLens-processed weights (paper); false: raw sign"},
	}
}

// ablationValues are the parsed --gate, --post and --means.
type ablationValues struct {
	gate, post hooks.Sign
	summary    *freqs.Summary           // --means as a freqs summary (conditional means), or
	means      map[hooks.Neuron]float32 // explicit values
}

func parseAblationValues(c *cli.Context) (*ablationValues, error) {
	var a ablationValues
	var err error
	if a.gate, err = hooks.ParseSign(c.String("gate")); err != nil {
		return nil, fmt.Errorf("--gate: %v", err)
	}
	if a.post, err = hooks.ParseSign(c.String("post")); err != nil {
		return nil, fmt.Errorf("--post: %v", err)
	}
	p := c.String("means")
	if p == "" {
		return &a, nil
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "summary.safetensors")
	}
	if strings.HasSuffix(p, ".safetensors") {
		a.summary, err = freqs.Read(p)
	} else {
		a.means, err = entropy.ReadMeans(p)
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// setNameFlags name the set and its baseline list beside ablationFlags (attributes, generate).
func setNameFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "set-name", Usage: "name of the --neurons set in the outputs (default: the class's reference name, the @FILE's name, else \"set\")"},
		&cli.StringFlag{Name: "baseline-neurons", Usage: "baseline set to ablate in a third run (named SET_baseline); a class in --neurons brings its own"},
	}
}

// engineFlags are the inference options of attributes, knowns and generate.
func engineFlags(threadsUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "exact", Usage: "no flash attention, F32 KV cache: matches Hugging Face within 1e-3 (slower)"},
		&cli.IntFlag{Name: "threads", Usage: threadsUsage},
		&cli.IntFlag{Name: "gpu-layers", Value: -1, Usage: "layers offloaded to a GPU in CUDA builds (-1: all if a GPU backend is loaded)"},
		&cli.StringFlag{Name: "type", Value: "f32", Usage: "GGUF type when converting a Hugging Face --model"},
	}
}

// threadsGenerate is the --threads usage of the commands that generate.
const threadsGenerate = "CPU threads (default: all); no more than the free cores, as generation's small decodes stall on busy ones"

// setFlags are the parsed --neurons, --n-neurons, --set-name and --baseline-neurons of a command that
// ablates one set beside a baseline (attributes, generate): a neuron list, with an optional baseline
// list, or an RW class, drawn with its random baseline once the model is known (resolve).
type setFlags struct {
	flags         *neuronSetFlags
	set, baseline *hooks.NamedSet // the lists (nil: not given, or a class)
}

// parseSetAblation parses the set flags and the ablation flags (ablationFlags) beside them.
func parseSetAblation(c *cli.Context) (*setFlags, *ablationValues, error) {
	if a := c.String("ablation"); a != "zero" && a != "mean" {
		return nil, nil, fmt.Errorf("bad --ablation %q: want zero or mean", a)
	}
	av, err := parseAblationValues(c)
	if err != nil {
		return nil, nil, err
	}
	s, err := parseSetFlags(c, av)
	return s, av, err
}

func parseSetFlags(c *cli.Context, av *ablationValues) (*setFlags, error) {
	f, err := parseNeuronSetFlags("--neurons", c.String("neurons"), c.String("n-neurons"), !isNeuronList(c.String("neurons")))
	if err != nil {
		return nil, err
	}
	s := &setFlags{flags: f}
	if c.IsSet("neurons") && !f.named {
		name := c.String("set-name")
		if p, ok := strings.CutPrefix(c.String("neurons"), "@"); ok && name == "" {
			name = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		}
		s.set = &hooks.NamedSet{Name: cmp.Or(name, "set"), Neurons: f.list}
	}
	if c.IsSet("baseline-neurons") {
		if s.set == nil {
			return nil, fmt.Errorf("--baseline-neurons needs --neurons with a neuron list (a class brings its own baseline)")
		}
		ns, err := hooks.ParseNeurons(c.String("baseline-neurons"))
		if err != nil {
			return nil, err
		}
		s.baseline = &hooks.NamedSet{Name: s.set.Name + "_baseline", Neurons: ns}
	}
	f.emptyBaseline = f.named // a class that fills its layers runs without a baseline
	if s.set == nil && !f.named && (c.IsSet("ablation") || c.IsSet("means") || av.gate != 0 || av.post != 0) {
		return nil, fmt.Errorf("--ablation/--means/--gate/--post need --neurons")
	}
	return s, nil
}

// resolve returns the set and its baseline (nil: none); for a class it draws both from the classes of
// the model (model: the GGUF --model resolved to) and returns the drawing as named, having reported
// it on stderr.
func (s *setFlags) resolve(c *cli.Context, model string, av *ablationValues) (set, baseline *hooks.NamedSet, named *neuronSet, err error) {
	if !s.flags.named {
		return s.set, s.baseline, nil, nil
	}
	cm, err := classesModel(c.String("model"), model)
	if err != nil {
		return nil, nil, nil, err
	}
	ns, err := s.flags.resolve(cm, os.Stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	sel := ns.Selection
	name := cmp.Or(c.String("set-name"), sel.Name+neuronsets.ConditionSuffix(av.gate.String(), av.post.String()))
	named = &neuronSet{Neurons: sel.Neurons, Name: name, Selection: sel, NLayers: ns.NLayers}
	set = &hooks.NamedSet{Name: name, Neurons: sel.Neurons}
	if len(sel.Baseline) > 0 {
		baseline = &hooks.NamedSet{Name: name + "_baseline", Neurons: sel.Baseline}
	} else {
		ns.Warnings = append(ns.Warnings, "no random baseline: the class holds every neuron of the layers it is in")
	}
	named.Warnings = ns.Warnings
	for _, w := range ns.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	fmt.Fprintf(os.Stderr, "neuron set %s: %s\n", name, named.layerSummary())
	return set, baseline, named, nil
}

// recordSetOptions adds the set and ablation flags, and a class's drawing (named, if any), to the
// options of run.json; "baseline" says whether its random baseline was run beside it.
func recordSetOptions(opts map[string]any, c *cli.Context, av *ablationValues, named *neuronSet) {
	for _, f := range []string{"neurons", "set-name", "baseline-neurons", "ablation", "means"} {
		opts[strings.ReplaceAll(f, "-", "_")] = c.String(f)
	}
	opts["gate"], opts["post"], opts["refactor"] = av.gate.String(), av.post.String(), c.Bool("refactor")
	if named != nil {
		named.record(opts, c.String("n-neurons"), len(named.Selection.Baseline) > 0, "")
		opts["baseline_list"] = neuronStrings(named.Selection.Baseline)
	}
}
