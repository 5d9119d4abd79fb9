package classes

import (
	"fmt"
	"image/color"
	"path/filepath"
	"strconv"

	"github.com/wcos-dev/wcos/plots"
)

var (
	regionRed     = color.NRGBA{0xd6, 0x27, 0x28, 0xff}
	thresholdGrey = color.NRGBA{0x70, 0x70, 0x70, 0xff}
)

// figureTitle names the model and the settings that change the numbers.
func (r *Result) figureTitle(what string) string {
	ref := ""
	if r.Options.Refactor && r.gated() { // a vanilla MLP has nothing to refactor
		ref = ", refactored"
	}
	return fmt.Sprintf("%s: %s (%s weights%s)", filepath.Base(r.Model), what, r.Options.Processing, ref)
}

// layerValues splits one neuron field by analysed layer.
func (r *Result) layerValues(f func(*Neuron) float64) [][]float64 {
	out := make([][]float64, len(r.Layers))
	n := r.Dims.DMLP
	for i := range r.Layers {
		v := make([]float64, n)
		for k := range n {
			v[k] = f(&r.Neurons[i*n+k])
		}
		out[i] = v
	}
	return out
}

func (r *Result) gated() bool {
	return len(r.Neurons) > 0 && r.Neurons[0].NormGate == r.Neurons[0].NormGate
}

// regionLines returns the threshold, beta and layer-region lines for a cosine ("linout", "gateout"
// or "gatelin") on the given axis.
func (r *Result) regionLines(cos string, layer int, horizontal bool, withThreshold bool) []plots.Line {
	var ls []plots.Line
	if withThreshold {
		for _, t := range []float64{-r.Options.Threshold, r.Options.Threshold} {
			ls = append(ls, plots.Line{Horizontal: horizontal, At: t, Color: thresholdGrey, Width: 0.6})
		}
	}
	if b := r.Regions.Beta; b != nil {
		bounds := b[:]
		if cos == "gatelin" {
			bounds = []float64{b[1]} // |cos| ≤ beta's upper bound with probability 1−p
			if !r.Options.Refactor {
				bounds = []float64{-b[1], b[1]}
			}
		}
		for _, v := range bounds {
			ls = append(ls, plots.Line{Horizontal: horizontal, At: v, Color: regionRed, Dashes: plots.Dotted, Width: 0.9})
		}
	}
	if reg, ok := r.Region(layer); ok {
		var bounds []float64
		switch cos {
		case "linout":
			bounds = reg.LinOut[:]
		case "gateout":
			bounds = reg.GateOut[:]
		case "gatelin":
			bounds = []float64{reg.GateLin}
			if !r.Options.Refactor {
				bounds = []float64{-reg.GateLin, reg.GateLin}
			}
		}
		for _, v := range bounds {
			ls = append(ls, plots.Line{Horizontal: horizontal, At: v, Color: regionRed, Dashes: plots.Dashed, Width: 0.9})
		}
	}
	return ls
}

func (r *Result) lineLegend() []plots.LegendEntry {
	e := []plots.LegendEntry{{Name: fmt.Sprintf("±%g threshold", r.Options.Threshold), Line: &plots.Line{Color: thresholdGrey, Width: 0.8}}}
	if r.Regions.Beta != nil {
		e = append(e, plots.LegendEntry{Name: fmt.Sprintf("beta region (d_model=%d, p=%g)", r.Dims.DModel, r.Options.P),
			Line: &plots.Line{Color: regionRed, Dashes: plots.Dotted, Width: 1}})
	}
	if len(r.Regions.Layers) > 0 {
		e = append(e, plots.LegendEntry{Name: fmt.Sprintf("mismatched-pair region (%s, p=%g)", r.Regions.Mode, r.Options.P),
			Line: &plots.Line{Color: regionRed, Dashes: plots.Dashed, Width: 1}})
	}
	return e
}

// WriteFigures draws coarse (class counts), fine (cosine scatter), boxplot and hist_<cosine> into dir
// in the given formats and returns the files written.
func (r *Result) WriteFigures(dir string, formats ...string) ([]string, error) {
	var all []string
	save := func(f *plots.Figure, name string) error {
		p, err := f.Save(filepath.Join(dir, name), formats...)
		all = append(all, p...)
		return err
	}
	rows := make([]string, len(r.Layers))
	groups := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		rows[i] = "Layer " + strconv.Itoa(l)
		groups[i] = strconv.Itoa(l)
	}
	classes := AllClasses()
	if !r.gated() {
		classes = VanillaClasses()
	}
	var series []plots.Series
	for _, c := range classes {
		v := make([]float64, len(r.Layers))
		for i := range r.Layers {
			v[i] = float64(r.Counts[i][c])
		}
		series = append(series, plots.Series{Name: c.String(), Color: c.Color(), Values: v})
	}
	coarse := plots.StackedBars{Title: r.figureTitle("RW classes per layer"), XLabel: "neurons", Rows: rows, Series: series, Labels: true}
	if err := save(coarse.Figure(), "coarse"); err != nil {
		return all, err
	}
	if !r.gated() {
		if err := save(r.halfCoarseFigure(rows), "half_coarse"); err != nil {
			return all, err
		}
	}

	linout := r.layerValues(func(n *Neuron) float64 { return n.LinOut })
	gateout := r.layerValues(func(n *Neuron) float64 { return n.GateOut })
	gatelin := r.layerValues(func(n *Neuron) float64 { return n.GateLin })
	glRange, glLabel := [2]float64{-1, 1}, "cos(w_gate, w_in)"
	if r.Options.Refactor {
		glRange, glLabel = [2]float64{0, 1}, "cos(w_gate, w_in) (refactored, ≥ 0)"
	}
	cosRange := [2]float64{-1, 1}

	if r.gated() {
		var panels []plots.Panel
		for i, l := range r.Layers {
			ls := append(r.regionLines("gateout", l, false, true), r.regionLines("linout", l, true, true)...)
			panels = append(panels, plots.Panel{Title: rows[i], X: gateout[i], Y: linout[i], C: gatelin[i], Lines: ls})
		}
		var cmarks []plots.Line
		if b := r.Regions.Beta; b != nil {
			cmarks = append(cmarks, plots.Line{At: b[1], Color: regionRed, Dashes: plots.Dotted, Width: 1.2})
		}
		cmarks = append(cmarks, plots.Line{At: r.Options.Threshold, Color: thresholdGrey, Width: 1.2})
		fine := plots.ScatterGrid{Title: r.figureTitle("weight cosines per layer"), XLabel: "cos(w_gate, w_out)", YLabel: "cos(w_in, w_out)",
			CLabel: glLabel, Panels: panels, Cols: 4, XRange: cosRange, YRange: cosRange, CMap: plots.Viridis(glRange[0], glRange[1]),
			CLines: cmarks, Legend: r.lineLegend()}
		if err := save(fine.Figure(), "fine"); err != nil {
			return all, err
		}
	}

	thr := func() []plots.Line {
		return []plots.Line{{Horizontal: true, At: r.Options.Threshold, Color: thresholdGrey, Width: 0.5},
			{Horizontal: true, At: -r.Options.Threshold, Color: thresholdGrey, Width: 0.5}}
	}
	boxRows := []plots.BoxRow{{YLabel: "cos(w_in, w_out)", YRange: cosRange, Groups: linout, Lines: thr()}}
	if r.gated() {
		boxRows = append([]plots.BoxRow{{YLabel: "cos(w_gate, w_in)", YRange: glRange, Groups: gatelin, Lines: thr()},
			{YLabel: "cos(w_gate, w_out)", YRange: cosRange, Groups: gateout, Lines: thr()}}, boxRows...)
	}
	box := plots.BoxPlots{Title: r.figureTitle("cosine distributions per layer"), XLabel: "layer", GroupLabels: groups, Rows: boxRows}
	if err := save(box.Figure(), "boxplot"); err != nil {
		return all, err
	}

	type histSpec struct {
		name, label string
		vals        [][]float64
		xr          [2]float64
	}
	hists := []histSpec{{"linout", "cos(w_in, w_out)", linout, cosRange}}
	if r.gated() {
		hists = append(hists, histSpec{"gateout", "cos(w_gate, w_out)", gateout, cosRange}, histSpec{"gatelin", glLabel, gatelin, glRange})
	}
	for _, h := range hists {
		var panels []plots.HistPanel
		for i, l := range r.Layers {
			panels = append(panels, plots.HistPanel{Title: rows[i], Values: h.vals[i], Lines: r.regionLines(h.name, l, false, true)})
		}
		hg := plots.HistGrid{Title: r.figureTitle(h.label + " per layer"), XLabel: h.label, YLabel: "neurons", Panels: panels,
			XRange: h.xr, Bins: 80, LogY: true, Legend: r.lineLegend()}
		if err := save(hg.Figure(), "hist_"+h.name); err != nil {
			return all, err
		}
	}
	return all, nil
}
