package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/knowns"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func knownsCommand() *cli.Command {
	return &cli.Command{
		Name:      "knowns",
		Usage:     "keep the facts the model knows (greedy generation names the attribute first), for wcos attributes",
		UsageText: "wcos knowns [--model M] [--facts FILE] [--max-tokens 100] [--batch 32] [--out DIR]",
		Description: `The known-facts filter of the attributes experiment (paper-spec §5.1, the reference's
wiki/knowns.py after ROME): each fact's prompt (" " + template with the subject) is continued greedily,
10 tokens a round, until the model either names the attribute (case-insensitively) before or at the
first capitalised word it writes — the fact is known — or writes another capitalised word or ends the
text first. A known fact's prompt becomes the text up to the attribute and its prediction the rest,
as in the reference's known_<model>.json. --facts takes JSONL or a JSON array such as ROME's
known_1000.json; every fact needs subject, template, prompt and attribute. Facts go --batch at a time;
with --exact the verdicts do not depend on the batch (in the default mode flash attention over the
shared F16 KV cache rounds differently with other facts beside one, which can flip a near-tie).

Writes DIR/knowns.jsonl (the known facts: use it as wcos attributes --facts), DIR/rejected.jsonl (each
other fact with its generated text and "unknown" or "undecided": no decision within --max-tokens),
DIR/summary.json and DIR/run.json, all at once at the end.

Examples:
  wcos knowns                                                # embedded tiny-olmo and facts
  wcos knowns --model olmo-7b-0424.f16.gguf --facts known_1000.json --out out/knowns
  wcos attributes --model olmo-7b-0424.f16.gguf --facts out/knowns/knowns.jsonl --neurons weakening`,
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "GGUF file or Hugging Face directory (default: embedded tiny-olmo, F32)"},
			&cli.StringFlag{Name: "facts", Usage: "facts, JSONL or a JSON array (default: the embedded 1,580 facts)"},
			&cli.IntFlag{Name: "max-tokens", Value: knowns.DefaultMaxTokens, Usage: "tokens generated per fact before it counts as undecided"},
			&cli.IntFlag{Name: "batch", Value: knowns.DefaultBatch, Usage: "facts generated together"},
			&cli.IntFlag{Name: "max-facts", Usage: "use only the first N facts (0: all)"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/knowns-TIME)"},
		}, engineFlags(threadsGenerate)),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("knowns: unexpected argument %q (options go before --, see --help)", c.Args().First())
			}
			cfg := knowns.Config{
				MaxTokens: c.Int("max-tokens"), Batch: c.Int("batch"), MaxFacts: c.Int("max-facts"), Exact: c.Bool("exact"),
				Threads: c.Int("threads"), GPULayers: c.Int("gpu-layers"), Progress: os.Stderr,
			}
			if cfg.MaxTokens < 1 || cfg.Batch < 1 || cfg.MaxFacts < 0 {
				return fmt.Errorf("--max-tokens %d, --batch %d, --max-facts %d: want ≥ 1, ≥ 1 and ≥ 0", cfg.MaxTokens, cfg.Batch, cfg.MaxFacts)
			}
			var err error
			if cfg.Facts, err = embeddedOr(c.String("facts"), "facts/facts.jsonl"); err != nil {
				return fmt.Errorf("--facts: %w", err)
			}
			if _, err := knowns.ReadFacts(cfg.Facts); err != nil {
				return err
			}
			if cfg.Model, err = resolveModel(c.String("model"), c.String("type")); err != nil {
				return err
			}
			if cfg.Out, err = freshOut(c, "knowns"); err != nil {
				return err
			}
			cfg.RunInfo = runinfo.New("knowns", map[string]any{
				"model": cfg.Model, "facts": cfg.Facts, "max_tokens": cfg.MaxTokens, "batch": cfg.Batch,
				"max_facts": cfg.MaxFacts, "exact": cfg.Exact, "threads": cfg.Threads, "gpu_layers": cfg.GPULayers, "out": cfg.Out,
			})
			if _, err := cfg.RunInfo.SetModel(cfg.Model); err != nil {
				return err
			}
			if err := cfg.RunInfo.AddInputs(cfg.Facts); err != nil {
				return err
			}
			res, err := knowns.Run(cfg)
			if err != nil {
				return err
			}
			s := res.Summary
			fmt.Printf("\n%-10s %s  (%s)\n", "model", filepath.Base(s.Model), s.ModelDesc)
			fmt.Printf("%-10s %d\n", "facts", s.Facts)
			fmt.Printf("%-10s %d (%.1f %%)\n", "known", s.Known, 100*float64(s.Known)/float64(s.Facts))
			fmt.Printf("%-10s %d\n", "unknown", s.Unknown)
			fmt.Printf("%-10s %d (no decision within %d tokens)\n", "undecided", s.Undecided, s.MaxTokens)
			fmt.Printf("%-10s %d tokens in %d rounds\n", "generated", s.Generated, s.Rounds)
			fmt.Printf("\nknown facts: %s\n", filepath.Join(cfg.Out, "knowns.jsonl"))
			return nil
		},
	}
}
