package classes

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/internal/table"
)

// neuronRow is the neurons.parquet schema (column names as in neurons.csv).
type neuronRow struct {
	Layer        int32   `parquet:"layer"`
	Neuron       int32   `parquet:"neuron"`
	GateLin      float64 `parquet:"gatelin"`
	GateOut      float64 `parquet:"gateout"`
	LinOut       float64 `parquet:"linout"`
	Class        string  `parquet:"class,dict"`
	RefactorSign int8    `parquet:"refactor_sign"`
	NormGate     float64 `parquet:"norm_gate"`
	NormIn       float64 `parquet:"norm_in"`
	NormOut      float64 `parquet:"norm_out"`
}

var neuronColumns = []string{"layer", "neuron", "gatelin", "gateout", "linout", "class", "refactor_sign", "norm_gate", "norm_in", "norm_out"}

// WriteOptions control WriteDir.
type WriteOptions struct {
	Formats []string // figure formats; nil = png, svg; empty non-nil = no figures
	// Run is run.json, started by the caller (runinfo.New) so that it records the command's start
	// time and arguments; nil starts one here. Its Model is hashed here if unset.
	Run *runinfo.Info
}

// WriteDir writes every output into dir atomically: the files are built in a temporary directory
// beside dir and renamed into place at the end (replacing an existing dir); on error nothing is left.
func (r *Result) WriteDir(dir string, wo WriteOptions) (err error) {
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	steps := []struct {
		name string
		f    func(string) error
	}{
		{"neurons.csv", r.writeNeuronsCSV},
		{"neurons.parquet", r.writeNeuronsParquet},
		{"layer_counts.csv", r.writeCountsCSV},
		{"layer_counts.md", r.writeCountsMD},
		{"regions.json", func(p string) error { return writeJSON(p, r.Regions) }},
		{"summary.json", func(p string) error { return writeJSON(p, r.Summary()) }},
	}
	type step = struct {
		name string
		f    func(string) error
	}
	if !r.gated() {
		steps = append(steps, step{"half_coarse.csv", r.writeHalfCoarseCSV})
	}
	if r.Paper != nil {
		steps = append(steps, step{"paper.csv", r.Paper.writeCSV}, step{"paper.md", r.Paper.writeMD})
	}
	for _, s := range steps {
		if err := s.f(filepath.Join(tmp, s.name)); err != nil {
			return fmt.Errorf("%s: %v", filepath.Join(dir, s.name), err)
		}
	}
	formats := wo.Formats
	if formats == nil {
		formats = []string{"png", "svg"}
	}
	if len(formats) > 0 {
		if _, err := r.WriteFigures(tmp, formats...); err != nil {
			return fmt.Errorf("%s: figures: %v", dir, err)
		}
	}
	info, err := r.runInfo(wo)
	if err != nil {
		return err
	}
	if err := info.Write(tmp); err != nil {
		return err
	}
	return atomicfile.ReplaceDir(tmp, dir)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ff(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func (r *Result) writeNeuronsCSV(path string) error {
	return table.Create(path, func(w *bufio.Writer) error {
		table.CSV(w, neuronColumns)
		for _, n := range r.Neurons {
			fmt.Fprintf(w, "%d,%d,%s,%s,%s,%s,%d,%s,%s,%s\n", n.Layer, n.Neuron, ff(n.GateLin), ff(n.GateOut), ff(n.LinOut),
				n.Class, n.RefactorSign, ff(n.NormGate), ff(n.NormIn), ff(n.NormOut))
		}
		return nil
	})
}

func (r *Result) writeNeuronsParquet(path string) error {
	return table.Parquet(path, func(yield func(neuronRow) bool) {
		for _, n := range r.Neurons {
			if !yield(neuronRow{int32(n.Layer), int32(n.Neuron), n.GateLin, n.GateOut, n.LinOut, n.Class.String(),
				n.RefactorSign, n.NormGate, n.NormIn, n.NormOut}) {
				return
			}
		}
	})
}

// tableClasses are the columns of the count tables: 11 classes, or 3 for a vanilla MLP.
func (r *Result) tableClasses() []Class {
	if r.gated() {
		return AllClasses()
	}
	return VanillaClasses()
}

// countsTable is the count table's cells: a row per layer, then the totals and each class's share.
// md picks layer_counts.md's labels (abbreviations, bold, percentages) over layer_counts.csv's.
func (r *Result) countsTable(md bool) (header []string, rows [][]string) {
	name, share, totals, shares, whole := Class.String, ff, "total", "fraction", "1"
	if md {
		name, totals, shares, whole = Class.Abbrev, "**total**", "**%**", "100"
		share = func(f float64) string { return fmt.Sprintf("%.3f", 100*f) }
	}
	cls := r.tableClasses()
	tot := r.Totals()
	all := int64(len(r.Neurons))
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	header = []string{"layer"}
	totRow, shareRow := []string{totals}, []string{shares}
	for _, c := range cls {
		header = append(header, name(c))
		totRow = append(totRow, itoa(tot[c]))
		shareRow = append(shareRow, share(frac(tot[c], all)))
	}
	for i, l := range r.Layers {
		row := []string{strconv.Itoa(l)}
		for _, c := range cls {
			row = append(row, itoa(r.Counts[i][c]))
		}
		rows = append(rows, append(row, strconv.Itoa(r.Dims.DMLP)))
	}
	return append(header, "total"), append(rows, append(totRow, itoa(all)), append(shareRow, whole))
}

func (r *Result) writeCountsCSV(path string) error {
	header, rows := r.countsTable(false)
	return table.Create(path, func(w *bufio.Writer) error {
		table.CSV(w, header)
		table.CSV(w, rows...)
		return nil
	})
}

func frac(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (r *Result) writeCountsMD(path string) error {
	header, rows := r.countsTable(true)
	var legend []string
	for _, c := range r.tableClasses() {
		legend = append(legend, c.Abbrev()+" = "+c.String())
	}
	return table.Create(path, func(w *bufio.Writer) error {
		fmt.Fprintf(w, "RW classes per layer of `%s` (%s weights, threshold %g, refactored %v).\n\n", filepath.Base(r.Model),
			r.Options.Processing, r.Options.Threshold, r.Options.Refactor)
		table.Markdown(w, header, slices.Repeat([]string{"---:"}, len(header)), rows...)
		w.WriteString("\n" + strings.Join(legend, ", ") + ".\n")
		return nil
	})
}

// ClassSummary is one class's total and where it concentrates.
type ClassSummary struct {
	Name     string  `json:"name"`
	Abbrev   string  `json:"abbrev"`
	Count    int64   `json:"count"`
	Fraction float64 `json:"fraction"`
	// PeakLayers are the (up to) three layers with most neurons of the class, most first.
	PeakLayers []int `json:"peak_layers"`
	// MedianLayer is the layer by which half of the class's neurons have occurred (-1 if none).
	MedianLayer int `json:"median_layer"`
}

// Summary is summary.json.
type Summary struct {
	Model      string         `json:"model"`
	Format     string         `json:"format"`
	NLayers    int            `json:"n_layers"`
	DModel     int            `json:"d_model"`
	DMLP       int            `json:"d_mlp"`
	Arch       string         `json:"arch"`
	Norm       string         `json:"norm"`
	Decoder    int            `json:"decoder_from,omitempty"` // T5: layers from here are the decoder's
	Layers     []int          `json:"layers"`
	Neurons    int64          `json:"neurons"`
	Processing Processing     `json:"processing"`
	Refactored bool           `json:"refactored"`
	Threshold  float64        `json:"threshold"`
	Classes    []ClassSummary `json:"classes"`
	Paper      *PaperSummary  `json:"paper,omitempty"`
}

// PaperSummary is summary.json's note of the comparison with the published counts.
type PaperSummary struct {
	Model   string `json:"model"`
	Source  string `json:"source"`
	Counts  int    `json:"counts"`
	Equal   int    `json:"equal"`
	MaxDiff int64  `json:"max_abs_diff"`
}

// Summary condenses the counts.
func (r *Result) Summary() Summary {
	s := Summary{Model: r.Model, Format: r.Format, NLayers: r.Dims.NLayers, DModel: r.Dims.DModel, DMLP: r.Dims.DMLP,
		Arch: r.Dims.Arch, Norm: r.Dims.Norm.String(), Decoder: r.Dims.Decoder, Layers: r.Layers, Neurons: int64(len(r.Neurons)), Processing: r.Options.Processing, Refactored: r.Options.Refactor,
		Threshold: r.Options.Threshold}
	if c := r.Paper; c != nil {
		s.Paper = &PaperSummary{Model: c.Model, Source: c.Source, Counts: len(c.Rows), Equal: c.Equal, MaxDiff: c.MaxDiff}
	}
	tot := r.Totals()
	for _, c := range r.tableClasses() {
		cs := ClassSummary{Name: c.String(), Abbrev: c.Abbrev(), Count: tot[c], Fraction: frac(tot[c], s.Neurons), MedianLayer: -1, PeakLayers: []int{}}
		idx := make([]int, len(r.Layers))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return r.Counts[idx[a]][c] > r.Counts[idx[b]][c] })
		for _, i := range idx[:min(3, len(idx))] {
			if r.Counts[i][c] > 0 {
				cs.PeakLayers = append(cs.PeakLayers, r.Layers[i])
			}
		}
		var cum int64
		for i, l := range r.Layers {
			cum += r.Counts[i][c]
			if tot[c] > 0 && 2*cum >= tot[c] {
				cs.MedianLayer = l
				break
			}
		}
		s.Classes = append(s.Classes, cs)
	}
	return s
}

// Text is the one-screen summary printed by `wcos classes`.
func (r *Result) Text() string {
	var b strings.Builder
	ref := "unrefactored"
	switch {
	case !r.gated():
		ref = "vanilla MLP"
	case r.Options.Refactor:
		ref = "refactored"
	}
	fmt.Fprintf(&b, "%s (%s): %d of %d layers × %d neurons, d_model %d; %s weights, %s, threshold %g\n",
		r.Model, r.Format, len(r.Layers), r.Dims.NLayers, r.Dims.DMLP, r.Dims.DModel, r.Options.Processing, ref, r.Options.Threshold)
	fmt.Fprintf(&b, "%-36s %9s %8s  %-14s %s\n", "class", "neurons", "share", "peak layers", "half by layer")
	s := r.Summary()
	for _, c := range s.Classes {
		peaks := "-"
		if len(c.PeakLayers) > 0 {
			var ps []string
			for _, l := range c.PeakLayers {
				ps = append(ps, strconv.Itoa(l))
			}
			peaks = strings.Join(ps, ",")
		}
		med := "-"
		if c.MedianLayer >= 0 {
			med = strconv.Itoa(c.MedianLayer)
		}
		fmt.Fprintf(&b, "%-36s %9d %7.3f%%  %-14s %s\n", c.Name, c.Count, 100*c.Fraction, peaks, med)
	}
	rg := r.Regions
	switch {
	case rg.Beta == nil:
		b.WriteString("randomness regions: none\n")
	case len(rg.Layers) == 0:
		fmt.Fprintf(&b, "randomness region (p=%g): beta [%.4f, %.4f]\n", rg.P, rg.Beta[0], rg.Beta[1])
	default:
		// The widest bounds over layers; per-layer values are in regions.json.
		lo, gout, gl := rg.Layers[0].LinOut, rg.Layers[0].GateOut, rg.Layers[0].GateLin
		for _, g := range rg.Layers {
			lo = [2]float64{min(lo[0], g.LinOut[0]), max(lo[1], g.LinOut[1])}
			gout = [2]float64{min(gout[0], g.GateOut[0]), max(gout[1], g.GateOut[1])}
			gl = max(gl, g.GateLin)
		}
		fmt.Fprintf(&b, "randomness regions (p=%g): beta [%.4f, %.4f]; %s mismatched pairs, widest over layers: linout [%.4f, %.4f], gateout [%.4f, %.4f], |gatelin| %.4f\n",
			rg.P, rg.Beta[0], rg.Beta[1], rg.Mode, lo[0], lo[1], gout[0], gout[1], gl)
	}
	if c := r.Paper; c != nil {
		fmt.Fprintf(&b, "paper (%s): %d of %d counts equal", c.Model, c.Equal, len(c.Rows))
		if c.MaxDiff > 0 {
			fmt.Fprintf(&b, ", largest difference %d (paper.md)", c.MaxDiff)
		}
		if c.Processing != TL {
			fmt.Fprintf(&b, "; this run used %s weights", c.Processing)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "time: load %.1fs, cosines %.1fs, regions %.1fs\n", r.Timing.Load.Seconds(), r.Timing.Cosines.Seconds(), r.Timing.Regions.Seconds())
	return b.String()
}

// runInfo fills run.json: the lead's runinfo record plus this command's settings and timings.
func (r *Result) runInfo(wo WriteOptions) (*runinfo.Info, error) {
	info := wo.Run
	if info == nil {
		info = runinfo.New("classes", nil)
	}
	if info.Options == nil {
		info.Options = map[string]any{}
	}
	for k, v := range map[string]any{"weights": r.Options.Processing, "refactor": r.Options.Refactor, "threshold": r.Options.Threshold,
		"p": r.Options.P, "region": r.Options.Region, "layers": r.Layers,
		"timing_s": map[string]float64{"load": r.Timing.Load.Seconds(), "cosines": r.Timing.Cosines.Seconds(), "regions": r.Timing.Regions.Seconds()},
		"dims":     map[string]int{"n_layers": r.Dims.NLayers, "d_model": r.Dims.DModel, "d_mlp": r.Dims.DMLP}, "model_format": r.Format,
		"arch": r.Dims.Arch, "norm": r.Dims.Norm.String()} {
		info.Options[k] = v
	}
	if r.Options.Region == RegionSampled {
		info.Options["samples"], info.Options["seed"] = r.Options.Samples, r.Options.Seed
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "gonum.org/v1/plot", "gonum.org/v1/gonum", "github.com/parquet-go/parquet-go":
				info.Versions[d.Path] = d.Version
			}
		}
	}
	if info.Model == nil {
		fi, err := runinfo.Hash(r.Model)
		if err != nil {
			return nil, err
		}
		info.Model = &fi
	}
	return info, nil
}
