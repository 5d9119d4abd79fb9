package quantile

import (
	"math"
	"testing"
)

// numpy.quantile(s, q) for these s and q (default method "linear"), worked by hand.
func TestSorted(t *testing.T) {
	cases := []struct {
		s    []float64
		q    float64
		want float64
	}{
		{[]float64{1}, 0.5, 1},
		{[]float64{1, 2}, 0.5, 1.5},
		{[]float64{1, 2, 3, 4}, 0.25, 1.75},
		{[]float64{1, 2, 3, 4}, 0.75, 3.25},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{-3, 0, 10}, 0.5, 0},
		{[]float64{0, 1e300}, 0.9, 9e299},
	}
	for _, c := range cases {
		if got := Sorted(c.s, c.q); math.Abs(got-c.want) > 1e-12*math.Max(1, math.Abs(c.want)) {
			t.Errorf("Sorted(%v, %g) = %g, want %g", c.s, c.q, got, c.want)
		}
	}
	if !math.IsNaN(Sorted(nil, 0.5)) {
		t.Error("Sorted of no values is not NaN")
	}
}

// Lerp is exact at both ends, where a + w(b−a) alone is not.
func TestLerpEnds(t *testing.T) {
	a, b := 0.1, 1e17
	if Lerp(a, b, 0) != a || Lerp(a, b, 1) != b {
		t.Fatalf("Lerp ends: %g %g", Lerp(a, b, 0), Lerp(a, b, 1))
	}
}
