package classes

import (
	"math"
	"slices"
	"sync"

	"github.com/wcos-dev/wcos/internal/quantile"
)

// Quantiles of up to d_mlp² float32 cosines (121 M for OLMo-7B) by bucket selection instead of a
// sort: one pass builds a 65,536-bin histogram, which locates the bins holding the order statistics;
// a second pass collects only those bins' values (a few thousand) and sorts them. The bin map is
// monotone, so ranks are exact: the result equals sorting everything.

const nbins = 1 << 16

type binner struct{ lo, scale float32 }

func (b binner) bin(x float32) int {
	i := int((x - b.lo) * b.scale)
	return max(0, min(nbins-1, i))
}

// offDiagQuantiles returns torch-style linear-interpolated quantiles of the off-diagonal entries
// c[i*n+j], i ≠ j, of an n×n matrix (of their absolute values when abs is set), ignoring NaN. Values
// are expected in [-1, 1]; outliers only cost time.
func offDiagQuantiles(c []float32, n int, abs bool, qs []float64) []float64 {
	b := binner{lo: -1, scale: nbins / 2}
	if abs {
		b = binner{lo: 0, scale: nbins}
	}
	val := func(x float32) float32 {
		if abs && x < 0 {
			return -x
		}
		return x
	}
	// Pass 1: histograms per worker.
	var mu sync.Mutex
	hist := make([]int64, nbins)
	parallelFor(n, func(lo, hi int) {
		h := make([]int64, nbins)
		for i := lo; i < hi; i++ {
			row := c[i*n : (i+1)*n]
			for j, x := range row {
				if j == i || x != x {
					continue
				}
				h[b.bin(val(x))]++
			}
		}
		mu.Lock()
		for k, v := range h {
			hist[k] += v
		}
		mu.Unlock()
	})
	var total int64
	for _, v := range hist {
		total += v
	}
	out := make([]float64, len(qs))
	if total == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	// Which bins hold the needed ranks, and each rank's index inside its bin.
	type need struct {
		bin int
		idx int64
	}
	var ranks []int64
	for _, q := range qs {
		k0, k1, _ := quantile.Positions(q, total)
		ranks = append(ranks, k0, k1)
	}
	needs := make([]need, len(ranks))
	want := map[int]bool{}
	for r, k := range ranks {
		var cum int64
		for bi, v := range hist {
			if k < cum+v {
				needs[r] = need{bi, k - cum}
				want[bi] = true
				break
			}
			cum += v
		}
	}
	// Pass 2: collect the wanted bins.
	vals := map[int][]float32{}
	parallelFor(n, func(lo, hi int) {
		local := map[int][]float32{}
		for i := lo; i < hi; i++ {
			row := c[i*n : (i+1)*n]
			for j, x := range row {
				if j == i || x != x {
					continue
				}
				x = val(x)
				if bi := b.bin(x); want[bi] {
					local[bi] = append(local[bi], x)
				}
			}
		}
		mu.Lock()
		for k, v := range local {
			vals[k] = append(vals[k], v...)
		}
		mu.Unlock()
	})
	for _, v := range vals {
		slices.Sort(v)
	}
	for i, q := range qs {
		_, _, w := quantile.Positions(q, total)
		a, bb := needs[2*i], needs[2*i+1]
		out[i] = quantile.Lerp(float64(vals[a.bin][a.idx]), float64(vals[bb.bin][bb.idx]), w)
	}
	return out
}
