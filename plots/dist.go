package plots

import (
	"cmp"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/wcos-dev/wcos/internal/quantile"
)

// BoxRow is one row of box plots: one distribution per group, on a shared y range.
type BoxRow struct {
	YLabel string
	YRange [2]float64
	Groups [][]float64
	Lines  []Line
}

// BoxPlots stacks rows of per-group distributions (e.g. per layer) drawn as letter-value boxes
// (like seaborn's boxenplot): nested boxes for the 25–75, 10–90, 2.5–97.5 and 0.5–99.5 % ranges,
// a median line and the extremes as dots. That shows tails without thousands of outlier glyphs.
type BoxPlots struct {
	Title, XLabel string
	GroupLabels   []string
	Rows          []BoxRow
	Color         color.Color // default matplotlib blue
	Width         vg.Length   // default 0.22 in per group, at least 6 in
	RowHeight     vg.Length   // default 1.6 in
	FontSize      font.Length // default 9 pt
}

// Figure lays the rows out top to bottom with group labels under the last row.
func (b BoxPlots) Figure() *Figure {
	size := cmp.Or(b.FontSize, 9)
	ng := 0
	for _, r := range b.Rows {
		ng = max(ng, len(r.Groups))
	}
	w := cmp.Or(b.Width, max(6*vg.Inch, vg.Length(ng)*0.22*vg.Inch+vg.Inch))
	rh := cmp.Or(b.RowHeight, 1.6*vg.Inch)
	col := cmp.Or(b.Color, matplotlibBlue)
	titleH := vg.Points(float64(size) * 2.5)
	h := vg.Length(len(b.Rows))*rh + titleH + 0.4*vg.Inch
	return &Figure{W: w, H: h, Draw: func(dc draw.Canvas) {
		drawTitle(dc, b.Title, size*1.2)
		plots := make([][]*plot.Plot, len(b.Rows))
		for i, r := range b.Rows {
			p := newPlot("", size)
			p.Y.Label.Text = r.YLabel
			labels := b.GroupLabels
			if i != len(b.Rows)-1 {
				labels = make([]string, len(b.GroupLabels))
			} else {
				p.X.Label.Text = b.XLabel
			}
			p.X.Tick.Marker = nominal(labels)
			p.Add(lines(r.Lines), &boxen{groups: r.Groups, color: col})
			p.Y.Min, p.Y.Max = r.YRange[0], r.YRange[1]
			p.X.Min, p.X.Max = -0.6, float64(ng)-0.4
			plots[i] = []*plot.Plot{p}
		}
		body := dc
		body.Max.Y -= titleH
		canv := plot.Align(plots, draw.Tiles{Rows: len(b.Rows), Cols: 1, PadY: vg.Points(6), PadRight: vg.Points(8), PadLeft: vg.Points(4), PadBottom: vg.Points(4)}, body)
		for i := range plots {
			plots[i][0].Draw(canv[i][0])
		}
	}}
}

// nominal ticks label integer positions 0..n-1.
type nominal []string

func (n nominal) Ticks(min, max float64) []plot.Tick {
	ts := make([]plot.Tick, len(n))
	for i, s := range n {
		ts[i] = plot.Tick{Value: float64(i), Label: s}
	}
	return ts
}

type boxen struct {
	groups [][]float64
	color  color.Color
}

// letter-value ranges, outermost first, with their box half-widths (fraction of the slot) and shades.
var boxenLevels = []struct {
	lo, hi, half, shade float64
}{{0.005, 0.995, 0.15, 0.25}, {0.025, 0.975, 0.22, 0.45}, {0.10, 0.90, 0.30, 0.7}, {0.25, 0.75, 0.38, 1}}

func (b *boxen) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	cr, cg, cb, _ := b.color.RGBA()
	for gi, g := range b.groups {
		s := make([]float64, 0, len(g))
		for _, v := range g {
			if !math.IsNaN(v) {
				s = append(s, v)
			}
		}
		if len(s) == 0 {
			continue
		}
		slices.Sort(s)
		x := float64(gi)
		for _, lv := range boxenLevels {
			mix := func(v uint32) uint8 { return uint8(float64(v>>8)*lv.shade + 255*(1-lv.shade)) }
			fill := color.NRGBA{mix(cr), mix(cg), mix(cb), 255}
			r := vg.Rectangle{Min: vg.Point{X: trX(x - lv.half), Y: trY(quantile.Sorted(s, lv.lo))},
				Max: vg.Point{X: trX(x + lv.half), Y: trY(quantile.Sorted(s, lv.hi))}}
			c.FillPolygon(fill, c.ClipPolygonXY(rectPts(r)))
		}
		med := trY(quantile.Sorted(s, 0.5))
		c.StrokeLine2(draw.LineStyle{Color: color.NRGBA{0x40, 0x40, 0x40, 255}, Width: vg.Points(1)}, trX(x-0.38), med, trX(x+0.38), med)
		for _, v := range []float64{s[0], s[len(s)-1]} {
			c.DrawGlyph(draw.GlyphStyle{Color: color.NRGBA{0x60, 0x60, 0x60, 255}, Radius: vg.Points(1.2), Shape: draw.CircleGlyph{}}, vg.Point{X: trX(x), Y: trY(v)})
		}
	}
}

// HistPanel is one histogram panel: its Values, or else Counts already binned.
type HistPanel struct {
	Title  string
	Values []float64
	// Counts, if set, are the panel's counts in len(Counts) equal bins over the grid's XRange (for data
	// too large to hold: binned while streamed); Values and the grid's Bins are then ignored.
	Counts []float64
	Lines  []Line
}

// HistGrid is a grid of histograms over a shared x range.
type HistGrid struct {
	Title, XLabel, YLabel string
	Panels                []HistPanel
	Cols                  int
	XRange                [2]float64
	Bins                  int  // default 60
	LogY                  bool // log-scaled counts (empty bins are left out)
	Color                 color.Color
	Legend                []LegendEntry
	PanelSize             vg.Length   // default 2 in wide, 1.5 in high
	FontSize              font.Length // default 9 pt
}

// Figure lays the panels out row by row with the legend below. Panel titles may have several lines
// ("\n"); panels grow by the extra lines, so their data areas keep their height.
func (g HistGrid) Figure() *Figure {
	size := float64(cmp.Or(g.FontSize, 9))
	pw := cmp.Or(g.PanelSize, 2*vg.Inch)
	extra := 0
	for _, p := range g.Panels {
		extra = max(extra, strings.Count(p.Title, "\n"))
	}
	ph := pw*3/4 + vg.Points(size*1.15*1.2*float64(extra)) // newPlot's title size, one line each
	return g.figure(false, 60, pw, ph, vg.Points(size*2.5))
}

// figure draws HistGrid and FracHistGrid (frac: bars are fractions of each panel's values): pw × ph
// panels under a title band titleH high, in g.Bins bins or else defBins.
func (g HistGrid) figure(frac bool, defBins int, pw, ph, titleH vg.Length) *Figure {
	size := cmp.Or(g.FontSize, 9)
	bins := defBins
	if g.Bins > 0 {
		bins = g.Bins
	}
	col := cmp.Or(g.Color, matplotlibBlue)
	footH := vg.Length(0)
	if len(g.Legend) > 0 {
		footH = vg.Points(float64(size)*1.6*float64(len(g.Legend))) + vg.Points(10)
	}
	yTicks := stepTicks{func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }}
	if frac {
		yTicks = stepTicks{trim}
	}
	lay := newGridLayout(len(g.Panels), g.Cols, size, titleH, footH)
	return lay.figure(pw, ph, func(dc draw.Canvas) {
		binsOf, lo, hi := histBins(g.Panels, g.XRange, bins, frac)
		panels := make([]*plot.Plot, len(g.Panels))
		for i, pn := range g.Panels {
			p := lay.panel(i, pn.Title, g.XLabel)
			h := &plotter.Histogram{Bins: binsOf[i], FillColor: col, LogY: g.LogY,
				LineStyle: draw.LineStyle{Color: col, Width: vg.Points(0.3)}}
			p.Add(h, lines(pn.Lines))
			p.X.Min, p.X.Max = g.XRange[0], g.XRange[1]
			if g.LogY {
				p.Y.Scale = plot.LogScale{}
				p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
				p.Y.Min, p.Y.Max = lo*0.7, hi*1.6
			} else {
				p.Y.Tick.Marker = yTicks
				p.Y.Min, p.Y.Max = 0, hi*1.05
			}
			panels[i] = p
		}
		foot := lay.draw(dc, g.Title, g.YLabel, panels)
		if len(g.Legend) > 0 {
			foot.Min.X += vg.Points(40)
			drawLegend(foot, g.Legend, size)
		}
	})
}

// histBins bins each panel's values over r into n bins, as fractions of the panel's values with frac.
// lo and hi are the least (at most 1) and greatest (1 if none) non-empty bin over all panels, a
// shared y range like matplotlib's sharey.
func histBins(panels []HistPanel, r [2]float64, n int, frac bool) (bins [][]plotter.HistogramBin, lo, hi float64) {
	bins = make([][]plotter.HistogramBin, len(panels))
	lo = 1
	for i, pn := range panels {
		if pn.Counts != nil {
			bins[i] = counted(pn.Counts, r)
		} else {
			bins[i] = binned(pn.Values, r, n)
		}
		var total float64
		for _, b := range bins[i] {
			total += b.Weight
		}
		for j := range bins[i] {
			if frac && total > 0 {
				bins[i][j].Weight /= total
			}
			if v := bins[i][j].Weight; v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		hi = 1
	}
	return bins, lo, hi
}

// binned counts values into n equal bins over r; values outside r go to the end bins.
func binned(vs []float64, r [2]float64, n int) []plotter.HistogramBin {
	bins := make([]plotter.HistogramBin, n)
	wd := (r[1] - r[0]) / float64(n)
	for i := range bins {
		bins[i].Min, bins[i].Max = r[0]+float64(i)*wd, r[0]+float64(i+1)*wd
	}
	for _, v := range vs {
		if math.IsNaN(v) {
			continue
		}
		i := max(0, min(n-1, int((v-r[0])/wd)))
		bins[i].Weight++
	}
	return bins
}

// counted lays pre-binned counts out as len(counts) equal bins over r.
func counted(counts []float64, r [2]float64) []plotter.HistogramBin {
	bins := binned(nil, r, len(counts))
	for i, c := range counts {
		bins[i].Weight = c
	}
	return bins
}

// stepTicks puts about three round ticks on a linear axis, labelled by label, so narrow panels stay
// legible.
type stepTicks struct{ label func(float64) string }

func (t stepTicks) Ticks(min, max float64) []plot.Tick {
	if max <= min {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10((max-min)/2)))
	for (max-min)/step > 3.5 {
		step *= 2
	}
	var ts []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: t.label(v)})
	}
	return ts
}
