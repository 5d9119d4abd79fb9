package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/entropy"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/neuronsets"
)

func entropyCommand() *cli.Command {
	return &cli.Command{
		Name:      "entropy",
		Usage:     "per-token entropy, loss, rank and scale, with optional (conditional) ablation of a neuron set",
		UsageText: "wcos entropy [--model M] [--dataset D] [--neurons L.N,…|@FILE|CLASS [--n-neurons N|F|CLASS] [--baseline]] [--ablation zero|mean] [--means FILE] [--gate +|-] [--post +|-] [--out DIR]",
		Description: `Runs the model over a data set and records per token (paper-spec §4.4): entropy -Σ p log(p+1e-8),
loss -log p(next), rank (logits strictly greater than the next token's) and the final norm's scale (TransformerLens's
ln_final.hook_scale: sqrt(var+eps) for OLMo's LayerNorm, sqrt(mean(x²)+eps) for an RMSNorm model).
With --neurons, hook_post of those neurons is ablated: set to 0 (--ablation zero) or to given values
(--ablation mean --means FILE), at every token or only where the gate (--gate) and/or the refactored
activation s_n·post (--post; raw sign with --refactor=false) has the given sign. Means from a wcos freqs
summary are the conditional means over the quadrants the condition selects (paper-spec §4.3), also for
--post alone (the reference ignored --post then); JSON and CSV values are written into hook_post as they
are, in the model's raw sign convention (a refactored mean of a neuron with s_n = -1 needs its sign flipped).

--neurons may also name an RW class: the paper's named sets (paper-spec §3), drawn from the classes of
the model being run (computed from its weights: its Hugging Face directory when --model is one, else
the GGUF file; about a minute for a 7B model) exactly as the reference code's neuron_choice draws
them. --n-neurons N, F or CLASS takes a random subset (Python's random.sample after
random.seed(2512800)) of N neurons, of int(F·|class|) neurons (F in (0, 1]; "1" is one neuron, "1.0"
the whole class), or of as many neurons as class CLASS has; --baseline ablates the set's random
baseline instead (per layer as many random neurons outside the class, or all of them where the set
holds at least half the layer). run.json records the set's reference name (e.g.
conditional weakening_strengthening_baseline, weakening_gate-_post+), size and neuron list; wcos
neurons writes the same set to a file.

Writes DIR/metrics.safetensors (entropy, loss, rank, scale [rows, max_len] zero-padded, lengths),
DIR/summary.json and DIR/run.json, all at once at the end (DIR never holds a partial result).

Resuming: every --checkpoint-batches batches (or --checkpoint-every) the rows done are saved to
DIR.partial/checkpoint.safetensors. Rerunning the same command after a kill, Ctrl-C or preemption
continues from there and writes metrics.safetensors and summary.json byte-identical to an
uninterrupted run's (on the same machine, run.json differs only in its timing fields: started,
finished, seconds, tokens_per_second). A checkpoint made with other inputs (model, data set rows,
neurons, ablation, means values, --gate/--post/--refactor, --exact, --batch-size, --max-length,
--max-tokens, --gpu-layers, --per-row) is refused with an error naming the difference; delete DIR.partial to
start over. Give --out: the default folder is new for every run, so a rerun without it starts afresh.

Examples:
  wcos entropy                                   # embedded tiny-olmo on the embedded evaluation text
  wcos entropy --neurons 5.0,5.1,7.100 --out out/abl
  wcos entropy --neurons @weakening.txt --gate - --post + --out out/w_gate-_post+
  wcos entropy --model OLMo-7B-0424-hf/ --neurons weakening --gate - --post + --out out/weakening_gate-_post+
  wcos entropy --model OLMo-7B-0424-hf/ --neurons "conditional weakening" --n-neurons strengthening --out out/cw_s
  wcos entropy --model OLMo-7B-0424-hf/ --neurons weakening --baseline --ablation mean --means summary/ --out out/w_base
  wcos entropy --neurons 5.3 --ablation mean --means means.csv --exact
  wcos entropy --model olmo-7b-0424.q8_0.gguf --dataset dolma-small.jsonl --batch-size 4 --max-length 1024`,
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "GGUF file or Hugging Face directory (default: embedded tiny-olmo, F32)"},
			&cli.StringFlag{Name: "dataset", Usage: "JSONL with `text` or `input_ids` per line, or a token dataset (default: embedded evaluation text)"},
		}, ablationFlags("neurons to ablate: L.N,L.N,…, @FILE with one L.N per line, or an RW class (weakening, \"conditional weakening\", conditional_weakening)"), []cli.Flag{
			&cli.BoolFlag{Name: "baseline", Usage: "with a class in --neurons: ablate the set's random baseline (same layers, outside the class) instead"},
			&cli.BoolFlag{Name: "exact", Usage: "no flash attention, F32 KV cache: matches Hugging Face within 1e-3 (slower)"},
			&cli.IntFlag{Name: "batch-size", Value: 4, Usage: "rows per forward pass"},
			&cli.IntFlag{Name: "max-length", Value: 1024, Usage: "truncate text rows to this many tokens (BOS included)"},
			&cli.Int64Flag{Name: "max-tokens", Usage: "stop after this many tokens (0: whole data set)"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (default: all)"},
			&cli.IntFlag{Name: "gpu-layers", Value: -1, Usage: "layers offloaded to a GPU in CUDA builds (-1: all if a GPU backend is loaded)"},
			&cli.StringFlag{Name: "per-row", Value: "auto", Usage: "decode a batch's rows one after the other: on, off, or auto (on unless the model is on a GPU)"},
			&cli.StringFlag{Name: "type", Value: "f32", Usage: "GGUF type when converting a Hugging Face --model"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/entropy-TIME)"},
			&cli.IntFlag{Name: "checkpoint-batches", Value: entropy.DefaultCheckpointBatches, Usage: "save a checkpoint into DIR.partial/ after this many batches"},
			&cli.DurationFlag{Name: "checkpoint-every", Value: entropy.DefaultCheckpointEvery, Usage: "… or after this much time"},
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("entropy: unexpected argument %q (options go before --, see --help)", c.Args().First())
			}
			cfg := entropy.Config{
				Ablation: c.String("ablation"), Refactor: c.Bool("refactor"), Exact: c.Bool("exact"),
				BatchSize: c.Int("batch-size"), MaxLength: c.Int("max-length"), MaxTokens: c.Int64("max-tokens"),
				Threads: c.Int("threads"), GPULayers: c.Int("gpu-layers"), PerRow: c.String("per-row"), Progress: os.Stderr,
				CheckpointBatches: c.Int("checkpoint-batches"), CheckpointEvery: c.Duration("checkpoint-every"),
			}
			if cfg.CheckpointBatches < 1 || cfg.CheckpointEvery <= 0 {
				return fmt.Errorf("--checkpoint-batches %d, --checkpoint-every %s: want both > 0", cfg.CheckpointBatches, cfg.CheckpointEvery)
			}
			set, err := parseNeuronSetFlags("--neurons", c.String("neurons"), c.String("n-neurons"), c.Bool("baseline"))
			if err != nil {
				return err
			}
			cfg.Neurons = set.list
			av, err := parseAblationValues(c)
			if err != nil {
				return err
			}
			cfg.Gate, cfg.Post, cfg.Summary, cfg.Means = av.gate, av.post, av.summary, av.means
			if len(cfg.Neurons) == 0 && !set.named {
				cfg.Ablation = ""
			}
			opts := map[string]any{
				"neurons": c.String("neurons"), "ablation": cfg.Ablation, "means": c.String("means"), "gate": cfg.Gate.String(),
				"post": cfg.Post.String(), "refactor": cfg.Refactor, "exact": cfg.Exact, "batch_size": cfg.BatchSize,
				"max_length": cfg.MaxLength, "max_tokens": cfg.MaxTokens, "threads": cfg.Threads, "per_row": cfg.PerRow,
			}
			in, err := resolveInputs(c, "entropy", opts)
			if err != nil {
				return err
			}
			if set.named {
				// The set is drawn from the classes of the model being run (its Hugging Face directory when
				// --model is one), so the checkpoint, which compares cfg.Neurons, also compares the set.
				cm, err := classesModel(c.String("model"), in.model)
				if err != nil {
					return err
				}
				ns, err := set.resolve(cm, os.Stderr)
				if err != nil {
					return err
				}
				if set.spec.Baseline && (cfg.Gate != 0 || cfg.Post != 0) {
					ns.Warnings = append(ns.Warnings, "the reference runs no random baseline for conditional (--gate/--post) sets")
				}
				for _, w := range ns.Warnings {
					fmt.Fprintln(os.Stderr, "warning:", w)
				}
				cond := neuronsets.ConditionSuffix(cfg.Gate.String(), cfg.Post.String())
				fmt.Fprintf(os.Stderr, "neuron set %s: %s\n", ns.Name+cond, ns.layerSummary())
				ns.record(opts, c.String("n-neurons"), c.Bool("baseline"), cond)
				// Ablation does not depend on the order; the checkpoint wants the sorted list.
				cfg.Neurons = slices.Clone(ns.Neurons)
				hooks.SortNeurons(cfg.Neurons)
			}
			cfg.Model, cfg.ModelSHA256, cfg.Dataset, cfg.Out, cfg.RunInfo = in.model, in.modelSHA256, in.dataset, in.out, in.info
			sum, err := entropy.Run(cfg)
			if err != nil {
				return err
			}
			printEntropySummary(sum, cfg.Out)
			return nil
		},
	}
}

func printEntropySummary(s *entropy.Summary, out string) {
	fmt.Printf("\n%-18s %s\n", "model", filepath.Base(s.Model)+"  ("+s.ModelDesc+")")
	if s.Ablated > 0 {
		fmt.Printf("%-18s %d neurons, %s ablation, %s\n", "ablated", s.Ablated, s.Ablation, s.Condition)
	}
	fmt.Printf("%-18s %d rows, %d tokens (%.0f tokens/s)\n", "data", s.Rows, s.Tokens, s.TokensPerS)
	fmt.Printf("%-18s %10s\n", "metric", "mean")
	fmt.Printf("%-18s %10.4f\n", "entropy (nats)", s.MeanEntropy)
	fmt.Printf("%-18s %10.4f\n", "loss (nats)", s.MeanLoss)
	fmt.Printf("%-18s %10.2f   (median %.0f)\n", "rank", s.MeanRank, s.MedianRank)
	fmt.Printf("%-18s %10.4f\n", "top-1 accuracy", s.Top1)
	fmt.Printf("%-18s %10.4f\n", "log scale", s.MeanScale)
	fmt.Printf("wrote %s/{metrics.safetensors,summary.json,run.json}\n", out)
}
