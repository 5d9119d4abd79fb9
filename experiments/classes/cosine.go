package classes

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Processing selects the coordinate system of the weights before cosines are taken (spec §1.3).
type Processing string

const (
	// TL is TransformerLens's processing (the paper's numbers use it). It depends on the norm before
	// the MLP: its weight, if any, is folded into w_gate and w_in; after a LayerNorm (OLMo's has no
	// weight; GPT-2, Pythia, OPT, BLOOM) w_in and w_out are then centred along d_model, w_gate is not;
	// after an RMSNorm (Llama, Mistral, Qwen, Gemma) nothing is centred.
	TL Processing = "tl"
	// Raw uses the checkpoint's weights as stored.
	Raw Processing = "raw"
)

// ParseProcessing accepts "tl" or "raw".
func ParseProcessing(s string) (Processing, error) {
	switch Processing(s) {
	case TL, Raw:
		return Processing(s), nil
	}
	return "", fmt.Errorf("unknown weight processing %q (want tl or raw)", s)
}

// Norm is the normalisation before a model's MLP, which decides what TL processing does (spec §1.3).
type Norm uint8

const (
	// LayerNorm is a LayerNorm: TL folds its weight (if any: OLMo's has none) and centres w_in and w_out.
	LayerNorm Norm = iota
	// RMSNorm is an RMSNorm: TL multiplies w_gate and w_in by its weight.
	RMSNorm
	// UnknownNorm is an architecture whose TL processing wcos does not know: raw weights only.
	UnknownNorm
)

func (n Norm) String() string {
	switch n {
	case LayerNorm:
		return "layernorm"
	case RMSNorm:
		return "rmsnorm"
	}
	return "unknown"
}

// LayerWeights holds one layer's MLP weights neuron-major: row n (DModel floats) of Gate, In and Out
// is w_gate, w_in and w_out of neuron n. Gate is nil for a non-gated ("vanilla") MLP.
type LayerWeights struct {
	DMLP, DModel  int
	Gate, In, Out []float32
	Norm          Norm
	// NormWeight is the norm's effective weight (HF Gemma's 1 + w), DModel values; nil for a norm
	// without one.
	NormWeight []float32
}

func (w *LayerWeights) check() error {
	n := w.DMLP * w.DModel
	if w.DMLP <= 0 || w.DModel <= 0 || len(w.In) != n || len(w.Out) != n || (w.Gate != nil && len(w.Gate) != n) {
		return fmt.Errorf("layer weights: want %d×%d, have gate %d, in %d, out %d values", w.DMLP, w.DModel, len(w.Gate), len(w.In), len(w.Out))
	}
	if (w.Norm == RMSNorm || w.NormWeight != nil) && len(w.NormWeight) != w.DModel {
		return fmt.Errorf("layer weights: norm weight has %d values, want %d", len(w.NormWeight), w.DModel)
	}
	return nil
}

// processed returns the weights in proc's coordinates up to centring, and whether w_in and w_out are
// to be centred (done later through sums, so no centred copy is made). TL's fold of the norm's weight
// multiplies in float32, as TransformerLens does on float32 weights.
func (w *LayerWeights) processed(proc Processing) (*LayerWeights, bool, error) {
	fold, centre, err := w.plan(proc)
	if err != nil || fold == nil {
		return w, centre, err
	}
	f := *w
	f.Gate, f.In = foldRows(w.Gate, fold, w.DMLP), foldRows(w.In, fold, w.DMLP)
	f.NormWeight = nil
	return &f, centre, nil
}

// plan is proc's processing of w: the norm weight to fold into w_gate and w_in (nil: none) and
// whether w_in and w_out are then centred.
func (w *LayerWeights) plan(proc Processing) (fold []float32, centre bool, err error) {
	if proc != TL {
		return nil, false, nil
	}
	if w.Norm != LayerNorm && w.Norm != RMSNorm {
		return nil, false, fmt.Errorf("TransformerLens processing is not known for this architecture (use raw weights)")
	}
	return w.NormWeight, w.Norm == LayerNorm, nil
}

// foldRows returns m (rows × len(g)) with every row multiplied elementwise by g; nil for nil m.
func foldRows(m, g []float32, rows int) []float32 {
	if m == nil {
		return nil
	}
	d := len(g)
	f := make([]float32, len(m))
	parallelFor(rows, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			r, dst := m[n*d:(n+1)*d], f[n*d:(n+1)*d]
			for k, x := range r {
				dst[k] = x * g[k]
			}
		}
	})
	return f
}

// NeuronStats are one neuron's cosines (not refactored), refactor sign and norms of the processed
// vectors. For a vanilla MLP GateLin, GateOut and NormGate are NaN and Sign is +1.
type NeuronStats struct {
	GateLin, GateOut, LinOut  float64
	NormGate, NormIn, NormOut float64
	Sign                      int8
}

// LayerStats computes every neuron's cosines in float64 after processing. The refactor sign is
// s_n = sign(w_gate·w_in) of the processed w_gate and w_in, with +1 where the product is exactly 0
// (spec §1.2).
func LayerStats(w *LayerWeights, proc Processing) ([]NeuronStats, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	fold, centre, err := w.plan(proc)
	if err != nil {
		return nil, err
	}
	if fold == nil { // x·1 is x exactly: one loop for both
		fold = make([]float32, w.DModel)
		for i := range fold {
			fold[i] = 1
		}
	}
	out := make([]NeuronStats, w.DMLP)
	parallelFor(w.DMLP, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			out[n] = neuronStats(w, n, centre, fold)
		}
	})
	return out, nil
}

// neuronStats takes all sums in one pass and centres through the identities Σ(a−μa)(b−μb) =
// Σab − dμaμb and Σg(b−μb) = Σgb − μbΣg: in float64 over float32 inputs the cancellation costs
// ~1e-15, and one pass over the three rows halves the memory traffic.
// fold (DModel values) multiplies w_gate and w_in in float32 first, as processed would.
func neuronStats(w *LayerWeights, n int, centre bool, fold []float32) NeuronStats {
	d := w.DModel
	in := w.In[n*d : (n+1)*d]
	out := w.Out[n*d : (n+1)*d][:len(in)]
	fold = fold[:len(in)]
	var si, so, ii, oo, io float64
	var sg, gg, gi, gout float64
	if w.Gate == nil {
		for k, x := range in {
			a, b := float64(x*fold[k]), float64(out[k])
			si += a
			so += b
			ii += a * a
			oo += b * b
			io += a * b
		}
	} else {
		gate := w.Gate[n*d : (n+1)*d][:len(in)]
		for k, x := range in {
			a, b, g := float64(x*fold[k]), float64(out[k]), float64(gate[k]*fold[k])
			si += a
			so += b
			ii += a * a
			oo += b * b
			io += a * b
			sg += g
			gg += g * g
			gi += g * a
			gout += g * b
		}
	}
	if centre {
		fd := float64(d)
		mi, mo := si/fd, so/fd
		ii -= fd * mi * mi
		oo -= fd * mo * mo
		io -= fd * mi * mo
		gi -= mi * sg
		gout -= mo * sg
	}
	s := NeuronStats{NormIn: math.Sqrt(ii), NormOut: math.Sqrt(oo), Sign: 1}
	s.LinOut = io / (s.NormIn * s.NormOut)
	if w.Gate == nil {
		s.GateLin, s.GateOut, s.NormGate = math.NaN(), math.NaN(), math.NaN()
		return s
	}
	s.NormGate = math.Sqrt(gg)
	s.GateLin = gi / (s.NormGate * s.NormIn)
	s.GateOut = gout / (s.NormGate * s.NormOut)
	if gi < 0 {
		s.Sign = -1
	}
	return s
}

func mean(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v))
}

// unitRows returns the processed rows of m scaled to unit length (in float64, stored as float32), with
// row n multiplied by sign[n] when sign is not nil: the vectors whose dot products are the cosines.
func unitRows(m []float32, rows, d int, centre bool, sign []int8) []float32 {
	u := make([]float32, rows*d)
	parallelFor(rows, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			r := m[n*d : (n+1)*d]
			var mu float64
			if centre {
				mu = mean(r)
			}
			var ss float64
			for _, x := range r {
				v := float64(x) - mu
				ss += v * v
			}
			scale := 1 / math.Sqrt(ss)
			if sign != nil && sign[n] < 0 {
				scale = -scale
			}
			dst := u[n*d : (n+1)*d]
			for k, x := range r {
				dst[k] = float32((float64(x) - mu) * scale)
			}
		}
	})
	return u
}

// transpose returns the cols×rows transpose of a row-major rows×cols matrix. Tiles of 32×32 keep the
// strided reads in L1; each output row segment is written contiguously.
func transpose(m []float32, rows, cols int) []float32 {
	t := make([]float32, len(m))
	const tile = 32
	nt := (cols + tile - 1) / tile
	parallelFor(nt, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			c0, c1 := bc*tile, min((bc+1)*tile, cols)
			for r0 := 0; r0 < rows; r0 += tile {
				r1 := min(r0+tile, rows)
				for c := c0; c < c1; c++ {
					dst := t[c*rows+r0 : c*rows+r1]
					src := m[r0*cols+c:]
					for i := range dst {
						dst[i] = src[i*cols]
					}
				}
			}
		}
	})
	return t
}

// parallelFor splits [0,n) into GOMAXPROCS contiguous chunks.
func parallelFor(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
