package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/models"
)

func classesCommand() *cli.Command {
	return &cli.Command{
		Name:      "classes",
		Usage:     "RW classes of every gated MLP neuron from its weights, with tables and the paper's figures",
		UsageText: "wcos classes [--model M] [--weights tl|raw] [--refactor=false] [--threshold T] [--p P] [--region exact|sampled|beta|none] [--layers L] [--out DIR]",
		Description: `Computes per neuron cos(w_gate,w_in) (gatelin), cos(w_gate,w_out) (gateout) and cos(w_in,w_out)
(linout) in float64 and its RW class (paper-spec §2: 11 classes, strict > at ±threshold). --weights tl
processes the weights as TransformerLens does (the paper's numbers, spec §1.3): for OLMo, whose
LayerNorm has no parameters, w_in and w_out are centred along d_model; for the RMSNorm models of the
paper's appendix (HF model types llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text; GGUF
llama, qwen2, qwen3, gemma, gemma2, gemma3) the norm's weight g before the MLP (Gemma: 1 + w) multiplies w_gate and
w_in, and nothing is centred. raw uses the checkpoint as stored, for any architecture. The vanilla
(non-gated) models GPT-2/distilgpt2, Pythia (gpt_neox), OPT, BLOOM, GPT-J, minGPT (Othello-GPT's
final.pth, read as it is: --model final.pth), BERT and T5 get linout only and the three
vanilla classes (spec §1.4; also llama.cpp's GGUFs of gpt2, gptneox, bloom, gptj and bert), plus half_coarse.csv and the half_coarse figure (linout in ten bins of 0.2,
spec §2.4); tl folds their LayerNorm's weight into w_in and centres w_in and w_out. T5's layers are the
encoder's, then the decoder's (as TransformerLens stacks them), its RMSNorm folded into w_in (and
Flan-T5's gate); BERT normalises after the MLP, so it takes raw only. --refactor reports gatelin and gateout after flipping w_in and w_out by
s_n = sign(w_gate·w_in) (0 → +1), so gatelin ≥ 0; classes do not change.

When the model is one of the paper's (by its folder or file name, or --paper ID), paper.csv and
paper.md set its counts beside the published ones (paper-spec §8.1: totals per class, weakening neurons
per layer, every class per layer for OLMo-7B-0424).

Randomness regions (drawn in the figures, never used for classes): beta = central 1-p interval of the
cosine of random vectors in R^d_model; exact = quantiles over all d_mlp²-d_mlp mismatched pairs of a
layer (three d_mlp×d_mlp×d_model products per layer: ~1 s for tiny-olmo, ~1 min per layer for
OLMo-7B on 2 cores); sampled = --samples random mismatched pairs, with the standard error of each bound.

Writes DIR/neurons.parquet and neurons.csv (layer, neuron, gatelin, gateout, linout, class,
refactor_sign, norm_gate, norm_in, norm_out), layer_counts.csv/.md, regions.json, summary.json,
run.json, and figures coarse, fine, boxplot, hist_{linout,gateout,gatelin} as PNG and SVG (--pdf adds
PDF). DIR appears complete or not at all. An interrupted run resumes: the layers done are kept in
DIR.partial/checkpoint.safetensors (saved at most every 10 s) and the same command takes them from
there; one made with another model, --weights, --refactor, --region, --p, --samples or --seed is refused
with the input named (delete DIR.partial to start over). Each sampled region draws from a stream of its
own (--seed and the layer), so a resumed run's regions equal an uninterrupted run's.

Examples:
  wcos classes                                        # embedded tiny-olmo, exact regions
  wcos classes --model OLMo-7B-0424-hf/ --region sampled --samples 1000000 --out out/olmo7b   # + paper.md
  wcos classes --model olmo-7b.q8_0.gguf --region beta --layers 0-3,31 --out out/q8
  wcos classes --model Llama-3.2-1B/ --region sampled --out out/llama-3.2-1b
  wcos classes --model t5-small/ --weights raw --out out/t5-small   # encoder layers, then decoder
  wcos classes --model final.pth --paper othello --out out/othello  # Othello-GPT's torch.save state dict
  wcos classes --weights raw --refactor=false --threshold 0.4 --out out/raw`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Hugging Face directory (safetensors or pytorch_model.bin), GGUF file of any ggml type, or torch.save state dict (default: embedded tiny-olmo)"},
			&cli.StringFlag{Name: "weights", Value: "tl", Usage: "tl (TransformerLens's processing, as the paper: OLMo centred, RMSNorm models' norm folded) or raw"},
			&cli.BoolFlag{Name: "refactor", Value: true, Usage: "report gatelin/gateout after sign refactoring (classes are invariant)"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "class threshold on |cos| (strict >)"},
			&cli.Float64Flag{Name: "p", Value: 0.05, Usage: "randomness-region level"},
			&cli.StringFlag{Name: "region", Value: "exact", Usage: "exact, sampled, beta or none"},
			&cli.IntFlag{Name: "samples", Value: 200_000, Usage: "mismatched pairs per layer for --region sampled"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed for --region sampled"},
			&cli.StringFlag{Name: "layers", Usage: "layers to analyse, e.g. 0-3,7 (default: all)"},
			&cli.IntFlag{Name: "threads", Usage: "threads for the exact-region products (default: all CPUs)"},
			&cli.StringFlag{Name: "paper", Value: "auto", Usage: "compare with the paper's published counts (paper.csv/.md): auto (the model named by its folder or file name), a model id such as allenai/OLMo-7B-0424-hf, or none"},
			&cli.BoolFlag{Name: "pdf", Usage: "also write the figures as PDF"},
			&cli.BoolFlag{Name: "no-figures", Usage: "write only the tables"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/classes-TIME)"},
		},
		Action: runClasses,
	}
}

// saveEvery is how often an interrupted `wcos classes` can lose work: the layers computed since its
// last checkpoint (a variable for the tests).
var saveEvery = 10 * time.Second

func runClasses(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("classes: unexpected argument %q (see --help)", c.Args().First())
	}
	o := classes.DefaultOptions()
	var err error
	if o.Processing, err = classes.ParseProcessing(c.String("weights")); err != nil {
		return fmt.Errorf("--weights: %v", err)
	}
	if o.Region, err = classes.ParseRegionMode(c.String("region")); err != nil {
		return fmt.Errorf("--region: %v", err)
	}
	if o.Layers, err = classes.ParseLayers(c.String("layers")); err != nil {
		return fmt.Errorf("--layers: %v", err)
	}
	o.Refactor, o.Threshold, o.P = c.Bool("refactor"), c.Float64("threshold"), c.Float64("p")
	o.Samples, o.Seed, o.Threads = c.Int("samples"), c.Uint64("seed"), c.Int("threads")
	if o.Region == classes.RegionSampled && o.Samples < 2 {
		return fmt.Errorf("--samples: need at least 2 pairs")
	}
	model := c.String("model")
	if model == "" {
		if model, err = models.DefaultHFDir(); err != nil {
			return err
		}
	}
	paper, err := findPaper(c, model)
	if err != nil {
		return err
	}
	out, err := freshOut(c, "classes")
	if err != nil {
		return err
	}
	info := runinfo.New("classes", map[string]any{"model_arg": c.String("model"), "out": out})
	src, err := classes.Open(model)
	if err != nil {
		return err
	}
	defer src.Close()
	if paper != nil && c.String("paper") != "auto" {
		if err := paper.Fits(src.Dims()); err != nil {
			return fmt.Errorf("--paper: %v", err)
		}
	}
	// Hash the model while computing: for a 7B model that is ~10 s of reading.
	modelHash := sync.OnceValues(func() (runinfo.FileInfo, error) { return runinfo.Hash(model) })
	go modelHash()
	// Layers done by an interrupted run with the same inputs are taken from out.partial; the layers
	// computed here are saved there (at most every 10 s) until the outputs are written.
	var ck *classes.Checkpoint
	openCheckpoint := func() error {
		if ck == nil {
			fi, err := modelHash()
			if err != nil {
				return err
			}
			ck = classes.NewCheckpoint(out, fi.SHA256, o)
		}
		return nil
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		if err := openCheckpoint(); err != nil {
			return err
		}
		if o.Done, err = ck.Load(); err != nil {
			return err
		}
		if len(o.Done) > 0 {
			fmt.Fprintf(c.App.ErrWriter, "classes: resuming %s with %d layers done\n", ck.Path, len(o.Done))
		}
	}
	lastSave, pending := time.Now(), []classes.LayerResult(nil)
	o.AfterLayer = func(lr classes.LayerResult) error {
		if pending = append(pending, lr); time.Since(lastSave) < saveEvery {
			return nil
		}
		if err := openCheckpoint(); err != nil {
			return err
		}
		for _, p := range pending {
			ck.Add(p)
		}
		lastSave, pending = time.Now(), nil
		return ck.Save()
	}
	start := time.Now()
	o.Progress = func(layer, done, total int, elapsed time.Duration) {
		if time.Since(start) > 2*time.Second {
			fmt.Fprintf(c.App.ErrWriter, "classes: layer %d (%d/%d) %.1fs\n", layer, done, total, elapsed.Seconds())
		}
	}
	r, err := classes.Compute(src, o)
	if err != nil {
		return err
	}
	if err := comparePaper(c, r, paper); err != nil {
		return err
	}
	fi, err := modelHash()
	if err != nil {
		return err
	}
	info.Model = &fi
	formats := []string{"png", "svg"}
	if c.Bool("pdf") {
		formats = append(formats, "pdf")
	}
	if c.Bool("no-figures") {
		formats = []string{}
	}
	if err := r.WriteDir(out, classes.WriteOptions{Formats: formats, Run: info}); err != nil {
		return err
	}
	if ck != nil {
		if err := ck.Remove(); err != nil {
			return err
		}
	}
	fmt.Fprint(c.App.Writer, r.Text())
	fmt.Fprintf(c.App.Writer, "wrote %s (%s)\n", out, strings.Join(append([]string{"tables"}, formats...), ", "))
	return nil
}

// findPaper is the published model --paper names: for auto, the model's folder or file name if it is
// one of the paper's (nil otherwise, and for none or the embedded tiny-olmo); a named one must be.
func findPaper(c *cli.Context, model string) (*classes.Published, error) {
	switch name := c.String("paper"); {
	case name == "none", name == "auto" && c.String("model") == "":
		return nil, nil
	case name == "auto":
		return classes.FindPublished(model), nil
	default:
		if p := classes.FindPublished(name); p != nil {
			return p, nil
		}
		var ids []string
		for _, m := range classes.PublishedModels {
			ids = append(ids, m.Model)
		}
		return nil, fmt.Errorf("--paper: %q is none of the paper's models (%s)", name, strings.Join(ids, ", "))
	}
}

// comparePaper sets r.Paper to the comparison with p. A run that cannot be compared (another shape,
// some layers only) is an error when --paper named the model, else a note.
func comparePaper(c *cli.Context, r *classes.Result, p *classes.Published) error {
	if p == nil {
		return nil
	}
	cmp, err := r.ComparePublished(p)
	if err != nil {
		if c.String("paper") == "auto" {
			fmt.Fprintf(c.App.ErrWriter, "classes: not compared with the paper: %v\n", err)
			return nil
		}
		return fmt.Errorf("--paper: %v", err)
	}
	r.Paper = cmp
	return nil
}
