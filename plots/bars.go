package plots

import (
	"cmp"
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named, coloured sequence of values, one per row or group.
type Series struct {
	Name   string
	Color  color.Color
	Values []float64
}

// StackedBars is a horizontal stacked bar chart: one bar per row, first row on top, one segment per
// series, with each segment's value printed inside it where it fits.
type StackedBars struct {
	Title, XLabel string
	Rows          []string
	Series        []Series
	Labels        bool
	FontSize      font.Length // default 9 pt
	Width         vg.Length   // default 9 in
}

// Figure lays the chart out with its legend to the right.
func (s StackedBars) Figure() *Figure {
	size := cmp.Or(s.FontSize, 9)
	w := cmp.Or(s.Width, 9*vg.Inch)
	h := max(3*vg.Inch, vg.Length(len(s.Rows))*vg.Points(15)+vg.Inch)
	var entries []LegendEntry
	for _, se := range s.Series {
		entries = append(entries, LegendEntry{Name: se.Name, Color: se.Color})
	}
	legW := legendWidth(entries, size)
	return &Figure{W: w, H: h, Draw: func(dc draw.Canvas) {
		p := newPlot(s.Title, size)
		p.X.Label.Text = s.XLabel
		n := len(s.Rows)
		names := make([]string, n)
		for i, r := range s.Rows {
			names[n-1-i] = r
		}
		p.NominalY(names...)
		p.Y.Tick.Label.Font.Size = size * 0.9
		b := &stackH{s: s, size: size * 0.85}
		p.Add(b)
		p.X.Min = 0
		p.X.Max = b.maxTotal() * 1.01
		drawBesideLegend(dc, p, entries, size, legW)
	}}
}

type stackH struct {
	s    StackedBars
	size font.Length
}

func (b *stackH) maxTotal() float64 {
	m := 1.0
	for i := range b.s.Rows {
		var t float64
		for _, se := range b.s.Series {
			if i < len(se.Values) {
				t += se.Values[i]
			}
		}
		m = max(m, t)
	}
	return m
}

func (b *stackH) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0, b.maxTotal(), -0.5, float64(len(b.s.Rows)) - 0.5
}

func (b *stackH) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(b.s.Rows)
	sty := text.Style{Font: font.From(plot.DefaultFont, b.size), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
	for i := range b.s.Rows {
		y := float64(n - 1 - i)
		var x0 float64
		for _, se := range b.s.Series {
			if i >= len(se.Values) || se.Values[i] <= 0 {
				continue
			}
			x1 := x0 + se.Values[i]
			r := vg.Rectangle{Min: vg.Point{X: trX(x0), Y: trY(y - 0.4)}, Max: vg.Point{X: trX(x1), Y: trY(y + 0.4)}}
			c.FillPolygon(se.Color, c.ClipPolygonXY(rectPts(r)))
			if b.s.Labels {
				label := strconv.FormatFloat(se.Values[i], 'f', -1, 64)
				if sty.Width(label)+vg.Points(2) < r.Max.X-r.Min.X && sty.Height(label) < r.Max.Y-r.Min.Y+vg.Points(2) {
					sty.Color = textOn(se.Color)
					c.FillText(sty, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: (r.Min.Y + r.Max.Y) / 2}, label)
				}
			}
			x0 = x1
		}
	}
}

// textOn picks black or white text for legibility on a fill colour.
func textOn(fill color.Color) color.Color {
	r, g, b, _ := fill.RGBA()
	if 0.299*float64(r)+0.587*float64(g)+0.114*float64(b) > 0.5*0xffff {
		return color.Black
	}
	return color.White
}
