package classes

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Options control Compute. The zero value is not useful; start from DefaultOptions.
type Options struct {
	Processing Processing
	// Refactor reports gatelin and gateout after sign refactoring (gatelin ≥ 0) and uses refactored
	// w_in, w_out for the mismatched-pair regions. Classes do not depend on it.
	Refactor  bool
	Threshold float64
	P         float64 // randomness-region level (two-sided for linout/gateout)
	Region    RegionMode
	Samples   int    // mismatched pairs per layer for RegionSampled
	Seed      uint64 // RNG seed for RegionSampled
	Layers    []int  // layers to analyse, ascending; nil = all
	Threads   int    // ggml threads for exact regions; ≤ 0 = GOMAXPROCS
	// Progress, if set, is called after each layer.
	Progress func(layer, done, total int, elapsed time.Duration)
	// Done holds layers computed by an earlier, interrupted run with the same inputs (a checkpoint):
	// they are not loaded again. AfterLayer, if set, is called with each layer computed here, before
	// the next one starts (to save a checkpoint); its error stops Compute.
	Done       map[int]LayerResult
	AfterLayer func(LayerResult) error
}

// LayerResult is what Compute keeps of one layer: every neuron's cosines (unrefactored), norms and
// refactor sign, and the layer's randomness region (zero Pairs: none). The classes follow from them
// and the threshold.
type LayerResult struct {
	Layer  int
	Gated  bool // false: a vanilla MLP
	Stats  []NeuronStats
	Region Region
}

// DefaultOptions are the paper's settings: TransformerLens processing, refactored, threshold 0.5,
// p = 0.05, exact regions.
func DefaultOptions() Options {
	return Options{Processing: TL, Refactor: true, Threshold: 0.5, P: 0.05, Region: RegionExact, Samples: 200_000, Seed: 1}
}

// Neuron is one row of the neuron table. GateLin and GateOut are refactored when Options.Refactor is
// set (then GateLin ≥ 0); RefactorSign is s_n either way.
type Neuron struct {
	Layer, Neuron             int
	GateLin, GateOut, LinOut  float64
	Class                     Class
	RefactorSign              int8
	NormGate, NormIn, NormOut float64
}

// Regions are the randomness regions of a run.
type Regions struct {
	Mode       RegionMode  `json:"mode"`
	P          float64     `json:"p"`
	DModel     int         `json:"d_model"`
	Beta       *[2]float64 `json:"beta,omitempty"`
	Processing Processing  `json:"processing"`
	Refactored bool        `json:"refactored"`
	Samples    int         `json:"samples_per_layer,omitempty"`
	Seed       uint64      `json:"seed,omitempty"`
	Layers     []Region    `json:"layers,omitempty"`
}

// Timing records where the time went.
type Timing struct {
	Load, Cosines, Regions time.Duration
}

// Result is everything Compute finds.
type Result struct {
	Model   string
	Format  string
	Dims    Dims
	Options Options
	Layers  []int               // analysed layers, ascending
	Neurons []Neuron            // layer-major, in Layers order
	Counts  [][NumClasses]int64 // per entry of Layers
	Regions Regions
	Timing  Timing
	// Paper is the run beside the paper's published counts of the same model (ComparePublished), if
	// set; WriteDir then writes paper.csv and paper.md.
	Paper *Comparison
}

// Compute classifies every neuron of the selected layers of src and computes the regions.
func Compute(src Source, o Options) (*Result, error) {
	dims := src.Dims()
	if o.Threshold < 0 || o.Threshold >= 1 {
		return nil, fmt.Errorf("threshold %v outside [0, 1)", o.Threshold)
	}
	if o.P <= 0 || o.P >= 1 {
		return nil, fmt.Errorf("p %v outside (0, 1)", o.P)
	}
	if _, err := ParseProcessing(string(o.Processing)); err != nil {
		return nil, err
	}
	if _, err := ParseRegionMode(string(o.Region)); err != nil {
		return nil, err
	}
	if err := dims.CheckProcessing(src.Path(), o.Processing, "use --weights raw"); err != nil {
		return nil, err
	}
	layers := o.Layers
	if layers == nil {
		layers = make([]int, dims.NLayers)
		for i := range layers {
			layers[i] = i
		}
	}
	layers = slices.Clone(layers)
	slices.Sort(layers)
	layers = slices.Compact(layers)
	for _, l := range layers {
		if l < 0 || l >= dims.NLayers {
			return nil, fmt.Errorf("%s: layer %d out of range (model has %d layers)", src.Path(), l, dims.NLayers)
		}
	}
	r := &Result{Model: src.Path(), Format: src.Format(), Dims: dims, Options: o, Layers: layers,
		Neurons: make([]Neuron, 0, len(layers)*dims.DMLP), Counts: make([][NumClasses]int64, len(layers))}
	r.Regions = Regions{Mode: o.Region, P: o.P, DModel: dims.DModel, Processing: o.Processing, Refactored: o.Refactor}
	if o.Region != RegionNone {
		b := BetaRegion(dims.DModel, o.P)
		r.Regions.Beta = &b
	}
	if o.Region == RegionSampled {
		r.Regions.Samples, r.Regions.Seed = o.Samples, o.Seed
	}
	start := time.Now()
	for li, l := range layers {
		lr, ok := o.Done[l]
		if ok {
			if len(lr.Stats) != dims.DMLP {
				return nil, fmt.Errorf("%s: layer %d of the checkpoint has %d neurons, the model %d", src.Path(), l, len(lr.Stats), dims.DMLP)
			}
		} else {
			var err error
			if lr, err = computeLayer(src, l, o, &r.Timing); err != nil {
				return nil, err
			}
			if o.AfterLayer != nil {
				if err := o.AfterLayer(lr); err != nil {
					return nil, err
				}
			}
		}
		for n, s := range lr.Stats {
			nr := Neuron{Layer: l, Neuron: n, GateLin: s.GateLin, GateOut: s.GateOut, LinOut: s.LinOut,
				RefactorSign: s.Sign, NormGate: s.NormGate, NormIn: s.NormIn, NormOut: s.NormOut}
			if lr.Gated {
				nr.Class = Classify(s.GateLin, s.GateOut, s.LinOut, o.Threshold)
			} else {
				nr.Class = ClassifyVanilla(s.LinOut, o.Threshold)
			}
			if o.Refactor {
				nr.GateLin *= float64(s.Sign)
				nr.GateOut *= float64(s.Sign)
			}
			r.Counts[li][nr.Class]++
			r.Neurons = append(r.Neurons, nr)
		}
		if lr.Region.Pairs > 0 {
			r.Regions.Layers = append(r.Regions.Layers, lr.Region)
		}
		if o.Progress != nil {
			o.Progress(l, li+1, len(layers), time.Since(start))
		}
	}
	return r, nil
}

// computeLayer loads layer l and computes its cosines and region, adding the time taken to t. A
// sampled region draws from its own stream (the seed and the layer), so that a resumed run draws the
// same pairs as one that was not interrupted.
func computeLayer(src Source, l int, o Options, t *Timing) (LayerResult, error) {
	t0 := time.Now()
	w, err := src.Layer(l)
	if err != nil {
		return LayerResult{}, err
	}
	t1 := time.Now()
	stats, err := LayerStats(w, o.Processing)
	if err != nil {
		return LayerResult{}, fmt.Errorf("%s: layer %d: %v", src.Path(), l, err)
	}
	t2 := time.Now()
	var sg []int8
	if o.Refactor {
		sg = make([]int8, len(stats))
		for n, s := range stats {
			sg[n] = s.Sign
		}
	}
	var reg Region
	switch {
	case w.Gate == nil || o.Region == RegionBeta || o.Region == RegionNone:
	case o.Region == RegionExact:
		reg, err = ExactRegion(w, o.Processing, sg, o.P, o.Threads)
	case o.Region == RegionSampled:
		reg, err = SampledRegion(w, o.Processing, sg, o.P, o.Samples, rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15^uint64(l))))
	}
	if err != nil {
		return LayerResult{}, fmt.Errorf("%s: layer %d: %v", src.Path(), l, err)
	}
	reg.Layer = l
	t.Load += t1.Sub(t0)
	t.Cosines += t2.Sub(t1)
	t.Regions += time.Since(t2)
	return LayerResult{Layer: l, Gated: w.Gate != nil, Stats: stats, Region: reg}, nil
}

// Totals sums the per-layer counts.
func (r *Result) Totals() [NumClasses]int64 {
	var t [NumClasses]int64
	for _, c := range r.Counts {
		for k, v := range c {
			t[k] += v
		}
	}
	return t
}

// Region returns the region of layer l, if computed.
func (r *Result) Region(l int) (Region, bool) {
	for _, g := range r.Regions.Layers {
		if g.Layer == l {
			return g, true
		}
	}
	return Region{}, false
}
