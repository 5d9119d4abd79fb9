// Package plots draws wcos's figures with gonum.org/v1/plot: horizontal stacked bars, grids of
// rasterised colour-coded scatter panels, per-group box plots and histogram grids, each saved as PNG
// and SVG (and PDF on request). It knows nothing about RW classes: callers pass values, labels and
// colours, so later experiments can reuse it.
package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// DPI of PNG output and of rasterised scatter points in every format.
const DPI = 150

// matplotlibBlue is the default fill colour (matplotlib's C0).
var matplotlibBlue color.Color = color.NRGBA{0x1f, 0x77, 0xb4, 0xff}

// Figure is a drawing of a fixed size, saved in several formats.
type Figure struct {
	W, H vg.Length
	Draw func(dc draw.Canvas)
}

// Save writes the figure to base+"."+format for each format ("png", "svg", "pdf"; default png and
// svg) and returns the paths written.
func (f *Figure) Save(base string, formats ...string) ([]string, error) {
	if len(formats) == 0 {
		formats = []string{"png", "svg"}
	}
	var paths []string
	for _, format := range formats {
		var c interface {
			vg.CanvasSizer
			io.WriterTo
		}
		switch format {
		case "png":
			img := vgimg.NewWith(vgimg.UseWH(f.W, f.H), vgimg.UseDPI(DPI))
			fillWhite(img, f.W, f.H)
			c = vgimg.PngCanvas{Canvas: img}
		case "svg":
			c = vgsvg.New(f.W, f.H)
		case "pdf":
			p := vgpdf.New(f.W, f.H)
			p.EmbedFonts(true)
			c = p
		default:
			return paths, fmt.Errorf("plots: unknown format %q", format)
		}
		f.Draw(draw.New(c))
		path := base + "." + format
		if err := writeTo(path, c); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func fillWhite(c vg.Canvas, w, h vg.Length) {
	c.SetColor(color.White)
	c.Fill(vg.Path{{Type: vg.MoveComp, Pos: vg.Point{}}, {Type: vg.LineComp, Pos: vg.Point{X: w}},
		{Type: vg.LineComp, Pos: vg.Point{X: w, Y: h}}, {Type: vg.LineComp, Pos: vg.Point{Y: h}}, {Type: vg.CloseComp}})
}

func writeTo(path string, w io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return f.Close()
}

// Line is a horizontal (Horizontal) or vertical reference line at At, drawn across the whole panel.
type Line struct {
	Horizontal bool
	At         float64
	Color      color.Color
	Width      vg.Length
	Dashes     []vg.Length // nil: solid
}

// Dotted and Dashed are dash patterns for Line.
var (
	Dotted = []vg.Length{vg.Points(1), vg.Points(1.5)}
	Dashed = []vg.Length{vg.Points(4), vg.Points(2)}
)

// lines is a plotter drawing reference lines over the full data area; it has no data range, so it
// never stretches the axes.
type lines []Line

func (ls lines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, l := range ls {
		if math.IsNaN(l.At) || math.IsInf(l.At, 0) {
			continue
		}
		sty := draw.LineStyle{Color: l.Color, Width: l.Width, Dashes: l.Dashes}
		if sty.Width == 0 {
			sty.Width = vg.Points(0.75)
		}
		if sty.Color == nil {
			sty.Color = color.Black
		}
		var pts []vg.Point
		if l.Horizontal {
			if l.At < p.Y.Min || l.At > p.Y.Max {
				continue
			}
			y := trY(l.At)
			pts = []vg.Point{{X: c.Min.X, Y: y}, {X: c.Max.X, Y: y}}
		} else {
			if l.At < p.X.Min || l.At > p.X.Max {
				continue
			}
			x := trX(l.At)
			pts = []vg.Point{{X: x, Y: c.Min.Y}, {X: x, Y: c.Max.Y}}
		}
		c.StrokeLines(sty, pts)
	}
}

// LegendEntry is a named swatch (filled square) or, with Line set, a line sample.
type LegendEntry struct {
	Name  string
	Color color.Color
	Line  *Line
}

type swatch struct{ e LegendEntry }

func (s swatch) Thumbnail(c *draw.Canvas) {
	if s.e.Line != nil {
		l := *s.e.Line
		y := (c.Min.Y + c.Max.Y) / 2
		w := l.Width
		if w == 0 {
			w = vg.Points(1)
		}
		c.StrokeLine2(draw.LineStyle{Color: l.Color, Width: w, Dashes: l.Dashes}, c.Min.X, y, c.Max.X, y)
		return
	}
	c.FillPolygon(s.e.Color, rectPts(c.Rectangle))
	c.StrokeLines(draw.LineStyle{Color: color.Gray{0x80}, Width: vg.Points(0.3)}, rectPts(c.Rectangle))
}

// drawBesideLegend draws p in dc but for a column legW wide on the right, which holds the legend
// below the title band.
func drawBesideLegend(dc draw.Canvas, p *plot.Plot, entries []LegendEntry, size font.Length, legW vg.Length) {
	left := dc
	left.Max.X -= legW
	p.Draw(left)
	right := dc
	right.Min.X = dc.Max.X - legW + vg.Points(4)
	right.Max.Y -= vg.Points(float64(size) * 2.2)
	drawLegend(right, entries, size)
}

// drawLegend draws entries top-down in c.
func drawLegend(c draw.Canvas, entries []LegendEntry, size font.Length) {
	l := plot.NewLegend()
	l.TextStyle.Font.Size = size
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(14)
	l.Padding = vg.Points(2.5)
	for _, e := range entries {
		l.Add(e.Name, swatch{e})
	}
	l.Draw(c)
}

// legendWidth estimates the width needed by drawLegend.
func legendWidth(entries []LegendEntry, size font.Length) vg.Length {
	sty := plot.NewLegend().TextStyle
	sty.Font.Size = size
	var w vg.Length
	for _, e := range entries {
		w = max(w, sty.Width(e.Name))
	}
	return w + vg.Points(14) + sty.Width("  ") + vg.Points(6)
}

// LinearMap is a palette.ColorMap interpolating linearly between equally spaced colours.
type LinearMap struct {
	Colors        []color.NRGBA
	min, max, alf float64
}

// Viridis returns matplotlib's viridis colour map on [min, max].
func Viridis(min, max float64) *LinearMap {
	hex := []uint32{0x440154, 0x482878, 0x3e4989, 0x31688e, 0x26828e, 0x1f9e89, 0x35b779, 0x6ece58, 0xb5de2b, 0xfde725}
	m := &LinearMap{min: min, max: max, alf: 1}
	for _, h := range hex {
		m.Colors = append(m.Colors, color.NRGBA{uint8(h >> 16), uint8(h >> 8), uint8(h), 255})
	}
	return m
}

func (m *LinearMap) At(v float64) (color.Color, error) {
	if m.max <= m.min {
		return nil, fmt.Errorf("plots: empty colour map range [%v, %v]", m.min, m.max)
	}
	t := (v - m.min) / (m.max - m.min)
	if math.IsNaN(t) {
		return color.NRGBA{0xbb, 0xbb, 0xbb, uint8(255 * m.alf)}, nil
	}
	t = math.Max(0, math.Min(1, t)) * float64(len(m.Colors)-1)
	i := min(int(t), len(m.Colors)-2)
	f := t - float64(i)
	a, b := m.Colors[i], m.Colors[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-f) + float64(y)*f)) }
	return color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), uint8(math.Round(255 * m.alf))}, nil
}
func (m *LinearMap) Max() float64       { return m.max }
func (m *LinearMap) Min() float64       { return m.min }
func (m *LinearMap) SetMax(v float64)   { m.max = v }
func (m *LinearMap) SetMin(v float64)   { m.min = v }
func (m *LinearMap) Alpha() float64     { return m.alf }
func (m *LinearMap) SetAlpha(a float64) { m.alf = a }
func (m *LinearMap) Palette(n int) palette.Palette {
	cs := make([]color.Color, n)
	for i := range cs {
		cs[i], _ = m.At(m.min + (m.max-m.min)*float64(i)/float64(max(1, n-1)))
	}
	return pal(cs)
}

type pal []color.Color

func (p pal) Colors() []color.Color { return p }

// newPlot returns a plot with wcos's font sizes.
func newPlot(title string, size font.Length) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = size * 1.15
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = size
		ax.Tick.Label.Font.Size = size * 0.9
	}
	return p
}

// values adapts a float slice to plotter.Valuer.
type values []float64

func (v values) Len() int            { return len(v) }
func (v values) Value(i int) float64 { return v[i] }

var _ plotter.Valuer = values(nil)

func rectPts(r vg.Rectangle) []vg.Point {
	return []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min}
}
