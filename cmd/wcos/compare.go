package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/compare"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "per-token entropy, loss, rank and log-scale differences of ablated runs from a clean run: tables and histograms",
		UsageText: "wcos compare --clean DIR [--names A,B,…] [--metrics entropy,loss,rank,log_scale] [--changed-only] [--f16] [--truncate] [--bins N] [--log=false] [--pdf] --out DIR RUN_DIR…",
		Description: `Compares 'wcos entropy' output folders (paper-spec §4.5): per token diff = metric(clean) − metric(ablated)
for entropy, loss, rank and log_scale (log scale(clean) − log scale(ablated)); negative entropy diffs mean
the ablation raises entropy. Padding is masked with the rows' lengths (loss and rank have no value at a
row's last token). Every run must hold the clean run's rows (same row count and lengths) and, where
both have a run.json, the same model and data set; otherwise compare stops before writing anything,
naming the folder and the difference. --truncate compares a run with fewer or more rows over the rows
it shares with the clean run (whose lengths must still agree), as the reference's compare.py did;
summary.json gives each set's rows.

Statistics per set and metric: tokens, changed (diff ≠ 0), mean, min, quartile1, median, quartile3, max
(numpy.quantile's default linear method), over all tokens. --changed-only computes them (and the
histograms) over changed tokens only, as the paper's compare.py did (it dropped diff = 0 to remove
padding, §10): use it with --f16 to compare with the paper's tables (§8.2). --f16 rounds entropy, loss
and scale (and log scale) to float16 before taking differences, and the differences too, as the
reference stored its metrics in float16: which tokens count as changed then matches the reference's
(without it a change of one float32 ulp counts). The reference also counted padding positions in its
log_scale and the pad token's rank at each shorter row's last token; wcos masks padding by the rows'
lengths, so those two columns of §8.2 are not reproduced exactly. NaN/Inf diffs are left out and
counted in summary.json.

Writes DIR/<metric>.csv and <metric>.md (columns name, tokens, changed, mean, min, quartile1, median,
quartile3, max), <metric>_log.png/.svg (<metric>.png with --log=false; --pdf adds PDF): histograms in
2 columns over bins shared by all sets, summary.json (all statistics and bin counts) and run.json.
DIR appears complete or not at all. Set names default to the folders' base names; '_' in a name starts
a new line of its panel title. As the reference does, a run's random baseline RUN_DIR_baseline (wcos
entropy --neurons CLASS --baseline --out RUN_DIR_baseline) joins the comparison right after it when the
folder exists (--baselines=false: only the folders listed). Files are streamed: memory stays small for
45,736 × 1024 tokens.

Examples:
  wcos compare --clean out/clean out/weakening --out out/cmp           # out/weakening_baseline joins if it exists
  wcos compare --clean out/clean --changed-only --f16 --metrics entropy,loss --out out/weakening_complete \
      out/weakening out/weakening_baseline out/weakening_gate+_post+ out/weakening_gate+_post- \
      out/weakening_gate-_post+ out/weakening_gate-_post-
  wcos compare --clean out/clean --names "zero,zero gate-" --bins 40 --log=false --pdf out/abl out/abl_gate- --out out/cmp`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "clean", Usage: "the unablated run's folder (wcos entropy --out)", Required: true},
			&cli.StringFlag{Name: "names", Usage: "comma-separated set names, one per RUN_DIR (default: the folders' base names)"},
			&cli.StringFlag{Name: "metrics", Value: "entropy,loss,rank,log_scale", Usage: "metrics to compare (scale means log_scale)"},
			&cli.BoolFlag{Name: "changed-only", Usage: "statistics and histograms over tokens with diff ≠ 0 only (the paper's tables)"},
			&cli.BoolFlag{Name: "f16", Usage: "round entropy, loss and scale, and their differences, to float16 first, as the reference stored them (with --changed-only: the paper's tables)"},
			&cli.BoolFlag{Name: "truncate", Usage: "compare a run with another row count over the rows it shares with the clean run (the reference)"},
			&cli.IntFlag{Name: "bins", Value: compare.DefaultBins, Usage: "histogram bins shared by all sets (the paper: matplotlib's default 10)"},
			&cli.BoolFlag{Name: "log", Value: true, Usage: "log-scaled counts (compare_and_plot.py --log)"},
			&cli.BoolFlag{Name: "pdf", Usage: "also write the figures as PDF"},
			&cli.BoolFlag{Name: "no-figures", Usage: "write only the tables"},
			&cli.BoolFlag{Name: "baselines", Value: true, Usage: "after each RUN_DIR also compare RUN_DIR_baseline when that folder exists and is not listed (as the reference's compare_and_plot.py; not with --names)"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/compare-TIME)"},
		},
		Action: runCompare,
	}
}

// compareBoolFlags are compare's flags that take no separate value.
var compareBoolFlags = map[string]bool{"changed-only": true, "f16": true, "truncate": true, "log": true, "pdf": true, "no-figures": true, "baselines": true, "help": true, "h": true}

// flagsLast splits args (the command's positional arguments) into flags given after the run folders
// and the folders, so that `wcos compare --clean C RUN… --out DIR` works as the examples show.
func flagsLast(args []string) (flags, dirs []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(dirs, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			dirs = append(dirs, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && !compareBoolFlags[name] && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return flags, dirs
}

// withBaselines inserts DIR_baseline after each DIR of runs where that folder exists and is not listed.
func withBaselines(runs []string) []string {
	listed := map[string]bool{}
	for _, r := range runs {
		listed[filepath.Clean(r)] = true
	}
	var out []string
	for _, r := range runs {
		out = append(out, r)
		b := filepath.Clean(r) + "_baseline"
		if st, err := os.Stat(b); err == nil && st.IsDir() && !listed[b] {
			out = append(out, b)
			listed[b] = true
		}
	}
	return out
}

func runCompare(c *cli.Context) error {
	if flags, dirs := flagsLast(c.Args().Slice()); len(flags) > 0 {
		// Flags after the first folder: parse them again, all before the folders.
		var set []string
		for _, f := range c.FlagNames() {
			if c.IsSet(f) {
				set = append(set, "--"+f+"="+c.String(f))
			}
		}
		for i, d := range dirs {
			if strings.HasPrefix(d, "-") { // a folder named -x, given after --: not a flag the second time
				dirs[i] = "./" + d
			}
		}
		app := &cli.App{Name: "wcos", Writer: c.App.Writer, ErrWriter: c.App.ErrWriter, Commands: []*cli.Command{compareCommand()}}
		args := append(append(append([]string{"wcos", "compare"}, set...), flags...), "--")
		return app.Run(append(args, dirs...))
	}
	o := compare.Options{Clean: c.String("clean"), Runs: c.Args().Slice(), ChangedOnly: c.Bool("changed-only"), F16: c.Bool("f16"), Truncate: c.Bool("truncate"), Bins: c.Int("bins"), LogY: c.Bool("log")}
	if len(o.Runs) == 0 {
		return fmt.Errorf("compare: no ablated run folders after the options (see --help)")
	}
	if o.Bins < 1 {
		return fmt.Errorf("--bins %d: want at least 1", o.Bins)
	}
	if s := c.String("names"); s != "" {
		o.Names = strings.Split(s, ",")
	} else if c.Bool("baselines") {
		o.Runs = withBaselines(o.Runs)
	}
	for _, m := range strings.Split(c.String("metrics"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			o.Metrics = append(o.Metrics, m)
		}
	}
	if len(o.Metrics) == 0 {
		return fmt.Errorf("--metrics: empty")
	}
	o.Formats = []string{"png", "svg"}
	if c.Bool("pdf") {
		o.Formats = append(o.Formats, "pdf")
	}
	if c.Bool("no-figures") {
		o.Formats = []string{}
	}
	var err error
	if o.Out, err = freshOut(c, "compare"); err != nil {
		return err
	}
	o.RunInfo = runinfo.New("compare", map[string]any{
		"clean": o.Clean, "runs": o.Runs, "names": o.Names, "metrics": o.Metrics, "changed_only": o.ChangedOnly, "f16": o.F16,
		"bins": o.Bins, "log": o.LogY, "formats": o.Formats, "out": o.Out,
	})
	o.Progress = c.App.ErrWriter
	res, err := compare.Compare(o)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.App.Writer)
	fmt.Fprintf(w, "\ndiff = metric(clean) − metric(ablated) per token, clean run %s; statistics over %s\n", o.Clean, res.Over)
	for i := range res.Results {
		mr := &res.Results[i]
		fmt.Fprintf(w, "\n%s\n\n", mr.XLabel)
		mr.Markdown(w)
	}
	fmt.Fprintf(w, "\nwrote %s\n", o.Out)
	return w.Flush()
}
