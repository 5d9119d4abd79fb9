// Package quantile holds the "linear" quantile rule shared by numpy.quantile and torch.quantile
// (Hyndman & Fan method 7), for code that finds the ranked values itself (streamed or binned
// selection) and for sorted slices.
package quantile

import "math"

// Positions returns, for quantile q of n values, the 0-based ranks k0 ≤ k1 around q·(n−1) and the
// weight w of the value at k1.
func Positions(q float64, n int64) (k0, k1 int64, w float64) {
	pos := q * float64(n-1)
	k0 = max(0, min(n-1, int64(math.Floor(pos))))
	k1 = min(k0+1, n-1)
	return k0, k1, pos - float64(k0)
}

// Lerp is numpy's _lerp and torch.lerp: a + w(b−a) below w = ½, b − (1−w)(b−a) from there, so that
// both ends are exact.
func Lerp(a, b, w float64) float64 {
	if w < 0.5 {
		return a + w*(b-a)
	}
	return b - (b-a)*(1-w)
}

// Sorted is quantile q of ascending values s (NaN for none).
func Sorted(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	k0, k1, w := Positions(q, int64(len(s)))
	return Lerp(s[k0], s[k1], w)
}
