package plots

import (
	"fmt"
	"testing"
)

// TestHistCounts: a panel given as counts draws the bins its values would have given.
func TestHistCounts(t *testing.T) {
	vals := []float64{-1, -0.9, -0.2, 0, 0, 0.1, 0.5, 0.99, 1, 3}
	r := [2]float64{-1, 1}
	for _, n := range []int{1, 4, 10} {
		want := binned(vals, r, n)
		counts := make([]float64, n)
		for i, b := range want {
			counts[i] = b.Weight
		}
		got, _, _ := histBins([]HistPanel{{Counts: counts, Values: []float64{42}}}, r, 7, false)
		if fmt.Sprint(got[0]) != fmt.Sprint(want) {
			t.Errorf("%d bins: counts give %v, values %v", n, got[0], want)
		}
	}
}
