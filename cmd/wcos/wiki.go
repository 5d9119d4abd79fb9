package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/attributes"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/wiki"
)

func wikiCommand() *cli.Command {
	return &cli.Command{
		Name:      "wiki",
		Usage:     "retrieve each subject's Wikipedia paragraphs (BM25) into wiki.csv, the attributes for wcos attributes",
		UsageText: "wcos wiki --paragraphs paragraphs.txt --titles titles.txt [--facts FILE] [-k 100] [--out DIR]",
		Description: `The retrieval step of the attributes experiment (paper-spec §5.1, the reference's
wiki/wiki_retrieve.py after Geva et al. 2023): every subject of --facts is a BM25 query over the
paragraphs of an English Wikipedia dump; of its -k best paragraphs, those whose title or text contains
the subject (as it is, or as Python's str.capitalize writes it) are kept and concatenated into the
subject's row of wiki.csv. wcos attributes --attributes wiki.csv then takes each subject's tokens
from there.

--paragraphs and --titles are the files of the reference's wiki/wiki_preprocess.py: one paragraph of
plain text a line, and line for line its "Article. Section" path (blank lines do not count). The
reference used the enwiki dump of 2021-10-20 and the unfiltered subjects of ROME's known_1000.json.
The scores are bm25s's as the reference called it (method lucene, k1 1.5, b 0.75, float32, the
vocabulary learnt from the subjects, so a paragraph's length counts only subject words; see package
wiki), checked against a Python restatement. The paragraphs are read twice (index, then the texts of
the retrieved ones); memory grows with the number of paragraphs (4 bytes each) and the occurrences of
subject words (8 bytes each), not with the text.

Writes DIR/wiki.csv (an unnamed index column, subject, paragraphs: the reference's layout),
DIR/retrieval.jsonl (per subject: the query words, the -k hits with scores and the kept ones),
DIR/summary.json and DIR/run.json, all at once at the end.

Examples:
  wcos wiki --paragraphs wiki_data/paragraphs.txt --titles wiki_data/titles.txt --facts known_1000.json --out out/wiki
  wcos attributes --model olmo-7b-0424.q8_0.gguf --facts out/knowns/knowns.jsonl --attributes out/wiki/wiki.csv`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "paragraphs", Required: true, Usage: "paragraphs.txt: one paragraph a line"},
			&cli.StringFlag{Name: "titles", Required: true, Usage: "titles.txt: the title of each paragraph, line for line"},
			&cli.StringFlag{Name: "facts", Usage: "facts whose subjects are the queries: JSONL or a JSON array such as known_1000.json (default: the embedded 1,580 facts)"},
			&cli.IntFlag{Name: "k", Value: wiki.DefaultK, Usage: "paragraphs retrieved per subject"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/wiki-TIME)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("wiki: unexpected argument %q (options go before --, see --help)", c.Args().First())
			}
			cfg := wiki.Config{Paragraphs: c.String("paragraphs"), Titles: c.String("titles"), K: c.Int("k"), Progress: os.Stderr}
			if cfg.K < 1 {
				return fmt.Errorf("-k %d: want ≥ 1", cfg.K)
			}
			factsPath, err := embeddedOr(c.String("facts"), "facts/facts.jsonl")
			if err != nil {
				return fmt.Errorf("--facts: %w", err)
			}
			facts, err := attributes.ReadFacts(factsPath)
			if err != nil {
				return err
			}
			for _, f := range facts {
				cfg.Subjects = append(cfg.Subjects, f.Subject)
			}
			if cfg.Out, err = freshOut(c, "wiki"); err != nil {
				return err
			}
			cfg.RunInfo = runinfo.New("wiki", map[string]any{
				"paragraphs": cfg.Paragraphs, "titles": cfg.Titles, "facts": factsPath, "k": cfg.K, "out": cfg.Out,
			})
			if err := cfg.RunInfo.AddInputs(cfg.Paragraphs, cfg.Titles, factsPath); err != nil {
				return err
			}
			res, err := wiki.Run(cfg)
			if err != nil {
				return err
			}
			s := res.Summary
			fmt.Printf("\n%-12s %d (%d without subject words; %.2f subject words on average)\n", "paragraphs", s.Paragraphs, s.EmptyParagraphs, s.AvgLength)
			fmt.Printf("%-12s %d (%d query words)\n", "subjects", s.Subjects, s.Terms-1)
			fmt.Printf("%-12s %d with paragraphs, %.1f kept of %d retrieved on average\n", "kept", s.WithParagraphs, s.KeptMean, s.K)
			fmt.Printf("%-12s %.1f s\n", "time", s.Seconds)
			fmt.Printf("\nattributes: %s\n", filepath.Join(cfg.Out, "wiki.csv"))
			return nil
		},
	}
}
