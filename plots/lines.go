package plots

import (
	"cmp"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BandSeries is one line of a LineBands chart: Y over X with a shaded band from Lo to Hi (e.g. a 95 %
// confidence interval; nil Lo/Hi: no band). Points with a NaN Y are left out of the line, NaN bounds
// out of the band.
type BandSeries struct {
	Name      string
	Color     color.Color
	Dashes    []vg.Length // nil: solid
	X, Y      []float64
	Lo, Hi    []float64
	LineWidth vg.Length // default 1.5 pt
}

// LineBands is a line plot with confidence bands (seaborn's lineplot of a mean with its CI), legend to
// the right.
type LineBands struct {
	Title, XLabel, YLabel string
	Series                []BandSeries
	FontSize              font.Length // default 9 pt
	Width, Height         vg.Length   // default 6 × 3.5 in
}

// bandAlpha is the band's opacity (seaborn's default for lineplot error bands is 0.2).
const bandAlpha = 0.2

// Figure draws the chart.
func (l LineBands) Figure() *Figure {
	size := cmp.Or(l.FontSize, 9)
	w, h := cmp.Or(l.Width, 6*vg.Inch), cmp.Or(l.Height, 3.5*vg.Inch)
	var entries []LegendEntry
	for _, s := range l.Series {
		entries = append(entries, LegendEntry{Name: s.Name, Color: s.Color,
			Line: &Line{Color: s.Color, Width: cmp.Or(s.LineWidth, vg.Points(1.5)), Dashes: s.Dashes}})
	}
	legW := legendWidth(entries, size)
	return &Figure{W: w, H: h, Draw: func(dc draw.Canvas) {
		p := newPlot(l.Title, size)
		p.X.Label.Text, p.Y.Label.Text = l.XLabel, l.YLabel
		p.Add(plotter.NewGrid())
		for _, s := range l.Series {
			p.Add(&band{s: s})
		}
		for _, s := range l.Series {
			p.Add(&seriesLine{s: s})
		}
		drawBesideLegend(dc, p, entries, size, legW)
	}}
}

// band fills the area between Lo and Hi of a series, in runs of finite points.
type band struct{ s BandSeries }

func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	s := b.s
	if s.Lo == nil || s.Hi == nil {
		return
	}
	trX, trY := p.Transforms(&c)
	r, g, bl, _ := cmp.Or[color.Color](s.Color, color.Black).RGBA()
	fill := color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(255 * bandAlpha)}
	flush := func(run []int) {
		if len(run) < 2 {
			return
		}
		var pts []vg.Point
		for _, i := range run {
			pts = append(pts, vg.Point{X: trX(s.X[i]), Y: trY(s.Hi[i])})
		}
		for k := len(run) - 1; k >= 0; k-- {
			i := run[k]
			pts = append(pts, vg.Point{X: trX(s.X[i]), Y: trY(s.Lo[i])})
		}
		c.FillPolygon(fill, c.ClipPolygonXY(pts))
	}
	var run []int
	for i := range s.X {
		if i >= len(s.Lo) || i >= len(s.Hi) || math.IsNaN(s.Lo[i]) || math.IsNaN(s.Hi[i]) {
			flush(run)
			run = nil
			continue
		}
		run = append(run, i)
	}
	flush(run)
}

func (b *band) DataRange() (xmin, xmax, ymin, ymax float64) {
	return seriesRange(b.s, true)
}

// seriesLine draws Y over X, broken at NaN values.
type seriesLine struct{ s BandSeries }

func (l *seriesLine) Plot(c draw.Canvas, p *plot.Plot) {
	s := l.s
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: cmp.Or[color.Color](s.Color, color.Black), Width: cmp.Or(s.LineWidth, vg.Points(1.5)), Dashes: s.Dashes}
	var pts []vg.Point
	flush := func() {
		if len(pts) == 1 {
			c.DrawGlyph(draw.GlyphStyle{Color: sty.Color, Radius: sty.Width, Shape: draw.CircleGlyph{}}, pts[0])
		} else if len(pts) > 1 {
			c.StrokeLines(sty, c.ClipLinesXY(pts)...)
		}
		pts = nil
	}
	for i := range s.X {
		if i >= len(s.Y) || math.IsNaN(s.Y[i]) {
			flush()
			continue
		}
		pts = append(pts, vg.Point{X: trX(s.X[i]), Y: trY(s.Y[i])})
	}
	flush()
}

func (l *seriesLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	return seriesRange(l.s, false)
}

func seriesRange(s BandSeries, bands bool) (xmin, xmax, ymin, ymax float64) {
	xmin, ymin, xmax, ymax = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	see := func(vs []float64) {
		for _, v := range vs {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
			}
		}
	}
	for _, x := range s.X {
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
	}
	see(s.Y)
	if bands {
		see(s.Lo)
		see(s.Hi)
	}
	if math.IsInf(ymin, 1) { // nothing finite: an empty range that does not stretch the axes
		ymin, ymax = 0, 0
	}
	if math.IsInf(xmin, 1) {
		xmin, xmax = 0, 0
	}
	return
}
