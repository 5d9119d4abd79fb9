package generate

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/experiments/entropy"
	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/progress"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/neuronsets"
)

// DefaultMaxNew is the reference's --max_new_tokens.
const DefaultMaxNew = 1024

// DefaultBatch is the number of prompts generated together: their KV cache holds that many rows of
// prompt + MaxNew tokens.
const DefaultBatch = 16

// Config is one generation run.
type Config struct {
	Model       string
	ModelSHA256 string // checked against a --means summary's model
	Prompts     []string
	MaxNew      int // new tokens per prompt (0: DefaultMaxNew)
	Batch       int // prompts generated together (0: DefaultBatch); the results do not depend on it
	// Sampling draws from softmax(logits/T) with a seed instead of greedy decoding (nil: greedy). The
	// clean and ablated runs draw the same numbers for a prompt.
	Sampling *bindings.Sampling
	// Set and Baseline are ablated in turn after the clean run (nil: not run).
	Set, Baseline *hooks.NamedSet
	Ablation      string                   // "zero" (default) or "mean"
	Means         map[hooks.Neuron]float32 // explicit values for mean ablation, or
	Summary       *freqs.Summary           // a freqs summary: conditional means (paper-spec §4.3)
	Gate, Post    hooks.Sign
	Refactor      bool
	Exact         bool
	Threads       int
	GPULayers     int
	Out           string
	Progress      io.Writer
	RunInfo       *runinfo.Info
}

// Generation is one line of generations.jsonl.
type Generation struct {
	Set          string  `json:"set"` // "clean" or the set's name
	Intervention string  `json:"intervention"`
	Prompt       int     `json:"prompt"` // index in Config.Prompts
	Text         string  `json:"text"`   // prompt and continuation
	Tokens       []int32 `json:"new_tokens"`
	EOS          bool    `json:"eos"` // generation ended at EOS
}

// Run generates clean, then with the set and the baseline ablated, and writes generations.jsonl,
// SET/<TextName> (the reference's layout: the first prompt's text; prompts after the first
// follow, each after a line "=== prompt N ==="), summary.json and run.json into cfg.Out, at once.
func Run(cfg Config) ([]Generation, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.MaxNew == 0 {
		cfg.MaxNew = DefaultMaxNew
	}
	if cfg.MaxNew < 0 || len(cfg.Prompts) == 0 {
		return nil, fmt.Errorf("generate: %d prompts, %d new tokens", len(cfg.Prompts), cfg.MaxNew)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	m, err := bindings.LoadModel(cfg.Model, bindings.ModelOptions{GPULayers: cfg.GPULayers})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	type run struct {
		name, intervention string
		spec               hooks.Spec
	}
	runs := []run{{name: "clean", intervention: "none"}}
	for _, s := range []*hooks.NamedSet{cfg.Set, cfg.Baseline} {
		if s == nil {
			continue
		}
		if folder(s.Name) == "clean" {
			return nil, fmt.Errorf(`set name %q is reserved for the run without ablation`, s.Name)
		}
		if slices.ContainsFunc(runs, func(r run) bool { return folder(r.name) == folder(s.Name) }) {
			return nil, fmt.Errorf("set name %q is used twice", s.Name)
		}
		spec, err := entropy.BuildSpec(entropy.Config{Model: cfg.Model, ModelSHA256: cfg.ModelSHA256, Neurons: s.Neurons,
			Ablation: cfg.Ablation, Means: cfg.Means, Summary: cfg.Summary, Gate: cfg.Gate, Post: cfg.Post, Refactor: cfg.Refactor})
		if err != nil {
			return nil, fmt.Errorf("neuron set %q: %w", s.Name, err)
		}
		spec.Scale = false
		if err := spec.Validate(m.NLayer(), m.NFF()); err != nil {
			return nil, fmt.Errorf("neuron set %q: %v (%s)", s.Name, err, cfg.Model)
		}
		runs = append(runs, run{s.Name, neuronsets.Intervention(cfg.Ablation, cfg.Gate.String(), cfg.Post.String()), spec})
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	batch := min(cfg.Batch, len(cfg.Prompts))
	rows := make([][]int32, len(cfg.Prompts))
	longest := 0
	for i, p := range cfg.Prompts {
		ids, err := m.Tokenize(p)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %v", i, err)
		}
		rows[i] = append([]int32{m.BOS()}, ids...)
		longest = max(longest, len(rows[i]))
	}
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: batch * (longest + cfg.MaxNew), MaxRows: batch, Threads: cfg.Threads, Exact: cfg.Exact})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()

	// At most this many tokens: rows that end at EOS drop the rest from the total.
	bar := progress.New(cfg.Progress, "generate", "tok", int64(len(runs)*len(rows)*cfg.MaxNew))
	start := time.Now()
	var out []Generation
	var generated int
	for _, r := range runs {
		if err := ctx.SetHooks(r.spec); err != nil {
			return nil, err
		}
		var gen [][]int32
		for lo := 0; lo < len(rows); lo += batch {
			g, err := ctx.Generate(rows[lo:min(lo+batch, len(rows))], bindings.GenerateOptions{MaxNew: cfg.MaxNew, Stop: []int32{m.EOS()},
				Sampling: cfg.Sampling, FirstRow: lo, Progress: func(n int) { bar.Add(int64(n)) }})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
			for _, row := range g {
				bar.Drop(int64(cfg.MaxNew - len(row)))
			}
			gen = append(gen, g...)
		}
		for i, g := range gen {
			out = append(out, Generation{Set: r.name, Intervention: r.intervention, Prompt: i,
				Text: m.Detokenize(slices.Concat(rows[i][1:], g)), Tokens: g, EOS: len(g) > 0 && g[len(g)-1] == m.EOS()})
			generated += len(g)
		}
	}
	bar.Finish()
	if cfg.RunInfo != nil {
		cfg.RunInfo.TokensPerSecond = float64(generated) / time.Since(start).Seconds()
	}
	if err := write(cfg, m.Desc(), out); err != nil {
		return nil, err
	}
	return out, nil
}

// TextName is the name of a set's text file: the reference's generated_greedy.txt, or with sampling
// generated_full.txt (its --do_sample, temperature 1) or generated_t<T>.txt.
func TextName(s *bindings.Sampling) string {
	switch {
	case s == nil:
		return "generated_greedy.txt"
	case s.Temperature == 1:
		return "generated_full.txt"
	}
	return fmt.Sprintf("generated_t%g.txt", s.Temperature)
}

// folder is a set's folder name: spaces and path separators as "_".
func folder(set string) string {
	return strings.NewReplacer(" ", "_", "/", "_", string(filepath.Separator), "_").Replace(set)
}

func write(cfg Config, desc string, gens []Generation) error {
	texts := map[string]*bytes.Buffer{}
	var sets []string
	for _, g := range gens {
		b := texts[g.Set]
		if b == nil {
			b = &bytes.Buffer{}
			texts[g.Set] = b
			sets = append(sets, g.Set)
		}
		if g.Prompt > 0 {
			fmt.Fprintf(b, "\n=== prompt %d ===\n", g.Prompt)
		}
		b.WriteString(g.Text)
	}
	sum := map[string]any{"model": cfg.Model, "model_desc": desc, "prompts": len(cfg.Prompts), "max_new_tokens": cfg.MaxNew, "sets": sets, "sampling": cfg.Sampling}
	return atomicfile.BuildDir(cfg.Out, func(tmp string) error {
		if err := atomicfile.WriteJSONL(filepath.Join(tmp, "generations.jsonl"), gens); err != nil {
			return err
		}
		for _, s := range sets {
			dir := filepath.Join(tmp, folder(s))
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, TextName(cfg.Sampling)), texts[s].Bytes(), 0o644); err != nil {
				return err
			}
		}
		if err := atomicfile.WriteJSON(filepath.Join(tmp, "summary.json"), sum); err != nil {
			return err
		}
		return cfg.RunInfo.Write(tmp)
	})
}
