package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/attributes"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func attributesCommand() *cli.Command {
	return &cli.Command{
		Name:      "attributes",
		Usage:     "attributes rate of the subject's residual stream per layer (logit lens), clean and with a neuron set ablated",
		UsageText: "wcos attributes [--model M] [--facts FILE] [--neurons CLASS [--n-neurons N|F|CLASS] | --neurons L.N,…|@FILE [--baseline-neurons L.N,…|@FILE]] [--ablation zero|mean --means FILE] [--gate +|-] [--post +|-] [--attributes FILE] [--topk 50] [--stopwords nltk|nltk-179|FILE] [--out DIR]",
		Description: `The attributes-rate experiment (paper-spec §5, after Geva et al. 2023): for every fact, the prompt
(BOS + prompt) is run up to the last token of the subject, and the residual stream after each layer
(hook_resid_post) at that token is read through the logit lens (· W_U, no final LayerNorm). The
attributes rate of a layer is the percentage of its top-k tokens (stopwords and tokens of ≤ 2
characters removed) that are tokens of the subject's attributes; -1 (left out of means) when nothing is
left or the subject has no attributes. Record "emb" reads the mean embedding of the subject's tokens
the same way.

--attributes wiki.csv takes the reference's attributes: the subjects' Wikipedia paragraphs, as wcos wiki
or the reference's wiki_retrieve.py writes them. A subject's attribute tokens are then BOS and the
first tokens of its paragraphs, --paragraph-tokens in all (the reference's TransformerLens truncated
to n_ctx, 2048), without stopwords (case-sensitive) and tokens of ≤ 2 characters; a subject in the
file with no paragraphs keeps BOS and rates 0, one not in the file -1, as in the reference. Without
it, the embedded subject_attributes.json (attribute names for the embedded facts) stands in, each name
tokenised with and without a leading space. The stopwords
are NLTK's English list as a current nltk_data download has it (198 words since 2025-02-20, the
reference's); --stopwords nltk-179 takes the list before that (without i'm, he's, we're, …) and
--stopwords FILE one of your own, one word per line.

Runs clean, then with --neurons ablated, then with --baseline-neurons ablated (e.g. a random
same-layer baseline). --neurons may name an RW class, with --n-neurons as in wcos entropy: the paper's
named set and its random baseline (paper-spec §3) are then drawn from the model's classes and both
run. The ablations are the entropy experiment's: zero or mean (--ablation mean --means),
at every token or only where the gate (--gate) and/or the refactored activation s_n·post (--post) has
the given sign. A fact whose subject is not in its prompt is skipped and counted in summary.json.
Facts are decoded --batch at a time, each its own sequence (the reference ran one at a time).

Writes DIR/records.parquet and DIR/records.csv (one row per fact, layer and set: subject tokens,
position, top-k tokens, cleaned tokens, rate), DIR/rates_by_layer.csv (mean, std and 95 % bootstrap
CI per set and layer over facts with rate > -1), DIR/attributes_<intervention>.png/.svg (mean rate vs
layer with 95 % CI bands), DIR/summary.json and DIR/run.json, all at once at the end.

Examples:
  wcos attributes                                          # embedded tiny-olmo and facts, clean only
  wcos attributes --neurons weakening --out out/attr_w           # the class and its random baseline
  wcos attributes --neurons 5.0,5.1,7.100 --baseline-neurons 5.7,5.300,7.9 --out out/attr
  wcos attributes --neurons @weakening.txt --set-name weakening --gate - --post + --out out/attr_w
  wcos attributes --neurons @cw.txt --ablation mean --means freqs-out/summary.safetensors --max-facts 200
  wcos knowns --model olmo-7b-0424.q8_0.gguf --facts known_1000.json --out out/knowns   # the facts it knows
  wcos wiki --paragraphs wiki_data/paragraphs.txt --titles wiki_data/titles.txt --facts known_1000.json --out out/wiki
  wcos attributes --model olmo-7b-0424.q8_0.gguf --facts out/knowns/knowns.jsonl --attributes out/wiki/wiki.csv`,
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "GGUF file or Hugging Face directory (default: embedded tiny-olmo, F32)"},
			&cli.StringFlag{Name: "facts", Usage: "facts with id, subject, prompt: JSONL or a JSON array, e.g. wcos knowns' knowns.jsonl (default: the embedded 1,580 facts)"},
			&cli.StringFlag{Name: "attributes", Usage: "wiki.csv (subject, paragraphs: see wcos wiki) or JSON {\"subject\": [\"attribute\", …]} (default: the embedded subject_attributes.json)"},
			&cli.IntFlag{Name: "paragraph-tokens", Value: attributes.DefaultParagraphTokens, Usage: "with wiki.csv: tokens of each subject's paragraphs that count, BOS included (0: all)"},
		}, ablationFlags("neuron set to ablate: L.N,L.N,…, @FILE with one L.N per line, or an RW class (with its random baseline)"), setNameFlags(), []cli.Flag{
			&cli.IntFlag{Name: "topk", Value: attributes.DefaultTopK, Usage: "tokens read from the logit lens per layer"},
			&cli.StringFlag{Name: "stopwords", Value: attributes.DefaultStopwords, Usage: "stopword list: nltk (NLTK's English list since 2025-02-20, 198 words), nltk-179 (before), or a FILE with one word per line"},
			&cli.IntFlag{Name: "max-facts", Usage: "use only the first N facts (0: all)"},
			&cli.IntFlag{Name: "batch", Value: attributes.DefaultBatch, Usage: "facts decoded together, each its own sequence (on the CPU the records do not depend on it)"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/attributes-TIME)"},
		}, engineFlags("CPU threads (default: all)")),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("attributes: unexpected argument %q (options go before --, see --help)", c.Args().First())
			}
			cfg := attributes.Config{
				Ablation: c.String("ablation"), Refactor: c.Bool("refactor"), TopK: c.Int("topk"), MaxFacts: c.Int("max-facts"),
				Exact: c.Bool("exact"), Threads: c.Int("threads"), GPULayers: c.Int("gpu-layers"), Progress: os.Stderr,
				ParagraphTokens: c.Int("paragraph-tokens"), Batch: c.Int("batch"),
			}
			if cfg.TopK < 1 || cfg.Batch < 1 || cfg.MaxFacts < 0 || cfg.ParagraphTokens < 0 {
				return fmt.Errorf("--topk %d, --batch %d, --max-facts %d, --paragraph-tokens %d: want --topk and --batch ≥ 1, the others ≥ 0",
					cfg.TopK, cfg.Batch, cfg.MaxFacts, cfg.ParagraphTokens)
			}
			sets, av, err := parseSetAblation(c)
			if err != nil {
				return err
			}
			cfg.Gate, cfg.Post, cfg.Summary, cfg.Means = av.gate, av.post, av.summary, av.means
			// Inputs: checked before any output folder is made.
			if cfg.Facts, err = embeddedOr(c.String("facts"), "facts/facts.jsonl"); err != nil {
				return fmt.Errorf("--facts: %w", err)
			}
			if cfg.Attributes, err = embeddedOr(c.String("attributes"), "facts/subject_attributes.json"); err != nil {
				return fmt.Errorf("--attributes: %w", err)
			}
			if _, err := attributes.ReadFacts(cfg.Facts); err != nil {
				return err
			}
			if _, err := attributes.ReadAttributes(cfg.Attributes); err != nil {
				return err
			}
			cfg.StopwordsName = c.String("stopwords")
			if cfg.Stopwords, err = attributes.LoadStopwords(cfg.StopwordsName); err != nil {
				return fmt.Errorf("--stopwords: %w", err)
			}
			stopFile := cfg.StopwordsName // hashed into run.json unless a built-in list
			if _, ok := attributes.StopwordLists[stopFile]; ok {
				stopFile = ""
			}
			if cfg.Model, err = resolveModel(c.String("model"), c.String("type")); err != nil {
				return err
			}
			var named *neuronSet // the named set (not its baseline), for the summary and run.json
			if cfg.Set, cfg.Baseline, named, err = sets.resolve(c, cfg.Model, av); err != nil {
				return err
			}
			if cfg.Out, err = freshOut(c, "attributes"); err != nil {
				return err
			}
			opts := map[string]any{
				"model": cfg.Model, "facts": cfg.Facts, "attributes": cfg.Attributes, "paragraph_tokens": cfg.ParagraphTokens, "batch": cfg.Batch, "topk": cfg.TopK, "max_facts": cfg.MaxFacts, "exact": cfg.Exact, "threads": cfg.Threads,
				"gpu_layers": cfg.GPULayers, "out": cfg.Out, "stopwords": cfg.StopwordsName, "stopwords_words": len(cfg.Stopwords),
			}
			recordSetOptions(opts, c, av, named)
			cfg.RunInfo = runinfo.New("attributes", opts)
			if cfg.ModelSHA256, err = cfg.RunInfo.SetModel(cfg.Model); err != nil {
				return err
			}
			if err := cfg.RunInfo.AddInputs(cfg.Facts, cfg.Attributes, c.String("means"), stopFile); err != nil {
				return err
			}
			res, err := attributes.Run(cfg)
			if err != nil {
				return err
			}
			printAttributesSummary(res, cfg.Out)
			return nil
		},
	}
}

func printAttributesSummary(r *attributes.Result, out string) {
	s := r.Summary
	fmt.Printf("\n%-10s %s\n", "model", filepath.Base(s.Model)+"  ("+s.ModelDesc+")")
	fmt.Printf("%-10s %d of %d used (%d skipped: subject not in the prompt; %d without attributes), top-%d\n", "facts",
		s.FactsUsed, s.Facts, s.Skipped, s.NoAttributes, s.TopK)
	fmt.Printf("%-10s %s (%d words)\n", "stopwords", s.Stopwords, s.StopwordsN)
	if s.LensDevice != "" {
		fmt.Printf("%-10s W_U on %s\n", "lens", s.LensDevice)
	}
	if s.Attributes == "paragraphs" {
		cut := "all tokens"
		if s.ParagraphTokens > 0 {
			cut = fmt.Sprintf("BOS + the first %d tokens", s.ParagraphTokens-1)
		}
		fmt.Printf("%-10s Wikipedia paragraphs (%s)\n", "attributes", cut)
	}
	fmt.Printf("%-10s", "layer")
	for _, set := range s.Sets {
		fmt.Printf(" %16s", set.Name)
	}
	fmt.Println()
	layers := []string{"emb"}
	for l := 0; l < s.Layers; l++ {
		layers = append(layers, fmt.Sprint(l))
	}
	for _, l := range layers {
		fmt.Printf("%-10s", l)
		for _, set := range s.Sets {
			cell := "-"
			for _, lr := range r.Rates {
				if lr.Set == set.Name && lr.Layer == l && lr.N > 0 {
					cell = fmt.Sprintf("%.2f [%.2f,%.2f]", lr.Mean, lr.Low, lr.High)
				}
			}
			fmt.Printf(" %16s", cell)
		}
		fmt.Println()
	}
	fmt.Printf("wrote %s/{records.parquet,records.csv,rates_by_layer.csv,%s,summary.json,run.json}\n", out, s.Figure)
}
