package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

func mediansCommand() *cli.Command {
	return &cli.Command{
		Name:      "medians",
		Usage:     "per-layer medians of the weight cosines across models: the paper's all-model medians figure from 'wcos classes' runs",
		UsageText: "wcos medians [--names A,B,…] [--cos linout|gateout|gatelin] [--pdf] [--no-figures] --out DIR CLASSES_DIR…",
		Description: `Reads the output folders of 'wcos classes' (summary.json, neurons.csv), one per model, and takes per
analysed layer the median of each cosine, with torch.quantile's linear rule as the reference's
plot_all_medians did (paper-spec §2.6). Layer l of a model with L layers sits at relative depth
l/(L-1), so models of different depths share one axis.

Writes DIR/medians.csv and medians.md (name, layer, n_layers, depth, neurons, median_linout,
median_gateout, median_gatelin, refactored; NaN for a vanilla MLP's gate cosines; runs with and without
--refactor share a linout figure but not a gateout or gatelin one), the figure medians_<cos> as PNG
and SVG (--pdf adds PDF; the reference's medians.pdf is --cos linout, the default), one line per
folder, colours cycling every 10 folders with a new line style as in the reference, and run.json. DIR
appears complete or not at all. Options go before the folders. The reference's selected_medians.pdf
is the same figure over the 9 larger models: list only those folders.

Examples:
  wcos classes --model /data/OLMo-7B-0424-hf --region none --out out/classes/olmo-7b
  wcos classes --model /data/Llama-3.1-8B --region none --out out/classes/llama-3.1-8b
  wcos medians --out out/medians out/classes/olmo-7b out/classes/llama-3.1-8b
  wcos medians --cos gateout --names "OLMo-7B,Llama-3.1-8B" --pdf --out out/medians-gateout out/classes/olmo-7b out/classes/llama-3.1-8b`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "names", Usage: "comma-separated run names, one per folder (default: the folders' base names)"},
			&cli.StringFlag{Name: "cos", Value: "linout", Usage: "cosine of the figure: linout, gateout or gatelin"},
			&cli.BoolFlag{Name: "pdf", Usage: "also write the figure as PDF"},
			&cli.BoolFlag{Name: "no-figures", Usage: "write only the tables"},
			&cli.StringFlag{Name: "out", Usage: "output folder (default: a fresh out/medians-TIME)"},
		},
		Action: runMedians,
	}
}

func runMedians(c *cli.Context) error {
	dirs := c.Args().Slice()
	if len(dirs) == 0 {
		return fmt.Errorf("medians: no 'wcos classes' folders after the options (see --help)")
	}
	for _, d := range dirs {
		if strings.HasPrefix(d, "-") {
			return fmt.Errorf("medians: %q after the folders: put the options before them (see --help)", d)
		}
	}
	if _, ok := classes.MedianCosines[c.String("cos")]; !ok {
		return fmt.Errorf("--cos %q: want linout, gateout or gatelin", c.String("cos"))
	}
	var names []string
	if s := c.String("names"); s != "" {
		for _, n := range strings.Split(s, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	out, err := freshOut(c, "medians")
	if err != nil {
		return err
	}
	rows, err := classes.Medians(dirs, names)
	if err != nil {
		return err
	}
	info := runinfo.New("medians", map[string]any{"runs": dirs, "names": names, "cos": c.String("cos"), "out": out})
	for _, d := range dirs {
		if err := info.AddInputs(d+"/summary.json", d+"/neurons.csv"); err != nil {
			return err
		}
	}
	formats := []string{"png", "svg"}
	if c.Bool("pdf") {
		formats = append(formats, "pdf")
	}
	if c.Bool("no-figures") {
		formats = nil
	}
	if err := classes.WriteMedians(out, rows, c.String("cos"), formats, info); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%-24s %6s %8s %14s\n", "run", "layers", "neurons", "median linout")
	for i := 0; i < len(rows); {
		j, n := i, 0
		var all []float64
		for ; j < len(rows) && rows[j].Name == rows[i].Name; j++ {
			n += rows[j].Neurons
			all = append(all, rows[j].LinOut)
		}
		fmt.Fprintf(c.App.Writer, "%-24s %6d %8d %14s\n", rows[i].Name, j-i, n, spread(all))
		i = j
	}
	fmt.Fprintf(c.App.Writer, "wrote %s\n", out)
	return nil
}

// spread is "min … max" of the per-layer medians.
func spread(v []float64) string {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%.3f…%.3f", lo, hi)
}
