package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/convert"
)

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "convert an OLMo-1 Hugging Face checkpoint to a GGUF file for llama.cpp",
		ArgsUsage: "HF_DIR",
		Description: `Reads HF_DIR (config.json with architectures ["OlmoForCausalLM"], one or more safetensors
shards with model.safetensors.index.json, tokenizer.json, tokenizer_config.json) and writes a GGUF
file that llama.cpp loads as architecture "olmo": Q/K rows permuted for llama.cpp's RoPE, clip_qkv
written as olmo.attention.clamp_kqv, LayerNorm epsilon 1e-5, the GPT-NeoX BPE vocabulary padded to
vocab_size, BOS = EOS when the config has no BOS. An untied lm_head becomes output.weight; tied
embeddings write none. The output appears only when conversion succeeds.

Types: f32, f16 and bf16 are written directly (default: the checkpoint's own dtype, no rounding);
q8_0 and q4_k_m go through llama.cpp's quantiser. Tensors whose rows are not a multiple of the
quantisation block (32 for q8_0, 256 for q4_k_m; e.g. tiny-olmo's ffn_down, rows of 688) stay F16,
and the log lists them. Use f32 for fidelity against Hugging Face (the exact mode of engine.md §11).

Examples:
   # the shipped tiny model, exact weights
   wcos convert models/tiny-olmo -o tiny-olmo-f32.gguf --type f32

   # a local copy of allenai/OLMo-7B-0424-hf (untied lm_head, clip_qkv 8, eos 50279; all read
   # from its config.json)
   huggingface-cli download allenai/OLMo-7B-0424-hf --local-dir OLMo-7B-0424-hf
   wcos convert OLMo-7B-0424-hf -o olmo-7b-0424-f16.gguf --type f16
   wcos convert OLMo-7B-0424-hf -o olmo-7b-0424-q8_0.gguf --type q8_0 --threads 16`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "GGUF file to write (required; replaced only on success)"},
			&cli.StringFlag{Name: "type", Usage: "output type: " + strings.Join(convert.Types, ", ") + " (default: the checkpoint's dtype)"},
			&cli.IntFlag{Name: "threads", Usage: "quantisation threads (default: all CPUs)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
		},
		Action: func(c *cli.Context) error {
			a, err := convertArgs(c)
			if err != nil {
				return err
			}
			opts := convert.Options{Type: a.typ, Threads: a.threads, Log: os.Stderr}
			if a.quiet {
				opts.Log = nil
			}
			rep, err := convert.Convert(a.dir, a.out, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s\t%s\t%d tensors\t%d bytes\t%.2fs\n", rep.Path, rep.Type, rep.Tensors, rep.Bytes, rep.Elapsed.Seconds())
			return nil
		},
	}
}

type convertFlags struct {
	dir, out, typ string
	threads       int
	quiet         bool
}

// convertArgs reads HF_DIR and the flags. urfave/cli v2 stops parsing flags at the first argument, so
// flags after HF_DIR (the documented "wcos convert HF_DIR -o OUT.gguf") are parsed here.
func convertArgs(c *cli.Context) (convertFlags, error) {
	a := convertFlags{out: c.String("output"), typ: c.String("type"), threads: c.Int("threads"), quiet: c.Bool("quiet")}
	if c.NArg() == 0 {
		return a, fmt.Errorf("convert: missing HF_DIR (see wcos convert --help)")
	}
	a.dir = c.Args().First()
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, n := range []string{"output", "o"} {
		fs.StringVar(&a.out, n, a.out, "")
	}
	fs.StringVar(&a.typ, "type", a.typ, "")
	fs.IntVar(&a.threads, "threads", a.threads, "")
	for _, n := range []string{"quiet", "q"} {
		fs.BoolVar(&a.quiet, n, a.quiet, "")
	}
	if err := fs.Parse(c.Args().Tail()); err != nil {
		return a, fmt.Errorf("convert: %v (see wcos convert --help)", err)
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("convert: unexpected arguments %q: want one HF_DIR", fs.Args())
	}
	if a.out == "" {
		return a, fmt.Errorf("convert: -o OUT.gguf is required")
	}
	return a, nil
}
