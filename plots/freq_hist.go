package plots

import (
	"cmp"
	"image"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// FracHistGrid is a HistGrid whose bars are the fraction of each panel's values per bin (matplotlib's
// hist with weights 1/n), so panels of very different sizes compare on one y axis. Bins default to 20,
// panels are at most 1.6 in high, and the title may have several lines ("\n"), e.g. a note under the
// headline.
type FracHistGrid HistGrid

// Figure lays the panels out row by row with the legend below.
func (g FracHistGrid) Figure() *Figure {
	size := cmp.Or(g.FontSize, 9)
	pw := cmp.Or(g.PanelSize, 2*vg.Inch)
	titleH := vg.Points(float64(size) * (1.0 + 1.45*float64(strings.Count(g.Title, "\n")+1)))
	return HistGrid(g).figure(true, 20, pw, min(pw*3/4, 1.6*vg.Inch), titleH)
}

// Hist2DPanel is one 2-D histogram panel with an optional fitted line y = Fit[0] + Fit[1]·x and
// legend text (one entry per line) boxed in the top-right corner.
type Hist2DPanel struct {
	Title  string
	X, Y   []float64
	Fit    *[2]float64
	Legend []string
}

// Hist2DGrid is a grid of 2-D histograms (counts per cell, empty cells white) on shared ranges and one
// colour scale. Cells are rasterised at the output resolution, so SVG stays small and nothing blurs.
type Hist2DGrid struct {
	Title, XLabel, YLabel, CLabel string
	Panels                        []Hist2DPanel
	Cols                          int // default 4
	Bins                          int // per axis, default 100
	XRange, YRange                [2]float64
	FitColor                      color.Color // default red
	FitName                       string      // legend entry of the fitted line below the grid ("" none)
	PanelSize                     vg.Length   // default 2 in
	FontSize                      font.Length // default 9 pt
}

// Figure lays the panels out row by row, the count colour bar below.
func (g Hist2DGrid) Figure() *Figure {
	size := cmp.Or(g.FontSize, 9)
	ps := cmp.Or(g.PanelSize, 2*vg.Inch)
	nb := g.Bins
	if nb <= 0 {
		nb = 100
	}
	fitCol := cmp.Or(g.FitColor, color.Color(color.NRGBA{0xd6, 0x27, 0x28, 0xff}))
	counts := make([][]float64, len(g.Panels))
	cmax := 1.0
	for i, pn := range g.Panels {
		counts[i] = bin2D(pn.X, pn.Y, g.XRange, g.YRange, nb)
		for _, v := range counts[i] {
			cmax = math.Max(cmax, v)
		}
	}
	// Light to dark blue, as matplotlib's Blues: sparse cells stay visible, dense ones stand out.
	cm := &LinearMap{min: 1, max: cmax, alf: 1}
	for _, h := range []uint32{0xa6cee3, 0x4a98c9, 0x1764ab, 0x08306b} {
		cm.Colors = append(cm.Colors, color.NRGBA{uint8(h >> 16), uint8(h >> 8), uint8(h), 255})
	}
	if cmax <= 1 {
		cm.max = 2
	}
	var legend []LegendEntry
	if g.FitName != "" {
		legend = []LegendEntry{{Name: g.FitName, Line: &Line{Color: fitCol, Width: vg.Points(1)}}}
	}
	lay := colorBarLayout(len(g.Panels), g.Cols, size)
	return lay.figure(ps, ps, func(dc draw.Canvas) {
		panels := make([]*plot.Plot, len(g.Panels))
		for i, pn := range g.Panels {
			data := []plot.Plotter{&cells{counts: counts[i], n: nb, cmap: cm}}
			if pn.Fit != nil {
				data = append(data, &fitLine{a: pn.Fit[0], b: pn.Fit[1], color: fitCol})
			}
			if len(pn.Legend) > 0 {
				data = append(data, &boxText{lines: pn.Legend, size: size * 0.85, line: fitCol})
			}
			panels[i] = lay.rangePanel(i, pn.Title, g.XLabel, g.XRange, g.YRange, data...)
		}
		drawColorBar(lay.draw(dc, g.Title, g.YLabel, panels), cm, g.CLabel, nil, legend, size)
	})
}

// bin2D counts points into n×n cells over the ranges (row-major from the bottom-left); points outside
// the ranges go to the edge cells, NaN points are dropped.
func bin2D(xs, ys []float64, xr, yr [2]float64, n int) []float64 {
	out := make([]float64, n*n)
	cell := func(v float64, r [2]float64) int {
		return max(0, min(n-1, int((v-r[0])/(r[1]-r[0])*float64(n))))
	}
	for i := range xs {
		if i >= len(ys) || math.IsNaN(xs[i]) || math.IsNaN(ys[i]) {
			continue
		}
		out[cell(ys[i], yr)*n+cell(xs[i], xr)]++
	}
	return out
}

// cells draws an n×n count grid covering the whole data area, one image pixel per output pixel.
type cells struct {
	counts []float64
	n      int
	cmap   *LinearMap
}

func (h *cells) Plot(c draw.Canvas, p *plot.Plot) {
	scale := float64(DPI) / 72
	wpx := int(math.Ceil(float64(c.Max.X-c.Min.X) * scale))
	hpx := int(math.Ceil(float64(c.Max.Y-c.Min.Y) * scale))
	if wpx <= 0 || hpx <= 0 {
		return
	}
	img := image.NewNRGBA(image.Rect(0, 0, wpx, hpx))
	for py := 0; py < hpx; py++ {
		cy := min(h.n-1, (hpx-1-py)*h.n/hpx)
		for px := 0; px < wpx; px++ {
			v := h.counts[cy*h.n+min(h.n-1, px*h.n/wpx)]
			if v <= 0 {
				continue
			}
			col, _ := h.cmap.At(v)
			img.Set(px, py, col)
		}
	}
	c.DrawImage(c.Rectangle, img)
}

// fitLine draws y = a + b·x across the x range, clipped to the data area.
type fitLine struct {
	a, b  float64
	color color.Color
}

func (f *fitLine) Plot(c draw.Canvas, p *plot.Plot) {
	if math.IsNaN(f.a) || math.IsNaN(f.b) {
		return
	}
	trX, trY := p.Transforms(&c)
	pts := []vg.Point{{X: trX(p.X.Min), Y: trY(f.a + f.b*p.X.Min)}, {X: trX(p.X.Max), Y: trY(f.a + f.b*p.X.Max)}}
	c.StrokeLines(draw.LineStyle{Color: f.color, Width: vg.Points(0.8)}, c.ClipLinesXY(pts)...)
}

// boxText is a small legend: a line sample and text lines in a white box in the top-right corner.
type boxText struct {
	lines []string
	size  font.Length
	line  color.Color
}

func (b *boxText) Plot(c draw.Canvas, _ *plot.Plot) {
	sty := text.Style{Font: font.From(plot.DefaultFont, b.size), XAlign: draw.XLeft, YAlign: draw.YTop, Handler: plot.DefaultTextHandler, Color: color.Black}
	var tw vg.Length
	for _, l := range b.lines {
		tw = max(tw, sty.Width(l))
	}
	lh := sty.Height("Xg")
	pad, sample := vg.Points(2), vg.Points(10)
	bw := pad*3 + sample + tw
	bh := pad*2 + lh*vg.Length(len(b.lines))
	r := vg.Rectangle{Min: vg.Point{X: c.Max.X - bw - pad, Y: c.Max.Y - bh - pad}, Max: vg.Point{X: c.Max.X - pad, Y: c.Max.Y - pad}}
	c.FillPolygon(color.NRGBA{255, 255, 255, 230}, rectPts(r))
	c.StrokeLines(draw.LineStyle{Color: color.Gray{0xbb}, Width: vg.Points(0.4)}, rectPts(r))
	y := r.Max.Y - pad - lh/2
	c.StrokeLine2(draw.LineStyle{Color: b.line, Width: vg.Points(1)}, r.Min.X+pad, y, r.Min.X+pad+sample, y)
	for i, l := range b.lines {
		c.FillText(sty, vg.Point{X: r.Min.X + pad*2 + sample, Y: r.Max.Y - pad - lh*vg.Length(i)}, l)
	}
}
