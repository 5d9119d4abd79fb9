package plots

import (
	"image"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Panel is one scatter panel: points (X[i], Y[i]) coloured by C[i], with reference lines.
type Panel struct {
	Title   string
	X, Y, C []float64
	Lines   []Line
}

// ScatterGrid is a grid of scatter panels sharing axes ranges and one colour bar. Points are
// rasterised (like matplotlib's rasterized=True) so SVG and PDF stay small for 10⁴–10⁵ points.
type ScatterGrid struct {
	Title, XLabel, YLabel, CLabel string
	Panels                        []Panel
	Cols                          int
	XRange, YRange                [2]float64
	CMap                          palette.ColorMap // default Viridis(0, 1)
	CLines                        []Line           // marks on the colour bar (vertical lines at C values)
	Legend                        []LegendEntry    // explains the reference lines
	PointRadius                   vg.Length        // default 0.6 pt
	Alpha                         float64          // default 0.6
	PanelSize                     vg.Length        // default 2 in
	FontSize                      font.Length      // default 9 pt
}

// Figure lays out the panels row by row, with the colour bar and legend below.
func (g ScatterGrid) Figure() *Figure {
	cols := max(1, min(g.Cols, len(g.Panels)))
	if g.Cols <= 0 {
		cols = min(4, max(1, len(g.Panels)))
	}
	rows := max(1, (len(g.Panels)+cols-1)/cols)
	ps := g.PanelSize
	if ps == 0 {
		ps = 2 * vg.Inch
	}
	size := g.FontSize
	if size == 0 {
		size = 9
	}
	cm := g.CMap
	if cm == nil {
		cm = Viridis(0, 1)
	}
	radius, alpha := g.PointRadius, g.Alpha
	if radius == 0 {
		radius = vg.Points(0.6)
	}
	if alpha == 0 {
		alpha = 0.6
	}
	titleH := vg.Points(float64(size) * 2.5)
	footH := vg.Length(0.9 * vg.Inch)
	w := vg.Length(cols)*ps + 0.4*vg.Inch
	h := vg.Length(rows)*ps + titleH + footH
	return &Figure{W: w, H: h, Draw: func(dc draw.Canvas) {
		drawTitle(dc, g.Title, size*1.2)
		plots := make([][]*plot.Plot, rows)
		for r := range rows {
			plots[r] = make([]*plot.Plot, cols)
		}
		for i, pn := range g.Panels {
			r, c := i/cols, i%cols
			p := newPlot(pn.Title, size)
			p.X.Tick.Marker = rangeTicks{}
			p.Y.Tick.Marker = rangeTicks{}
			if r == rows-1 || i+cols >= len(g.Panels) {
				p.X.Label.Text = g.XLabel
			}
			p.Add(&raster{x: pn.X, y: pn.Y, c: pn.C, cmap: cm, radius: radius, alpha: alpha}, lines(pn.Lines))
			// After Add, which widens the axes to the data.
			p.X.Min, p.X.Max = g.XRange[0], g.XRange[1]
			p.Y.Min, p.Y.Max = g.YRange[0], g.YRange[1]
			plots[r][c] = p
		}
		body := dc
		body.Max.Y -= titleH
		body.Min.Y += footH
		// One y label for the grid, so every column gets the same data width.
		body.Min.X += drawYLabel(body, g.YLabel, size)
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(8), PadY: vg.Points(6), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
		canv := plot.Align(plots, tiles, body)
		for r := range plots {
			for c, p := range plots[r] {
				if p != nil {
					p.Draw(canv[r][c])
				}
			}
		}
		foot := dc
		foot.Max.Y = dc.Min.Y + footH
		drawColorBar(foot, cm, g.CLabel, g.CLines, g.Legend, size)
	}}
}

// drawColorBar draws a horizontal colour bar on the left of c and the legend on the right.
func drawColorBar(c draw.Canvas, cm palette.ColorMap, label string, marks []Line, legend []LegendEntry, size font.Length) {
	bar := c
	if len(legend) > 0 {
		bar.Max.X = c.Min.X + (c.Max.X-c.Min.X)*0.5
	}
	bar.Min.X += vg.Points(12)
	bar.Max.Y -= vg.Points(6)
	p := newPlot("", size)
	p.HideY()
	p.X.Label.Text = label
	p.Add(&plotter.ColorBar{ColorMap: cm}, lines(marks))
	p.X.Min, p.X.Max = cm.Min(), cm.Max()
	p.Draw(bar)
	if len(legend) > 0 {
		leg := c
		leg.Min.X = bar.Max.X + vg.Points(24)
		leg.Max.Y -= vg.Points(4)
		drawLegend(leg, legend, size)
	}
}

// drawTitle centres a title at the top of c.
func drawTitle(c draw.Canvas, title string, size font.Length) {
	if title == "" {
		return
	}
	sty := text.Style{Font: font.From(plot.DefaultFont, size), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler, Color: color.Black}
	c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(4)}, title)
}

// rangeTicks labels the two ends and 0 (when inside), which is all a small panel has room for.
type rangeTicks struct{}

func (rangeTicks) Ticks(min, max float64) []plot.Tick {
	ts := []plot.Tick{{Value: min, Label: trim(min)}, {Value: max, Label: trim(max)}}
	if min < 0 && max > 0 {
		ts = append(ts, plot.Tick{Value: 0, Label: "0"})
	}
	mid := (min + max) / 2
	if !(min < 0 && max > 0) {
		ts = append(ts, plot.Tick{Value: mid, Label: trim(mid)})
	}
	return ts
}

func trim(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// raster draws points into an image of the data area's pixel size at DPI and places it with
// DrawImage, so the vector formats hold one image instead of one element per point.
type raster struct {
	x, y, c []float64
	cmap    palette.ColorMap
	radius  vg.Length
	alpha   float64
}

func (r *raster) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	scale := float64(DPI) / 72
	wpx := int(math.Ceil(float64(c.Max.X-c.Min.X) * scale))
	hpx := int(math.Ceil(float64(c.Max.Y-c.Min.Y) * scale))
	if wpx <= 0 || hpx <= 0 {
		return
	}
	img := image.NewRGBA(image.Rect(0, 0, wpx, hpx))
	rad := float64(r.radius) * scale
	ri := int(math.Ceil(rad))
	for i := range r.x {
		x, y := r.x[i], r.y[i]
		if math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		cv := math.NaN()
		if i < len(r.c) {
			cv = r.c[i]
		}
		col, err := r.cmap.At(math.Max(r.cmap.Min(), math.Min(r.cmap.Max(), cv)))
		if err != nil {
			continue
		}
		cr, cg, cb, _ := col.RGBA()
		px := float64(trX(x)-c.Min.X) * scale
		py := float64(hpx) - float64(trY(y)-c.Min.Y)*scale
		for dy := -ri; dy <= ri; dy++ {
			for dx := -ri; dx <= ri; dx++ {
				if float64(dx*dx+dy*dy) > rad*rad+0.5 {
					continue
				}
				ix, iy := int(px)+dx, int(py)+dy
				if ix < 0 || iy < 0 || ix >= wpx || iy >= hpx {
					continue
				}
				o := img.PixOffset(ix, iy)
				a := r.alpha
				pix := img.Pix[o : o+4]
				pix[0] = uint8(float64(cr>>8)*a + float64(pix[0])*(1-a))
				pix[1] = uint8(float64(cg>>8)*a + float64(pix[1])*(1-a))
				pix[2] = uint8(float64(cb>>8)*a + float64(pix[2])*(1-a))
				pix[3] = uint8(255*a + float64(pix[3])*(1-a))
			}
		}
	}
	c.DrawImage(c.Rectangle, img)
}

func (r *raster) DataRange() (xmin, xmax, ymin, ymax float64) {
	return plotter.XYRange(xys{r.x, r.y})
}

type xys struct{ x, y []float64 }

func (v xys) Len() int                    { return len(v.x) }
func (v xys) XY(i int) (float64, float64) { return v.x[i], v.y[i] }

// drawYLabel draws a rotated label centred on the left edge of c and returns the width it takes.
func drawYLabel(c draw.Canvas, label string, size font.Length) vg.Length {
	if label == "" {
		return 0
	}
	sty := text.Style{Font: font.From(plot.DefaultFont, size), XAlign: draw.XCenter, YAlign: draw.YTop, Rotation: math.Pi / 2,
		Handler: plot.DefaultTextHandler, Color: color.Black}
	c.FillText(sty, vg.Point{X: c.Min.X + vg.Points(2), Y: (c.Min.Y + c.Max.Y) / 2}, label)
	return sty.Height(label) + vg.Points(4)
}
