package plots

import (
	"cmp"
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
	size := cmp.Or(g.FontSize, 9)
	ps := cmp.Or(g.PanelSize, 2*vg.Inch)
	cm := g.CMap
	if cm == nil {
		cm = Viridis(0, 1)
	}
	radius, alpha := cmp.Or(g.PointRadius, vg.Points(0.6)), cmp.Or(g.Alpha, 0.6)
	lay := colorBarLayout(len(g.Panels), g.Cols, size)
	return lay.figure(ps, ps, func(dc draw.Canvas) {
		panels := make([]*plot.Plot, len(g.Panels))
		for i, pn := range g.Panels {
			panels[i] = lay.rangePanel(i, pn.Title, g.XLabel, g.XRange, g.YRange,
				&raster{x: pn.X, y: pn.Y, c: pn.C, cmap: cm, radius: radius, alpha: alpha}, lines(pn.Lines))
		}
		drawColorBar(lay.draw(dc, g.Title, g.YLabel, panels), cm, g.CLabel, g.CLines, g.Legend, size)
	})
}

// gridLayout is the frame the panel grids share: a title band, rows × cols equal panels with one y
// label on their left, and a footer band.
type gridLayout struct {
	n, cols, rows int
	size          font.Length
	titleH, footH vg.Length
}

// newGridLayout places n panels in cols columns (≤ 0: 4, at most n).
func newGridLayout(n, cols int, size font.Length, titleH, footH vg.Length) gridLayout {
	if cols <= 0 {
		cols = 4
	}
	cols = max(1, min(cols, n))
	return gridLayout{n: n, cols: cols, rows: max(1, (n+cols-1)/cols), size: size, titleH: titleH, footH: footH}
}

// colorBarLayout is the layout of ScatterGrid and Hist2DGrid: a one-line title and a colour bar below.
func colorBarLayout(n, cols int, size font.Length) gridLayout {
	return newGridLayout(n, cols, size, vg.Points(float64(size)*2.5), 0.9*vg.Inch)
}

// figure is a Figure of pw × ph panels drawn by paint.
func (l gridLayout) figure(pw, ph vg.Length, paint func(draw.Canvas)) *Figure {
	return &Figure{W: vg.Length(l.cols)*pw + 0.4*vg.Inch, H: vg.Length(l.rows)*ph + l.titleH + l.footH, Draw: paint}
}

// panel returns panel i's plot, with range ticks on x and xLabel under the bottom panel of each column.
func (l gridLayout) panel(i int, title, xLabel string) *plot.Plot {
	p := newPlot(title, l.size)
	p.X.Tick.Marker = rangeTicks{}
	if i/l.cols == l.rows-1 || i+l.cols >= l.n {
		p.X.Label.Text = xLabel
	}
	return p
}

// rangePanel is panel with range ticks on y too, data added and the axes fixed to xr and yr.
func (l gridLayout) rangePanel(i int, title, xLabel string, xr, yr [2]float64, data ...plot.Plotter) *plot.Plot {
	p := l.panel(i, title, xLabel)
	p.Y.Tick.Marker = rangeTicks{}
	p.Add(data...)
	// After Add, which widens the axes to the data.
	p.X.Min, p.X.Max = xr[0], xr[1]
	p.Y.Min, p.Y.Max = yr[0], yr[1]
	return p
}

// draw draws the title, the y label and the panels (row by row) into dc, and returns the footer band.
func (l gridLayout) draw(dc draw.Canvas, title, yLabel string, panels []*plot.Plot) draw.Canvas {
	drawTitle(dc, title, l.size*1.2)
	plots := make([][]*plot.Plot, l.rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, l.cols)
	}
	for i, p := range panels {
		plots[i/l.cols][i%l.cols] = p
	}
	body := dc
	body.Max.Y -= l.titleH
	body.Min.Y += l.footH
	// One y label for the grid, so every column gets the same data width.
	body.Min.X += drawYLabel(body, yLabel, l.size)
	tiles := draw.Tiles{Rows: l.rows, Cols: l.cols, PadX: vg.Points(8), PadY: vg.Points(6), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canv := plot.Align(plots, tiles, body)
	for r := range plots {
		for c, p := range plots[r] {
			if p != nil {
				p.Draw(canv[r][c])
			}
		}
	}
	foot := dc
	foot.Max.Y = dc.Min.Y + l.footH
	return foot
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
