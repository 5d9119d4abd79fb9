package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/experiments/generate"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "text generation (greedy or seeded sampling), clean and with a neuron set and its baseline ablated, side by side",
		UsageText: "wcos generate [--model M] [--prompt TEXT …] [--prompts FILE] [--max-new-tokens 1024] [--sample [--temperature 1] [--seed 0]] [--neurons CLASS [--n-neurons N|F|CLASS] | --neurons L.N,…|@FILE [--baseline-neurons L.N,…|@FILE]] [--ablation zero|mean --means FILE] [--gate +|-] [--post +|-] [--out DIR]",
		Description: `Continues each --prompt greedily (the most probable token at every step; ends at EOS) clean,
then with --neurons ablated, then with the baseline ablated, as the reference's
ablation_utils/generate.py did: 1,024 tokens after "<|endoftext|>" alone (the default: one empty
prompt, BOS only). The ablations are the entropy experiment's: zero or mean (--ablation mean --means),
at every token or only where the gate (--gate) and/or the refactored activation s_n·post (--post) has
the given sign. --neurons may name an RW class with --n-neurons, as in wcos entropy: the paper's named
set and its random baseline are then drawn from the model's classes.

--sample draws each token from softmax(logits / --temperature) instead (the reference's --do_sample,
which it left unseeded): --seed fixes the draws, each prompt has its own stream, and the clean and
ablated runs of a prompt draw the same numbers, so their texts differ by the ablation, not by chance.
Prompts go --batch (16) at a time; with --exact the texts do not depend on the batch, while in the
default mode flash attention over the shared F16 KV cache rounds differently with other prompts
beside one, which can change a sampled text.

Writes DIR/generations.jsonl (set, intervention, prompt index, text, new token ids, whether EOS ended
it), DIR/SET/generated_greedy.txt per set as the reference laid them out (generated_full.txt when
sampling at temperature 1, generated_tT.txt at T) (clean, the set and SET_baseline; spaces in names as _), DIR/summary.json and DIR/run.json, all at once at the end.

Examples:
  wcos generate --neurons weakening --n-neurons 24 --max-new-tokens 200 --out out/gen_w24
  wcos generate --prompt "The capital of France is" --prompt "In 1848" --neurons 7.3,7.9 --max-new-tokens 40
  wcos generate --prompts prompts.txt --neurons weakening --max-new-tokens 100 --out out/gen_w_prompts
  wcos generate --model olmo-7b-0424.f16.gguf --neurons "conditional weakening" --gate - --out out/gen_cw
  wcos generate --neurons weakening --sample --seed 7 --max-new-tokens 300 --out out/gen_w_sampled`,
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "GGUF file or Hugging Face directory (default: embedded tiny-olmo, F32)"},
			&cli.StringSliceFlag{Name: "prompt", Usage: "text to continue after BOS, repeatable (default: one empty prompt)"},
			&cli.StringFlag{Name: "prompts", Usage: "more prompts from a FILE: one a line, or JSONL (.jsonl/.json) with \"prompt\" or \"text\""},
			&cli.IntFlag{Name: "max-new-tokens", Value: generate.DefaultMaxNew, Usage: "tokens generated per prompt and set"},
			&cli.BoolFlag{Name: "sample", Usage: "draw each token from softmax(logits / --temperature) instead of the argmax"},
			&cli.Float64Flag{Name: "temperature", Value: 1, Usage: "with --sample: the softmax temperature (> 0)"},
			&cli.Uint64Flag{Name: "seed", Usage: "with --sample: the draws' seed"},
			&cli.IntFlag{Name: "batch", Value: generate.DefaultBatch, Usage: "prompts generated together"},
		}, ablationFlags("neuron set to ablate: L.N,L.N,…, @FILE with one L.N per line, or an RW class (with its random baseline)"), setNameFlags(), engineFlags(threadsGenerate), []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/generate-TIME)"},
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("generate: unexpected argument %q (options go before --, see --help)", c.Args().First())
			}
			cfg := generate.Config{
				Prompts: c.StringSlice("prompt"), MaxNew: c.Int("max-new-tokens"), Batch: c.Int("batch"), Ablation: c.String("ablation"),
				Refactor: c.Bool("refactor"), Exact: c.Bool("exact"), Threads: c.Int("threads"), GPULayers: c.Int("gpu-layers"),
				Progress: os.Stderr,
			}
			if p := c.String("prompts"); p != "" {
				more, err := generate.ReadPrompts(p)
				if err != nil {
					return fmt.Errorf("--prompts: %w", err)
				}
				cfg.Prompts = append(cfg.Prompts, more...)
			}
			if len(cfg.Prompts) == 0 {
				cfg.Prompts = []string{""}
			}
			if cfg.MaxNew < 1 || cfg.Batch < 1 {
				return fmt.Errorf("--max-new-tokens %d, --batch %d: want ≥ 1", cfg.MaxNew, cfg.Batch)
			}
			if c.Bool("sample") {
				if t := c.Float64("temperature"); !(t > 0) || math.IsInf(t, 0) {
					return fmt.Errorf("--temperature %g: want a finite value > 0", t)
				}
				cfg.Sampling = &bindings.Sampling{Temperature: c.Float64("temperature"), Seed: c.Uint64("seed")}
			} else if c.IsSet("temperature") || c.IsSet("seed") {
				return fmt.Errorf("--temperature and --seed need --sample")
			}
			sets, av, err := parseSetAblation(c)
			if err != nil {
				return err
			}
			cfg.Gate, cfg.Post, cfg.Summary, cfg.Means = av.gate, av.post, av.summary, av.means
			if cfg.Model, err = resolveModel(c.String("model"), c.String("type")); err != nil {
				return err
			}
			var named *neuronSet
			if cfg.Set, cfg.Baseline, named, err = sets.resolve(c, cfg.Model, av); err != nil {
				return err
			}
			if cfg.Out, err = freshOut(c, "generate"); err != nil {
				return err
			}
			opts := map[string]any{
				"model": cfg.Model, "prompts": cfg.Prompts, "max_new_tokens": cfg.MaxNew, "batch": cfg.Batch, "sample": c.Bool("sample"),
				"temperature": c.Float64("temperature"), "seed": c.Uint64("seed"),
				"exact": cfg.Exact, "threads": cfg.Threads, "gpu_layers": cfg.GPULayers, "out": cfg.Out,
			}
			recordSetOptions(opts, c, av, named)
			cfg.RunInfo = runinfo.New("generate", opts)
			if cfg.ModelSHA256, err = cfg.RunInfo.SetModel(cfg.Model); err != nil {
				return err
			}
			if err := cfg.RunInfo.AddInputs(c.String("means"), c.String("prompts")); err != nil {
				return err
			}
			gens, err := generate.Run(cfg)
			if err != nil {
				return err
			}
			for _, g := range gens {
				text := strings.TrimPrefix(g.Text, cfg.Prompts[g.Prompt])
				if len([]rune(text)) > 160 {
					text = string([]rune(text)[:160]) + "…"
				}
				fmt.Printf("%-24s prompt %d: %q\n", g.Set, g.Prompt, text)
			}
			fmt.Printf("\nwrote %s/{generations.jsonl,*/%s,summary.json,run.json}\n", cfg.Out, generate.TextName(cfg.Sampling))
			return nil
		},
	}
}
