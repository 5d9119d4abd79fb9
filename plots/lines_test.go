package plots

import (
	"image/color"
	"math"
	"path/filepath"
	"testing"
)

// TestLineBands draws a line chart with confidence bands, a NaN gap, a series without a band and one
// with no finite value at all, in every format.
func TestLineBands(t *testing.T) {
	dir := outDir(t)
	x := []float64{0, 1, 2, 3, 4, 5, 6, 7}
	mk := func(off float64) (y, lo, hi []float64) {
		for _, v := range x {
			m := off + 10*math.Sin(v/2)
			y, lo, hi = append(y, m), append(lo, m-2), append(hi, m+2)
		}
		return
	}
	y1, lo1, hi1 := mk(20)
	y2, lo2, hi2 := mk(10)
	y2[3], lo2[3], hi2[3] = math.NaN(), math.NaN(), math.NaN()
	y3, _, _ := mk(5)
	nan := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	fig := LineBands{Title: "attributes rate", XLabel: "layer", YLabel: "attributes rate (%)", Series: []BandSeries{
		{Name: "clean", Color: color.NRGBA{0x4d, 0xaf, 0x4a, 0xff}, X: x, Y: y1, Lo: lo1, Hi: hi1},
		{Name: "set", Color: color.NRGBA{0x98, 0x4e, 0xa3, 0xff}, Dashes: Dashed, X: x, Y: y2, Lo: lo2, Hi: hi2},
		{Name: "no band", Color: color.Black, Dashes: Dotted, X: x, Y: y3},
		{Name: "empty", X: x, Y: nan, Lo: nan, Hi: nan},
	}}.Figure()
	paths, err := fig.Save(filepath.Join(dir, "line_bands"), "png", "svg", "pdf")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %v", paths)
	}
	checkFiles(t, "line_bands", paths, 200_000)
}
