package plots

import (
	"bytes"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// outDir keeps the figures when WCOS_PLOTS_OUT is set, for looking at them.
func outDir(t *testing.T) string {
	if d := os.Getenv("WCOS_PLOTS_OUT"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

func checkFiles(t *testing.T, name string, paths []string, maxSVG int) {
	t.Helper()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch filepath.Ext(p) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Errorf("%s: %s: %v", name, p, err)
			} else if img.Bounds().Dx() < 300 {
				t.Errorf("%s: %s only %d px wide", name, p, img.Bounds().Dx())
			}
		case ".svg":
			if !strings.Contains(string(b[:min(len(b), 400)]), "<svg") || len(b) > maxSVG {
				t.Errorf("%s: %s: not an SVG or too large (%d bytes)", name, p, len(b))
			}
		case ".pdf":
			if !bytes.HasPrefix(b, []byte("%PDF")) {
				t.Errorf("%s: %s: not a PDF", name, p)
			}
		}
	}
}

func TestFigures(t *testing.T) {
	dir := outDir(t)
	rng := rand.New(rand.NewPCG(1, 1))
	rows := make([]string, 12)
	var a, b, c []float64
	for i := range rows {
		rows[i] = "Layer " + strconv.Itoa(i)
		a = append(a, float64(100+rng.IntN(900)))
		b = append(b, float64(rng.IntN(30)))
		c = append(c, float64(1000+rng.IntN(3000)))
	}
	bars := StackedBars{Title: "stacked", XLabel: "count", Rows: rows, Labels: true, Series: []Series{
		{"olive", color.NRGBA{0x80, 0x80, 0, 255}, a}, {"black", color.Black, b}, {"light grey", color.NRGBA{0xe5, 0xe5, 0xe5, 255}, c}}}
	paths, err := bars.Figure().Save(filepath.Join(dir, "bars"), "png", "svg", "pdf")
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, "bars", paths, 1<<20)

	var panels []Panel
	var hists []HistPanel
	var groups [][]float64
	for l := range 6 {
		var p Panel
		for range 5000 {
			p.X = append(p.X, rng.NormFloat64()*0.2)
			p.Y = append(p.Y, rng.NormFloat64()*0.3)
			p.C = append(p.C, rng.Float64())
		}
		p.Title = "Layer " + strconv.Itoa(l)
		p.Lines = []Line{{At: 0.5, Color: color.Gray{0x80}}, {Horizontal: true, At: 0.1, Color: color.NRGBA{255, 0, 0, 255}, Dashes: Dashed}}
		panels = append(panels, p)
		hists = append(hists, HistPanel{Title: p.Title, Values: p.Y, Lines: p.Lines})
		groups = append(groups, p.Y)
	}
	leg := []LegendEntry{{Name: "dashed", Line: &Line{Color: color.NRGBA{255, 0, 0, 255}, Dashes: Dashed}}}
	grid := ScatterGrid{Title: "scatter", XLabel: "x", YLabel: "y", CLabel: "c", Panels: panels, Cols: 4,
		XRange: [2]float64{-1, 1}, YRange: [2]float64{-1, 1}, CLines: []Line{{At: 0.3, Color: color.NRGBA{255, 0, 0, 255}}}, Legend: leg}
	paths, err = grid.Figure().Save(filepath.Join(dir, "scatter"))
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, "scatter", paths, 2<<20) // rasterised: 30,000 points must not become 30,000 SVG elements

	box := BoxPlots{Title: "boxes", XLabel: "layer", GroupLabels: []string{"0", "1", "2", "3", "4", "5"},
		Rows: []BoxRow{{YLabel: "a", YRange: [2]float64{-1, 1}, Groups: groups}, {YLabel: "b", YRange: [2]float64{-1, 1}, Groups: groups}}}
	paths, err = box.Figure().Save(filepath.Join(dir, "box"))
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, "box", paths, 1<<20)

	for _, logY := range []bool{false, true} {
		hg := HistGrid{Title: "hist", XLabel: "v", YLabel: "count", Panels: hists, XRange: [2]float64{-1, 1}, LogY: logY, Legend: leg}
		paths, err = hg.Figure().Save(filepath.Join(dir, "hist"+strconv.FormatBool(logY)))
		if err != nil {
			t.Fatal(err)
		}
		checkFiles(t, "hist", paths, 1<<20)
	}
	if _, err := bars.Figure().Save(filepath.Join(dir, "x"), "gif"); err == nil {
		t.Error("unknown format accepted")
	}
}
