package plots

import (
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
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
	size := b.FontSize
	if size == 0 {
		size = 9
	}
	ng := 0
	for _, r := range b.Rows {
		ng = max(ng, len(r.Groups))
	}
	w := b.Width
	if w == 0 {
		w = max(6*vg.Inch, vg.Length(ng)*0.22*vg.Inch+vg.Inch)
	}
	rh := b.RowHeight
	if rh == 0 {
		rh = 1.6 * vg.Inch
	}
	col := b.Color
	if col == nil {
		col = color.NRGBA{0x1f, 0x77, 0xb4, 0xff}
	}
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
			r := vg.Rectangle{Min: vg.Point{X: trX(x - lv.half), Y: trY(quantile(s, lv.lo))},
				Max: vg.Point{X: trX(x + lv.half), Y: trY(quantile(s, lv.hi))}}
			c.FillPolygon(fill, c.ClipPolygonXY(rectPts(r)))
		}
		med := trY(quantile(s, 0.5))
		c.StrokeLine2(draw.LineStyle{Color: color.NRGBA{0x40, 0x40, 0x40, 255}, Width: vg.Points(1)}, trX(x-0.38), med, trX(x+0.38), med)
		for _, v := range []float64{s[0], s[len(s)-1]} {
			c.DrawGlyph(draw.GlyphStyle{Color: color.NRGBA{0x60, 0x60, 0x60, 255}, Radius: vg.Points(1.2), Shape: draw.CircleGlyph{}}, vg.Point{X: trX(x), Y: trY(v)})
		}
	}
}

func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// HistPanel is one histogram panel.
type HistPanel struct {
	Title  string
	Values []float64
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

// Figure lays the panels out row by row with the legend below.
func (g HistGrid) Figure() *Figure {
	cols := g.Cols
	if cols <= 0 {
		cols = 4
	}
	cols = max(1, min(cols, len(g.Panels)))
	rows := max(1, (len(g.Panels)+cols-1)/cols)
	pw := g.PanelSize
	if pw == 0 {
		pw = 2 * vg.Inch
	}
	ph := pw * 3 / 4
	size := g.FontSize
	if size == 0 {
		size = 9
	}
	bins := g.Bins
	if bins <= 0 {
		bins = 60
	}
	col := g.Color
	if col == nil {
		col = color.NRGBA{0x1f, 0x77, 0xb4, 0xff}
	}
	titleH := vg.Points(float64(size) * 2.5)
	footH := vg.Length(0)
	if len(g.Legend) > 0 {
		footH = vg.Points(float64(size)*1.6*float64(len(g.Legend))) + vg.Points(10)
	}
	w := vg.Length(cols)*pw + 0.4*vg.Inch
	h := vg.Length(rows)*ph + titleH + footH
	return &Figure{W: w, H: h, Draw: func(dc draw.Canvas) {
		drawTitle(dc, g.Title, size*1.2)
		plots := make([][]*plot.Plot, rows)
		for r := range rows {
			plots[r] = make([]*plot.Plot, cols)
		}
		// One y range for all panels: comparable heights and aligned titles.
		binsOf := make([][]plotter.HistogramBin, len(g.Panels))
		ymax := 1.0
		for i, pn := range g.Panels {
			binsOf[i] = binned(pn.Values, g.XRange, bins)
			for _, b := range binsOf[i] {
				ymax = math.Max(ymax, b.Weight)
			}
		}
		for i, pn := range g.Panels {
			r, c := i/cols, i%cols
			p := newPlot(pn.Title, size)
			p.X.Tick.Marker = rangeTicks{}
			if r == rows-1 || i+cols >= len(g.Panels) {
				p.X.Label.Text = g.XLabel
			}
			h := &plotter.Histogram{Bins: binsOf[i], FillColor: col, LogY: g.LogY,
				LineStyle: draw.LineStyle{Color: col, Width: vg.Points(0.3)}}
			if g.LogY {
				p.Y.Scale = plot.LogScale{}
				p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
			} else {
				p.Y.Tick.Marker = countTicks{}
			}
			p.Add(h, lines(pn.Lines))
			p.X.Min, p.X.Max = g.XRange[0], g.XRange[1]
			if g.LogY {
				p.Y.Min, p.Y.Max = 0.7, ymax*1.6
			} else {
				p.Y.Min, p.Y.Max = 0, ymax*1.05
			}
			plots[r][c] = p
		}
		body := dc
		body.Max.Y -= titleH
		body.Min.Y += footH
		// One y label for the grid, so every column gets the same data width.
		body.Min.X += drawYLabel(body, g.YLabel, size)
		canv := plot.Align(plots, draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(8), PadY: vg.Points(6), PadLeft: vg.Points(4), PadRight: vg.Points(8)}, body)
		for r := range plots {
			for c, p := range plots[r] {
				if p != nil {
					p.Draw(canv[r][c])
				}
			}
		}
		if len(g.Legend) > 0 {
			leg := dc
			leg.Max.Y = dc.Min.Y + footH
			leg.Min.X += vg.Points(40)
			drawLegend(leg, g.Legend, size)
		}
	}}
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

// countTicks puts about three integer ticks on a count axis, so narrow panels stay legible.
type countTicks struct{}

func (countTicks) Ticks(min, max float64) []plot.Tick {
	if max <= min {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10((max-min)/2)))
	for (max-min)/step > 3.5 {
		step *= 2
	}
	var ts []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ts
}
