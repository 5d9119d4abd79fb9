package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/freqs"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func freqsCommand() *cli.Command {
	return &cli.Command{
		Name:      "freqs",
		Usage:     "activation statistics of every neuron per sign quadrant gate±/in± in one streamed pass (resumable, shardable)",
		UsageText: "wcos freqs [--model M] [--dataset D] [--shard i/n] --out DIR",
		Description: `Streams the data set through the model once and accumulates, inside the engine's C hooks, per
layer, neuron and quadrant gate±/in± (strict signs; in = s_n·up with refactoring, the default): the token
count, the means of post, gate, in and swish, and the top-k tokens by |post| with (row, position)
(paper-spec §6.1, the neuroscope/GLUScope summary). Writes DIR/summary.safetensors ([layer, neuron] and
[k, layer, neuron] tensors; numpy/torch read it) and DIR/run.json, then beside them (paper-spec §6.2):
neurons.parquet/.csv (one row per neuron with its RW class and per-quadrant frequency and means, columns named as the
GLUScope dataset), freqs_by_class.csv/.md (mean frequency of gate>0 per RW class against a random
same-layer baseline drawn as the reference draws it, Python's random after random.seed(--baseline-seed)) and the figures layers, categories, linout, gateout,
gatelin, norm_gate and norm_in_out (per layer, the frequency against the cosine or norm with an OLS line
of it on the frequency, as the paper's figure), each also with all layers pooled (<name>_all_layers),
and linout_<first>_<middle>_<last> (the reference's selected layers, 0 15 31 for OLMo-7B); PNG and SVG.
Shards merge only if they are distinct shards of one split with the same inputs.

Long runs checkpoint into DIR.partial/ every --checkpoint-rows rows (or --checkpoint-every); rerunning
the same command after a kill resumes there and ends with a summary byte-identical to an uninterrupted
run. A checkpoint made with other inputs (model, the data set's rows done, --refactor, --k, --exact,
--batch-size, --max-length, --max-tokens, --shard, --gpu-layers, --per-row) is refused with an error naming the
difference and left as it is; delete DIR.partial to start over. Give --out: the default folder is new
for every run, so a rerun without it starts afresh. --shard i/n processes every n-th row; 'wcos merge'
adds shard summaries exactly.

Examples:
  wcos freqs --out out/freqs                                       # embedded model and text
  wcos freqs --model olmo-7b-0424.q8_0.gguf --dataset dolma-small --out out/olmo7b-freqs
  for i in 0 1 2 3; do wcos freqs --shard $i/4 --out out/part$i & done; wait
  wcos merge --out out/freqs out/part*/summary.safetensors
  wcos entropy --neurons @weakening.txt --ablation mean --means out/freqs/summary.safetensors`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "GGUF file or Hugging Face directory (default: embedded tiny-olmo)"},
			&cli.StringFlag{Name: "dataset", Usage: "token data set, JSONL, text, Parquet or Arrow (default: embedded evaluation text)"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/freqs-TIME)"},
			&cli.BoolFlag{Name: "refactor", Value: true, Usage: "quadrants by the refactored in-sign s_n·up (paper); false: raw up"},
			&cli.IntFlag{Name: "k", Value: 16, Usage: "top-k examples per layer, quadrant and neuron"},
			&cli.IntFlag{Name: "batch-size", Value: 4, Usage: "rows per forward pass"},
			&cli.IntFlag{Name: "max-length", Value: 1024, Usage: "truncate text rows to this many tokens (BOS included)"},
			&cli.Int64Flag{Name: "max-tokens", Usage: "stop once this many tokens are read (0: whole data set)"},
			&cli.StringFlag{Name: "shard", Value: "0/1", Usage: "i/n: process rows with index ≡ i (mod n)"},
			&cli.IntFlag{Name: "checkpoint-rows", Value: 1000, Usage: "save a checkpoint after this many rows"},
			&cli.DurationFlag{Name: "checkpoint-every", Value: 5 * time.Minute, Usage: "… or after this much time"},
			&cli.BoolFlag{Name: "exact", Usage: "no flash attention, F32 KV cache (matches Hugging Face within 1e-3)"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (default: all)"},
			&cli.IntFlag{Name: "gpu-layers", Value: -1, Usage: "layers offloaded to a GPU in CUDA builds (-1: all if a GPU backend is loaded)"},
			&cli.StringFlag{Name: "per-row", Value: "auto", Usage: "decode a batch's rows one after the other: on, off, or auto (on unless the model is on a GPU)"},
			&cli.StringFlag{Name: "type", Value: "f32", Usage: "GGUF type when converting a Hugging Face --model"},
		}, outputFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("freqs: unexpected argument %q", c.Args().First())
			}
			cfg := freqs.Config{
				Refactor: c.Bool("refactor"), K: c.Int("k"), BatchSize: c.Int("batch-size"), MaxLength: c.Int("max-length"),
				MaxTokens: c.Int64("max-tokens"), CheckpointRows: c.Int("checkpoint-rows"), CheckpointEvery: c.Duration("checkpoint-every"),
				Exact: c.Bool("exact"), Threads: c.Int("threads"), GPULayers: c.Int("gpu-layers"), PerRow: c.String("per-row"), Progress: os.Stderr,
			}
			if _, err := fmt.Sscanf(c.String("shard"), "%d/%d", &cfg.Shard, &cfg.NShards); err != nil || cfg.NShards < 1 || cfg.Shard < 0 || cfg.Shard >= cfg.NShards {
				return fmt.Errorf("--shard %q: want i/n with 0 ≤ i < n", c.String("shard"))
			}
			in, err := resolveInputs(c, "freqs", map[string]any{
				"refactor": cfg.Refactor, "k": cfg.K, "batch_size": cfg.BatchSize, "max_length": cfg.MaxLength,
				"max_tokens": cfg.MaxTokens, "shard": c.String("shard"), "exact": cfg.Exact, "per_row": cfg.PerRow,
			})
			if err != nil {
				return err
			}
			cfg.Model, cfg.ModelSHA256, cfg.Dataset, cfg.Out = in.model, in.modelSHA256, in.dataset, in.out
			info := in.info
			s, err := freqs.Run(cfg)
			if err != nil {
				return err
			}
			info.Options["log"], info.Options["baseline_seed"] = c.Bool("log"), c.Int64("baseline-seed")
			if err := info.Write(cfg.Out); err != nil {
				return err
			}
			printFreqsSummary(s, cfg.Out)
			return writeFreqsOutputs(c, cfg.Out, s, cfg.Model, cfg.ModelSHA256)
		},
	}
}

func mergeCommand() *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "combine shard summaries of 'wcos freqs --shard i/n' exactly",
		UsageText: "wcos merge --out DIR SUMMARY.safetensors...",
		Description: `Adds the shard summaries' counts and sums exactly and writes DIR/summary.safetensors with the
tables and figures of 'wcos freqs'; RW classes for them come from --model's weights, which must be the
model the shards were computed with.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "output folder for the merged summary.safetensors"},
			&cli.StringFlag{Name: "model", Usage: "the shards' model, for the RW classes (default: embedded tiny-olmo)"},
			&cli.StringFlag{Name: "type", Value: "f32", Usage: "GGUF type when converting a Hugging Face --model"},
		}, outputFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("merge: no summaries given")
			}
			var parts []*freqs.Summary
			for _, p := range c.Args().Slice() {
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					p = filepath.Join(p, "summary.safetensors")
				}
				s, err := freqs.Read(p)
				if err != nil {
					return err
				}
				parts = append(parts, s)
			}
			m, err := freqs.Merge(parts)
			if err != nil {
				return err
			}
			model, err := resolveModel(c.String("model"), c.String("type"))
			if err != nil {
				return err
			}
			// Hashed before anything is written, so a wrong --model leaves no half-made folder.
			mi, err := runinfo.Hash(model)
			if err != nil {
				return err
			}
			if sha := m.Meta["model_sha256"]; sha != "" && sha != mi.SHA256 {
				return fmt.Errorf("%s: summaries of model %s (sha256 %.12s…), not of --model %s", c.Args().First(), m.Meta["model"], sha, model)
			}
			out := c.String("out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := m.Write(filepath.Join(out, "summary.safetensors")); err != nil {
				return err
			}
			printFreqsSummary(m, out)
			return writeFreqsOutputs(c, out, m, model, mi.SHA256)
		},
	}
}

func printFreqsSummary(s *freqs.Summary, out string) {
	N := s.NFF
	fmt.Printf("\n%d rows, %d tokens, %d layers × %d neurons, shard %s\n", s.Rows, s.Tokens, s.NLayer, N, s.Meta["shard"])
	fmt.Printf("%-6s %s\n", "layer", "mean fraction of tokens per quadrant ("+strings.Join(freqs.Quadrants, " ")+")")
	for l := 0; l < s.NLayer; l++ {
		fmt.Printf("%-6d", l)
		for q := range freqs.Quadrants {
			var c int64
			for n := 0; n < N; n++ {
				c += s.State.Count[(l*4+q)*N+n]
			}
			fmt.Printf(" %9.4f", float64(c)/float64(N)/float64(max(s.Tokens, 1)))
		}
		fmt.Println()
	}
	fmt.Printf("wrote %s/summary.safetensors\n", out)
}

// outputFlags are freqs' and merge's flags for WriteOutputs (fresh values: cli flags keep state).
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "log", Usage: "log-scaled y axes in the frequency histograms, files layers_log and categories_log (freqs.py --log)"},
		&cli.Int64Flag{Name: "baseline-seed", Value: freqs.BaselineSeed, Usage: "random.seed of the same-layer baselines of the by-class table (Python's generator; the reference's 2512800 draws its neurons)"},
	}
}

// writeFreqsOutputs adds neurons.parquet/.csv, freqs_by_class.csv/.md and the figures beside the
// summary and prints the by-class table.
func writeFreqsOutputs(c *cli.Context, out string, s *freqs.Summary, model, sha string) error {
	o, err := freqs.WriteOutputs(out, s, model, freqs.OutputOptions{LogY: c.Bool("log"), Seed: c.Int64("baseline-seed"), ModelSHA256: sha})
	if err != nil {
		return err
	}
	fmt.Printf("\n%s", o.Table())
	fmt.Printf("wrote %s/{%s}\n", out, strings.Join(o.Files, ","))
	return nil
}
