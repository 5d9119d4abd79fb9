package classes

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot/vg"

	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/quantile"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/internal/table"
	"github.com/wcos-dev/wcos/plots"
)

// LayerMedian is one row of medians.csv: the per-layer medians of a `wcos classes` run's cosines, at
// the layer's relative depth layer/(n_layers−1) (the reference's linspace(0, 1, L)).
type LayerMedian struct {
	Name                     string
	Layer, NLayers, Neurons  int
	Depth                    float64
	LinOut, GateOut, GateLin float64 // NaN for a vanilla MLP's gate cosines
	Refactored               bool    // the run's gatelin ≥ 0 and gateout multiplied by s_n
}

// MedianColumns are medians.csv's columns.
var MedianColumns = []string{"name", "layer", "n_layers", "depth", "neurons", "median_linout", "median_gateout", "median_gatelin", "refactored"}

// Medians reads the `wcos classes` output folders dirs (summary.json and neurons.csv) and returns
// each analysed layer's median cosines in torch.quantile's linear rule (the reference's
// plot_all_medians: the middle value, or the mean of the two middle ones), run by run in the order
// given. names label the runs (nil: the folders' base names). gatelin is as the run stored it
// (refactored runs: |gatelin|); linout does not depend on refactoring.
func Medians(dirs, names []string) ([]LayerMedian, error) {
	if len(dirs) == 0 {
		return nil, errors.New("medians: no classes folders")
	}
	if names != nil && len(names) != len(dirs) {
		return nil, fmt.Errorf("medians: %d names for %d folders", len(names), len(dirs))
	}
	var out []LayerMedian
	seen := map[string]string{}
	for i, dir := range dirs {
		name := filepath.Base(filepath.Clean(dir))
		if names != nil {
			name = names[i]
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("medians: %s and %s are both named %q (give --names)", prev, dir, name)
		}
		seen[name] = dir
		rows, err := runMedians(dir, name)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func runMedians(dir, name string) ([]LayerMedian, error) {
	sumPath := filepath.Join(dir, "summary.json")
	b, err := os.ReadFile(sumPath)
	if err != nil {
		return nil, fmt.Errorf("%s: not a `wcos classes` output folder (%v)", dir, err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", sumPath, err)
	}
	if s.NLayers <= 0 {
		return nil, fmt.Errorf("%s: n_layers %d", sumPath, s.NLayers)
	}
	csvPath := filepath.Join(dir, "neurons.csv")
	f, err := os.Open(csvPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cos, err := readNeuronCosines(f, s.NLayers)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", csvPath, err)
	}
	var out []LayerMedian
	for l, c := range cos {
		if len(c[0]) == 0 {
			continue // not analysed
		}
		depth := 0.0
		if s.NLayers > 1 {
			depth = float64(l) / float64(s.NLayers-1)
		}
		out = append(out, LayerMedian{Name: name, Layer: l, NLayers: s.NLayers, Neurons: len(c[0]), Depth: depth,
			LinOut: median(c[0]), GateOut: median(c[1]), GateLin: median(c[2]), Refactored: s.Refactored})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no neurons", csvPath)
	}
	return out, nil
}

// readNeuronCosines reads neurons.csv's linout, gateout and gatelin per layer, by header name.
func readNeuronCosines(r io.Reader, nLayers int) ([][3][]float64, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("no header: %v", err)
	}
	want := []string{"layer", "linout", "gateout", "gatelin"}
	col := make([]int, len(want))
	for i, w := range want {
		if col[i] = slices.Index(header, w); col[i] < 0 {
			return nil, fmt.Errorf("no column %q in the header", w)
		}
	}
	out := make([][3][]float64, nLayers)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		l, err := strconv.Atoi(rec[col[0]])
		if err != nil || l < 0 || l >= nLayers {
			return nil, fmt.Errorf("line %d: layer %q not in [0, %d)", line, rec[col[0]], nLayers)
		}
		for k := range 3 {
			v, err := strconv.ParseFloat(rec[col[k+1]], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s %q is not a number", line, want[k+1], rec[col[k+1]])
			}
			out[l][k] = append(out[l][k], v)
		}
	}
}

// median is torch.quantile(v, 0.5) over v, NaN if any value is NaN (as torch), v reordered.
func median(v []float64) float64 {
	if slices.ContainsFunc(v, math.IsNaN) {
		return math.NaN()
	}
	slices.Sort(v)
	return quantile.Sorted(v, 0.5)
}

// tab10 is matplotlib's default colour cycle; the reference changes line style every 10 models.
var tab10 = []color.Color{
	color.NRGBA{0x1f, 0x77, 0xb4, 0xff}, color.NRGBA{0xff, 0x7f, 0x0e, 0xff}, color.NRGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.NRGBA{0xd6, 0x27, 0x28, 0xff}, color.NRGBA{0x94, 0x67, 0xbd, 0xff}, color.NRGBA{0x8c, 0x56, 0x4b, 0xff},
	color.NRGBA{0xe3, 0x77, 0xc2, 0xff}, color.NRGBA{0x7f, 0x7f, 0x7f, 0xff}, color.NRGBA{0xbc, 0xbd, 0x22, 0xff},
	color.NRGBA{0x17, 0xbe, 0xcf, 0xff},
}

// MedianCosines are the cosines WriteMedians can plot.
var MedianCosines = map[string]string{"linout": "cos(w_in, w_out)", "gateout": "cos(w_gate, w_out)", "gatelin": "cos(w_gate, w_in)"}

// WriteMedians writes dir/medians.csv, medians.md, the figure medians_<cos> (the reference's
// medians.pdf for linout: one line per run over relative depth) in formats, and run.json, atomically.
func WriteMedians(dir string, rows []LayerMedian, cos string, formats []string, info *runinfo.Info) error {
	label, ok := MedianCosines[cos]
	if !ok {
		return fmt.Errorf("medians: unknown cosine %q (want linout, gateout or gatelin)", cos)
	}
	if cos != "linout" {
		for _, r := range rows {
			if r.Refactored != rows[0].Refactored {
				return fmt.Errorf("medians: %s is %s and %s is not: their %s differ in sign convention (linout does not)",
					rows[0].Name, refactoredWord(rows[0].Refactored), r.Name, cos)
			}
		}
	}
	return atomicfile.BuildDir(dir, func(tmp string) error {
		var recs [][]string
		for _, r := range rows {
			recs = append(recs, []string{r.Name, strconv.Itoa(r.Layer), strconv.Itoa(r.NLayers), ff(r.Depth), strconv.Itoa(r.Neurons),
				ff(r.LinOut), ff(r.GateOut), ff(r.GateLin), strconv.FormatBool(r.Refactored)})
		}
		if err := table.Create(filepath.Join(tmp, "medians.csv"), func(w *bufio.Writer) error {
			table.CSV(w, append([][]string{MedianColumns}, recs...)...)
			return nil
		}); err != nil {
			return err
		}
		if err := table.Create(filepath.Join(tmp, "medians.md"), func(w *bufio.Writer) error {
			w.WriteString("Per-layer medians of the weight cosines (torch.quantile, linear), by run.\n\n")
			table.Markdown(w, MedianColumns, []string{"---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"}, recs...)
			return nil
		}); err != nil {
			return err
		}
		if len(formats) > 0 {
			fig := plots.LineBands{Title: "median " + label + " per layer", XLabel: "relative depth", YLabel: "median " + label,
				Width: 5 * vg.Inch, Height: 3.2 * vg.Inch}
			dashes := [][]vg.Length{nil, plots.Dashed, plots.Dotted}
			var s *plots.BandSeries
			for _, r := range rows {
				if s == nil || s.Name != r.Name {
					k := len(fig.Series)
					fig.Series = append(fig.Series, plots.BandSeries{Name: r.Name, Color: tab10[k%10], Dashes: dashes[k/10%3]})
					s = &fig.Series[k]
				}
				s.X = append(s.X, r.Depth)
				s.Y = append(s.Y, r.cosine(cos))
			}
			if _, err := fig.Figure().Save(filepath.Join(tmp, "medians_"+cos), formats...); err != nil {
				return err
			}
		}
		return info.Write(tmp)
	})
}

func refactoredWord(r bool) string {
	if r {
		return "refactored"
	}
	return "unrefactored"
}

// cosine is the median of the named cosine (a key of MedianCosines).
func (r LayerMedian) cosine(name string) float64 {
	switch name {
	case "gateout":
		return r.GateOut
	case "gatelin":
		return r.GateLin
	}
	return r.LinOut
}
