package classes

import (
	"bufio"
	"fmt"
	"math"
	"strconv"

	"github.com/wcos-dev/wcos/internal/table"
	"github.com/wcos-dev/wcos/plots"
)

// HalfCoarseBins is the number of the reference's half-coarse categories of a vanilla MLP (spec §2.4):
// linout in bins of width 0.2, key floor(5·linout)/5, from [-1, -0.8) to [0.8, 1] (1 itself in the
// last bin).
const HalfCoarseBins = 10

// halfCoarseBin is linout's bin, -1 for NaN.
func halfCoarseBin(linout float64) int {
	if math.IsNaN(linout) {
		return -1
	}
	return max(0, min(HalfCoarseBins-1, int(math.Floor(5*linout))+5))
}

// HalfCoarseLabel is bin i's label, "a ≤ cos < b" as the reference's.
func HalfCoarseLabel(i int) string {
	a, b := -1+0.2*float64(i), -0.8+0.2*float64(i)
	if i == HalfCoarseBins-1 {
		return fmt.Sprintf("%.1f ≤ cos ≤ %.0f", a, b)
	}
	return fmt.Sprintf("%.1f ≤ cos < %.1f", a, b)
}

// HalfCoarse counts each analysed layer's neurons per half-coarse bin.
func (r *Result) HalfCoarse() [][HalfCoarseBins]int64 {
	out := make([][HalfCoarseBins]int64, len(r.Layers))
	idx := map[int]int{}
	for i, l := range r.Layers {
		idx[l] = i
	}
	for _, n := range r.Neurons {
		if b := halfCoarseBin(n.LinOut); b >= 0 {
			out[idx[n.Layer]][b]++
		}
	}
	return out
}

// writeHalfCoarseCSV writes half_coarse.csv: a row per layer, a column per bin, then the total.
func (r *Result) writeHalfCoarseCSV(path string) error {
	header := []string{"layer"}
	for i := range HalfCoarseBins {
		header = append(header, HalfCoarseLabel(i))
	}
	var rows [][]string
	for i, c := range r.HalfCoarse() {
		row := []string{strconv.Itoa(r.Layers[i])}
		var tot int64
		for _, v := range c {
			row, tot = append(row, strconv.FormatInt(v, 10)), tot+v
		}
		rows = append(rows, append(row, strconv.FormatInt(tot, 10)))
	}
	return table.Create(path, func(w *bufio.Writer) error {
		table.CSV(w, append(header, "total"))
		table.CSV(w, rows...)
		return nil
	})
}

// halfCoarseFigure is the reference's half_coarse.pdf: a stacked bar per layer, one segment per bin,
// coloured from -1 (dark) to 1 (light).
func (r *Result) halfCoarseFigure(rows []string) *plots.Figure {
	counts := r.HalfCoarse()
	pal := plots.Viridis(0, 1).Palette(HalfCoarseBins).Colors()
	var series []plots.Series
	for b := range HalfCoarseBins {
		v := make([]float64, len(counts))
		for i, c := range counts {
			v[i] = float64(c[b])
		}
		series = append(series, plots.Series{Name: HalfCoarseLabel(b), Color: pal[b], Values: v})
	}
	return plots.StackedBars{Title: r.figureTitle("cos(w_in, w_out) per layer, half-coarse"), XLabel: "neurons", Rows: rows, Series: series}.Figure()
}
