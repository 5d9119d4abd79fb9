package classes

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/internal/quantile"
)

// RegionMode selects how the layer-specific randomness regions are computed (spec §2.5). They are a
// visual reference only and never change a class.
type RegionMode string

const (
	// RegionExact uses all d_mlp²−d_mlp mismatched pairs of a layer (three d_mlp×d_mlp×d_model
	// products per layer, on ggml).
	RegionExact RegionMode = "exact"
	// RegionSampled uses a stated number of random mismatched pairs and reports the sampling error.
	RegionSampled RegionMode = "sampled"
	// RegionBeta gives only the d_model-dependent beta region (no per-layer regions).
	RegionBeta RegionMode = "beta"
	// RegionNone skips regions.
	RegionNone RegionMode = "none"
)

// ParseRegionMode accepts exact, sampled, beta or none.
func ParseRegionMode(s string) (RegionMode, error) {
	switch m := RegionMode(s); m {
	case RegionExact, RegionSampled, RegionBeta, RegionNone:
		return m, nil
	}
	return "", fmt.Errorf("unknown region mode %q (want exact, sampled, beta or none)", s)
}

// Region is one layer's randomness region from mismatched pairs (i ≠ j): the central 1−p interval of
// cos(w_in_i, w_out_j) and cos(w_gate_i, w_out_j), and the 1−p quantile of |cos(w_gate_i, w_in_j)|.
type Region struct {
	Layer   int        `json:"layer"`
	LinOut  [2]float64 `json:"linout"`
	GateOut [2]float64 `json:"gateout"`
	GateLin float64    `json:"gatelin"`
	Pairs   int64      `json:"pairs"`
	// Sampled mode only: standard errors of the bounds above, from the distribution-free 95%
	// confidence interval of a sample quantile (order statistics at n·q ± 1.96·√(n·q·(1−q)), /3.92).
	SE *RegionSE `json:"se,omitempty"`
}

// RegionSE holds the standard errors of a sampled Region's bounds.
type RegionSE struct {
	LinOut  [2]float64 `json:"linout"`
	GateOut [2]float64 `json:"gateout"`
	GateLin float64    `json:"gatelin"`
}

// BetaRegion is the central 1−p interval of the cosine of two independent Gaussian vectors in R^d:
// (cos+1)/2 ~ Beta((d−1)/2, (d−1)/2).
func BetaRegion(d int, p float64) [2]float64 {
	a := float64(d-1) / 2
	b := distuv.Beta{Alpha: a, Beta: a}
	return [2]float64{2*b.Quantile(p/2) - 1, 2*b.Quantile(1-p/2) - 1}
}

// regionVectors returns the unit rows whose dot products are the cosines, processed as LayerStats
// does; with signs (refactoring) in and out multiplied by s_n.
func regionVectors(w *LayerWeights, proc Processing, sign []int8) (g, in, out []float32, err error) {
	w, c, err := w.processed(proc)
	if err != nil {
		return nil, nil, nil, err
	}
	return unitRows(w.Gate, w.DMLP, w.DModel, false, nil),
		unitRows(w.In, w.DMLP, w.DModel, c, sign), unitRows(w.Out, w.DMLP, w.DModel, c, sign), nil
}

// ExactRegion computes a layer's region from all mismatched pairs. The three d_mlp×d_mlp cosine
// matrices are float32 products on ggml (one at a time, d_mlp² floats of memory); quantiles by bucket
// selection. sign (may be nil) is the refactor sign applied to w_in and w_out.
func ExactRegion(w *LayerWeights, proc Processing, sign []int8, p float64, threads int) (Region, error) {
	if err := w.check(); err != nil {
		return Region{}, err
	}
	if w.Gate == nil {
		return Region{}, fmt.Errorf("exact region: layer has no gate weights")
	}
	n, d := w.DMLP, w.DModel
	g, in, out, err := regionVectors(w, proc, sign)
	if err != nil {
		return Region{}, err
	}
	buf := make([]float32, n*n)
	r := Region{Pairs: int64(n)*int64(n) - int64(n)}
	for _, job := range []struct {
		a, b []float32
		abs  bool
		qs   []float64
		dst  []*float64
	}{
		{in, out, false, []float64{p / 2, 1 - p/2}, []*float64{&r.LinOut[0], &r.LinOut[1]}},
		{g, out, false, []float64{p / 2, 1 - p/2}, []*float64{&r.GateOut[0], &r.GateOut[1]}},
		{g, in, true, []float64{1 - p}, []*float64{&r.GateLin}},
	} {
		c, err := bindings.MatMulNT(job.a, n, job.b, n, d, buf, threads)
		if err != nil {
			return Region{}, err
		}
		for i, v := range offDiagQuantiles(c, n, job.abs, job.qs) {
			*job.dst[i] = v
		}
	}
	return r, nil
}

// SampledRegion estimates a layer's region from `pairs` uniformly drawn mismatched pairs (i ≠ j), the
// same pairs for the three cosines, with float64 dot products.
func SampledRegion(w *LayerWeights, proc Processing, sign []int8, p float64, pairs int, rng *rand.Rand) (Region, error) {
	if err := w.check(); err != nil {
		return Region{}, err
	}
	if w.Gate == nil || w.DMLP < 2 || pairs < 2 {
		return Region{}, fmt.Errorf("sampled region: need gate weights, ≥2 neurons and ≥2 pairs")
	}
	n, d := w.DMLP, w.DModel
	g, in, out, err := regionVectors(w, proc, sign)
	if err != nil {
		return Region{}, err
	}
	is, js := make([]int, pairs), make([]int, pairs)
	for k := range pairs {
		i, j := rng.IntN(n), rng.IntN(n-1)
		if j >= i {
			j++
		}
		is[k], js[k] = i, j
	}
	lo, go_, gl := make([]float64, pairs), make([]float64, pairs), make([]float64, pairs)
	dot := func(a, b []float32, i, j int) float64 {
		x, y := a[i*d:(i+1)*d], b[j*d:(j+1)*d]
		var s float64
		for k := range x {
			s += float64(x[k]) * float64(y[k])
		}
		return s
	}
	parallelFor(pairs, func(a, b int) {
		for k := a; k < b; k++ {
			i, j := is[k], js[k]
			lo[k] = dot(in, out, i, j)
			go_[k] = dot(g, out, i, j)
			gl[k] = math.Abs(dot(g, in, i, j))
		}
	})
	se := &RegionSE{}
	r := Region{Pairs: int64(pairs), SE: se}
	for _, s := range [][]float64{lo, go_, gl} {
		slices.Sort(s)
	}
	r.LinOut = [2]float64{quantile.Sorted(lo, p/2), quantile.Sorted(lo, 1-p/2)}
	r.GateOut = [2]float64{quantile.Sorted(go_, p/2), quantile.Sorted(go_, 1-p/2)}
	r.GateLin = quantile.Sorted(gl, 1-p)
	se.LinOut = [2]float64{quantileSE(lo, p/2), quantileSE(lo, 1-p/2)}
	se.GateOut = [2]float64{quantileSE(go_, p/2), quantileSE(go_, 1-p/2)}
	se.GateLin = quantileSE(gl, 1-p)
	return r, nil
}

// quantileSE is the half-width of the order-statistic 95% confidence interval of the q-quantile of a
// sorted sample, divided by 1.96.
func quantileSE(s []float64, q float64) float64 {
	n := float64(len(s))
	h := 1.96 * math.Sqrt(n*q*(1-q))
	lo := max(0, min(len(s)-1, int(math.Floor(n*q-h))))
	hi := max(0, min(len(s)-1, int(math.Ceil(n*q+h))))
	return (s[hi] - s[lo]) / (2 * 1.96)
}
