package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/convert"
	"github.com/wcos-dev/wcos/models"
)

func synthCommand() *cli.Command {
	d := convert.OLMo7B
	return &cli.Command{
		Name:      "synth",
		Usage:     "write an OLMo-1 GGUF with random weights (default: OLMo-7B-0424's shape) for benchmarks",
		UsageText: "wcos synth [--layers N --d-model D --d-mlp F --heads H --vocab V] [--type f16] [--from F16.gguf] -o OUT.gguf",
		Description: `Speed does not depend on the weights' values, so a model of a large shape can be benchmarked
where its weights are not at hand. Weights are uniform with standard deviation --std, drawn from a
fixed --seed block by block on every CPU (the file does not depend on --threads), and written one
tensor at a time. The vocabulary is the embedded tiny-olmo's GPT-NeoX tokenizer (OLMo-1's), so the
model tokenises text; --vocab must be at least its 50280 tokens. q8_0 and q4_k_m go through llama.cpp's
quantiser from a temporary F16 file, or from --from (a synthetic F16 file made before).

Examples:
  wcos synth -o olmo7b-synth-f16.gguf                                  # 6.9B parameters, 13.8 GB
  wcos synth --type q4_k_m --from olmo7b-synth-f16.gguf -o olmo7b-synth-q4_k_m.gguf
  wcos synth --layers 4 --d-model 256 --d-mlp 512 --heads 4 --type f32 -o small.gguf`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "GGUF file to write (replaced only on success)"},
			&cli.IntFlag{Name: "layers", Value: d.Layers, Usage: "layers"},
			&cli.IntFlag{Name: "d-model", Value: d.DModel, Usage: "model width"},
			&cli.IntFlag{Name: "d-mlp", Value: d.DMLP, Usage: "MLP width (neurons per layer)"},
			&cli.IntFlag{Name: "heads", Value: d.Heads, Usage: "attention heads"},
			&cli.IntFlag{Name: "vocab", Value: d.Vocab, Usage: "vocabulary size (output rows)"},
			&cli.Float64Flag{Name: "clip-qkv", Value: float64(d.ClipQKV), Usage: "clip_qkv (0: none)"},
			&cli.BoolFlag{Name: "tied", Usage: "tie the output matrix to the embedding (OLMo-7B-0424: untied)"},
			&cli.StringFlag{Name: "type", Value: "f16", Usage: "f32, f16, bf16, q8_0 or q4_k_m"},
			&cli.StringFlag{Name: "from", Usage: "quantise this GGUF instead of generating (q8_0, q4_k_m)"},
			&cli.Float64Flag{Name: "std", Value: 0.02, Usage: "standard deviation of the weights"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed"},
			&cli.IntFlag{Name: "threads", Usage: "threads (default: all CPUs)"},
			&cli.StringFlag{Name: "tokenizer", Usage: "Hugging Face directory with tokenizer.json (default: the embedded tiny-olmo's)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("synth: unexpected argument %q (options go first)", c.Args().First())
			}
			o := convert.SynthOptions{
				Layers: c.Int("layers"), DModel: c.Int("d-model"), DMLP: c.Int("d-mlp"), Heads: c.Int("heads"),
				Vocab: c.Int("vocab"), ClipQKV: float32(c.Float64("clip-qkv")), Tied: c.Bool("tied"), Type: c.String("type"),
				From: c.String("from"), Std: float32(c.Float64("std")), Seed: c.Uint64("seed"), Threads: c.Int("threads"),
				TokenizerDir: c.String("tokenizer"), Log: os.Stderr,
			}
			if o.TokenizerDir == "" && o.From == "" {
				dir, err := models.DefaultHFDir()
				if err != nil {
					return err
				}
				o.TokenizerDir = dir
			}
			rep, err := convert.Synthetic(c.String("output"), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s\t%s\t%d tensors\t%d bytes\t%.2fs\n", rep.Path, rep.Type, rep.Tensors, rep.Bytes, rep.Elapsed.Seconds())
			return nil
		},
	}
}
