package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/dataset"
)

const datasetDescription = `Reads SOURCEs in order and writes a token dataset directory (tokens.bin, offsets.bin, meta.json;
docs/dataset-format.md) that every experiment reads. A SOURCE is JSONL (.jsonl/.json, also .gz/.zst)
with "text" or "input_ids" per line, a .txt file (one document) or a directory of them, Parquet or
Arrow with a text or input_ids column, a Hugging Face save_to_disk directory, or another token dataset.
input_ids are used as given (checked against the vocabulary); text is tokenised with the model's
tokenizer, its BOS prepended (OLMo has none and takes the EOS id, as dolma-small has) and cut to
--max-length (BOS included), as dolma-small was (paper-spec §7). --tokens keeps the shortest prefix of rows reaching that many tokens. The output
appears only when complete; a bad row stops with its file and line. meta.json records the tokenizer's
fingerprint, and entropy, freqs and dataset refuse the set for a model whose tokenizer differs (its ids
would be other tokens: the reference once ran Llama on OLMo's ids, paper-spec §10).

Examples:
   # the shipped evaluation text, tokenised with the default model
   wcos dataset --out runs/sotu-moby data/eval/sotu-moby-valid.jsonl

   # a dolma-small-like set from a local copy of emozilla/dolma-v1_7-3B. wcos reads rows in stored
   # order, so shuffle and select as the paper did first (datasets' shuffle is not reproducible in Go):
   #   python -c "import datasets; d = datasets.load_dataset('emozilla/dolma-v1_7-3B', split='train');
   #              d.shuffle(seed=2512800).select(range(80000)).save_to_disk('dolma-80k')"
   wcos dataset --model OLMo-7B-0424.gguf --max-length 1024 --tokens 20000000 --out runs/dolma-small dolma-80k

   # the published token set (sjgerstner/dolma-small, save_to_disk): its input_ids, unchanged
   wcos dataset --model OLMo-7B-0424.gguf --out runs/dolma-small dolma-small

   # raw dolma shards, no shuffling
   wcos dataset --model OLMo-7B-0424.gguf --tokens 20000000 --out runs/dolma-head dolma/v1_7/*.json.gz`

// datasetCommand is "wcos dataset". newTokenizer loads the tokenizer of a model ("" is the default
// model); the returned func releases it.
func datasetCommand(newTokenizer func(modelPath string) (dataset.Tokenizer, func(), error)) *cli.Command {
	return &cli.Command{
		Name:        "dataset",
		Usage:       "build a token dataset from text or pre-tokenised sources",
		ArgsUsage:   "SOURCE...",
		Description: datasetDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "output `DIR` (must not exist unless --force)"},
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "GGUF file or Hugging Face directory whose tokenizer tokenises text and bounds ids (default: embedded tiny-olmo)"},
			&cli.IntFlag{Name: "max-length", Value: dataset.DefaultMaxLength, Usage: "longest row in tokens, BOS included (-1: no limit)"},
			&cli.Int64Flag{Name: "tokens", Usage: "stop once this many tokens are written (0: all rows; dolma-small: 20000000)"},
			&cli.StringFlag{Name: "field", Usage: "read only `FIELD`, text or input_ids (default: input_ids when a row has it, else text)"},
			&cli.BoolFlag{Name: "no-bos", Usage: "do not prepend BOS (OLMo: the EOS id) to text rows"},
			&cli.BoolFlag{Name: "truncate-ids", Usage: "cut input_ids rows longer than --max-length instead of failing"},
			&cli.IntFlag{Name: "vocab-size", Usage: "check input_ids against this vocabulary size when no model is loaded (--field input_ids without --model)"},
			&cli.BoolFlag{Name: "full-tokenize", Usage: "tokenise whole documents before truncating (slower; the default prefix tokenisation gives the same ids for OLMo's tokenizer)"},
			&cli.BoolFlag{Name: "hash-model", Usage: "record the model file's sha256 in meta.json (reads the whole file; the tokenizer fingerprint is always recorded)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing --out (only once the new data set is complete)"},
		},
		Action: func(c *cli.Context) error {
			sources := c.Args().Slice()
			if len(sources) == 0 {
				return cli.Exit("wcos: dataset: no SOURCE given (see wcos dataset --help)", 2)
			}
			if c.Bool("force") { // replacing --out must not remove a source
				if err := outHoldsNoInput(c, c.String("out")); err != nil {
					return err
				}
			}
			opts := dataset.BuildOptions{
				Options: dataset.Options{
					MaxLength:    c.Int("max-length"),
					MaxTokens:    c.Int64("tokens"),
					NoBOS:        c.Bool("no-bos"),
					TruncateIDs:  c.Bool("truncate-ids"),
					Field:        c.String("field"),
					VocabSize:    c.Int("vocab-size"),
					FullTokenize: c.Bool("full-tokenize"),
				},
				Overwrite: c.Bool("force"),
			}
			if opts.MaxLength == 0 {
				return cli.Exit("wcos: dataset: --max-length 0 (use -1 for no limit)", 2)
			}
			var tok dataset.Tokenizer
			model := c.String("model")
			if model != "" || opts.Field != dataset.FieldInputIDs {
				t, release, err := newTokenizer(model)
				if err != nil {
					return fmt.Errorf("dataset: load tokenizer: %w", err)
				}
				defer release()
				tok = t
				fp, err := dataset.Fingerprint(tok)
				if err != nil {
					return fmt.Errorf("dataset: tokenizer: %w", err)
				}
				opts.Tokenizer = dataset.TokenizerInfo{Model: model, Fingerprint: fp}
				if model == "" {
					opts.Tokenizer.Model = "(embedded tiny-olmo)"
				}
				if c.Bool("hash-model") && model != "" {
					sum, err := dataset.FileSHA256(model)
					if err != nil {
						return fmt.Errorf("dataset: hash model: %w", err)
					}
					opts.Tokenizer.ModelSHA256 = sum
				}
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			p := newProgress(os.Stderr)
			opts.Progress = p.update
			meta, err := dataset.Build(ctx, c.String("out"), sources, tok, opts)
			p.finish()
			if errors.Is(err, context.Canceled) {
				return cli.Exit("wcos: dataset: interrupted; nothing written", 130)
			}
			if err != nil {
				return fmt.Errorf("dataset: %w", err)
			}
			fmt.Fprintln(c.App.Writer, summary(c.String("out"), meta, p.elapsed))
			return nil
		},
	}
}

func summary(out string, m dataset.Meta, elapsed time.Duration) string {
	budget := ""
	switch {
	case m.MaxTokens > 0 && m.BudgetReached:
		budget = fmt.Sprintf(", token budget %d reached", m.MaxTokens)
	case m.MaxTokens > 0:
		budget = fmt.Sprintf(", sources ran out before the token budget %d", m.MaxTokens)
	}
	return fmt.Sprintf("wrote %s: %d rows, %d tokens (%.1f/row, longest %d) from %d source(s) in %s%s",
		out, m.NRows, m.NTokens, float64(m.NTokens)/float64(max(m.NRows, 1)), m.MaxRowLength, len(m.Sources), elapsed.Round(100*time.Millisecond), budget)
}

// progress prints rows/s and tokens/s: a line rewritten in place on a terminal (5/s), plain lines
// every 10 s otherwise (logs, CI), so neither floods.
type progress struct {
	w       io.Writer
	tty     bool
	every   time.Duration
	last    time.Time
	printed bool
	elapsed time.Duration
}

func newProgress(w *os.File) *progress {
	st, err := w.Stat()
	tty := err == nil && st.Mode()&os.ModeCharDevice != 0
	p := &progress{w: w, tty: tty, every: 10 * time.Second, last: time.Now()}
	if tty {
		p.every = 200 * time.Millisecond
	}
	return p
}

func (p *progress) update(s dataset.Progress) {
	p.elapsed = s.Elapsed
	if s.Done || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	sec := max(s.Elapsed.Seconds(), 1e-9)
	line := fmt.Sprintf("dataset: %d rows, %s tokens, %.0f rows/s, %s tokens/s  %s",
		s.Rows, si(float64(s.Tokens)), float64(s.Rows)/sec, si(float64(s.Tokens)/sec), s.Source)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.printed = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) finish() {
	if p.tty && p.printed {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// si formats n with a k/M/G suffix.
func si(n float64) string {
	for _, u := range []string{"", "k", "M"} {
		if n < 1000 {
			return fmt.Sprintf("%.3g%s", n, u)
		}
		n /= 1000
	}
	return fmt.Sprintf("%.3gG", n)
}
