package classes

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wcos-dev/wcos/internal/quantile"
)

// Zero-mean orthonormal basis of a 3-dimensional subspace of R^4: planted vectors built from it are
// unchanged by TransformerLens centring, so offsets added to w_in/w_out test that centring happens.
var basis = [3][4]float64{
	{1 / math.Sqrt2, -1 / math.Sqrt2, 0, 0},
	{0, 0, 1 / math.Sqrt2, -1 / math.Sqrt2},
	{0.5, 0.5, -0.5, -0.5},
}

func combo(c [3]float64) []float32 {
	v := make([]float32, 4)
	for i := range 3 {
		for k := range 4 {
			v[k] += float32(c[i] * basis[i][k])
		}
	}
	return v
}

// plant returns unit w_gate, w_in, w_out (zero mean) with the given pairwise cosines.
func plant(t *testing.T, name string, gl, gout, lo float64) (g, in, out []float32) {
	t.Helper()
	x := (gl - gout*lo) / math.Sqrt(1-lo*lo)
	y2 := 1 - gout*gout - x*x
	if y2 < 0 {
		t.Fatalf("%s: cosines (%v,%v,%v) not realisable", name, gl, gout, lo)
	}
	return combo([3]float64{gout, x, math.Sqrt(y2)}), combo([3]float64{lo, math.Sqrt(1 - lo*lo), 0}), combo([3]float64{1, 0, 0})
}

var plantedCases = []struct {
	name         string
	gl, gout, lo float64
	want         Class
}{
	{"strengthening", 0.8, 0.8, 0.8, Strengthening},
	{"atypical strengthening", 0.2, 0.6, 0.6, AtypicalStrengthening},
	{"conditional strengthening", 0.3, 0.1, 0.6, ConditionalStrengthening},
	{"atypical conditional strengthening", 0.6, 0.1, 0.6, AtypicalConditionalStrengthening},
	{"proportional change", 0.1, 0.6, 0.1, ProportionalChange},
	{"atypical proportional change", 0.6, 0.6, 0.1, AtypicalProportionalChange},
	{"orthogonal output", 0.9, 0.1, 0.1, OrthogonalOutput},
	{"weakening", 0.6, -0.6, -0.6, Weakening},
	{"atypical weakening", 0.2, -0.6, -0.6, AtypicalWeakening},
	{"conditional weakening", 0.3, 0.1, -0.6, ConditionalWeakening},
	{"atypical conditional weakening", 0.6, 0.1, -0.6, AtypicalConditionalWeakening},
}

// TestPlantedClasses builds one neuron per class (and its sign-flipped twin, s_n = −1) and checks class,
// sign, cosines and refactoring, for raw weights and for TL-processed weights with offsets.
func TestPlantedClasses(t *testing.T) {
	const d = 4
	n := 2 * len(plantedCases)
	for _, proc := range []Processing{Raw, TL} {
		w := &LayerWeights{DMLP: n, DModel: d, Gate: make([]float32, n*d), In: make([]float32, n*d), Out: make([]float32, n*d)}
		for i, c := range plantedCases {
			g, in, out := plant(t, c.name, c.gl, c.gout, c.lo)
			for twin, s := range []float32{1, -1} {
				k := 2*i + twin
				for j := range d {
					w.Gate[k*d+j] = g[j]
					w.In[k*d+j], w.Out[k*d+j] = s*in[j], s*out[j]
					if proc == TL { // centring must remove these
						w.In[k*d+j] += 0.3
						w.Out[k*d+j] -= 0.7
					}
				}
			}
		}
		for _, refactor := range []bool{false, true} {
			o := DefaultOptions()
			o.Processing, o.Refactor, o.Region = proc, refactor, RegionNone
			r, err := Compute(&MemSource{Name: "planted", D: Dims{NLayers: 1, DModel: d, DMLP: n}, Layers: func(int) (*LayerWeights, error) { return w, nil }}, o)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range plantedCases {
				for twin, s := range []float64{1, -1} {
					nr := r.Neurons[2*i+twin]
					name := c.name
					if twin == 1 {
						name += " (flipped)"
					}
					if nr.Class != c.want {
						t.Errorf("%s/%s refactor=%v: class %q, want %q", proc, name, refactor, nr.Class, c.want)
					}
					if nr.RefactorSign != int8(s) {
						t.Errorf("%s/%s: refactor sign %d, want %v", proc, name, nr.RefactorSign, s)
					}
					wantGL, wantGO := s*c.gl, s*c.gout
					if refactor {
						wantGL, wantGO = c.gl, c.gout
					}
					if math.Abs(nr.GateLin-wantGL) > 1e-6 || math.Abs(nr.GateOut-wantGO) > 1e-6 || math.Abs(nr.LinOut-c.lo) > 1e-6 {
						t.Errorf("%s/%s refactor=%v: cosines (%.6f,%.6f,%.6f), want (%.6f,%.6f,%.6f)", proc, name, refactor,
							nr.GateLin, nr.GateOut, nr.LinOut, wantGL, wantGO, c.lo)
					}
				}
			}
		}
	}
}

// TestThresholdEdges: cosines exactly at ±threshold are not counted (strict >), from weights whose
// cosines are exactly ±0.5 in floating point, and the refactor sign of an exactly orthogonal neuron.
func TestThresholdEdges(t *testing.T) {
	e := func(v ...float32) []float32 { return v }
	cases := []struct {
		name          string
		gate, in, out []float32
		want          Class
		sign          int8
		gl, gout, lo  float64
	}{
		{"linout exactly +0.5", e(0, 0, 0, 1), e(1, 1, 1, 1), e(1, 0, 0, 0), OrthogonalOutput, 1, 0.5, 0, 0.5},
		{"linout exactly -0.5", e(0, 0, 0, 1), e(-1, 1, 1, 1), e(1, 0, 0, 0), OrthogonalOutput, 1, 0.5, 0, -0.5},
		{"gateout exactly +0.5", e(1, 1, 1, 1), e(0, 1, 0, 0), e(1, 0, 0, 0), OrthogonalOutput, 1, 0.5, 0.5, 0},
		{"gateout exactly -0.5, gatelin -0.5", e(-1, 1, 1, 1), e(0, -1, 0, 0), e(1, 0, 0, 0), OrthogonalOutput, -1, -0.5, -0.5, 0},
		{"gatelin exactly 0.5 with S signs", e(1, 1, 1, 1), e(1, 0, 0, 0), e(1, 0, 0, 0), ConditionalStrengthening, 1, 0.5, 0.5, 1},
		{"dot(gate,in) = 0 gives sign +1", e(0, 1, 0, 0), e(1, 0, 0, 0), e(-1, 0, 0, 0), ConditionalWeakening, 1, 0, 0, -1},
		{"just above threshold", e(0, 0, 0, 1), e(1, 0.999, 0.999, 0.999), e(1, 0, 0, 0), ConditionalStrengthening, 1, 0.288, 0, 0.5},
	}
	for _, c := range cases {
		w := &LayerWeights{DMLP: 1, DModel: 4, Gate: c.gate, In: c.in, Out: c.out}
		st, err := LayerStats(w, Raw)
		if err != nil {
			t.Fatal(err)
		}
		s := st[0]
		if got := Classify(s.GateLin, s.GateOut, s.LinOut, 0.5); got != c.want {
			t.Errorf("%s: class %q, want %q (cosines %v %v %v)", c.name, got, c.want, s.GateLin, s.GateOut, s.LinOut)
		}
		if s.Sign != c.sign {
			t.Errorf("%s: sign %d, want %d", c.name, s.Sign, c.sign)
		}
		if c.name != "just above threshold" && (s.GateLin != c.gl || s.GateOut != c.gout || s.LinOut != c.lo) {
			t.Errorf("%s: cosines (%v,%v,%v), want exactly (%v,%v,%v)", c.name, s.GateLin, s.GateOut, s.LinOut, c.gl, c.gout, c.lo)
		}
	}
}

// TestClassifyTable checks the key table of spec §2.3 on cosines directly, including both signs of
// every refactor-invariant case and values at the threshold.
func TestClassifyTable(t *testing.T) {
	cases := []struct {
		name         string
		gl, gout, lo float64
		want         Class
	}{
		{"S", 0.6, 0.6, 0.6, Strengthening},
		{"S unrefactored", -0.6, -0.6, 0.6, Strengthening},
		{"aS", 0.6, -0.6, 0.6, AtypicalStrengthening},
		{"aS gatelin 0", 0, 0.6, 0.6, AtypicalStrengthening},
		{"CS", 0.5, 0.5, 0.51, ConditionalStrengthening},
		{"aCS", 0.51, 0.5, 0.51, AtypicalConditionalStrengthening},
		{"aCS unrefactored", -0.51, -0.5, 0.51, AtypicalConditionalStrengthening},
		{"PC", 0.5, 0.51, 0.5, ProportionalChange},
		{"PC negative gateout", -0.5, -0.51, -0.5, ProportionalChange},
		{"aPC", 0.51, 0.51, 0.5, AtypicalProportionalChange},
		{"OO", 0.99, 0.5, -0.5, OrthogonalOutput},
		{"OO NaN", math.NaN(), math.NaN(), math.NaN(), OrthogonalOutput},
		{"W", 0.6, -0.6, -0.6, Weakening},
		{"W unrefactored", -0.6, 0.6, -0.6, Weakening},
		{"aW", 0.6, 0.6, -0.6, AtypicalWeakening},
		{"CW", -0.5, 0.5, -0.51, ConditionalWeakening},
		{"aCW", 0.51, -0.5, -0.51, AtypicalConditionalWeakening},
	}
	for _, c := range cases {
		if got := Classify(c.gl, c.gout, c.lo, 0.5); got != c.want {
			t.Errorf("%s: Classify(%v,%v,%v) = %q, want %q", c.name, c.gl, c.gout, c.lo, got, c.want)
		}
		if got := Classify(-c.gl, -c.gout, c.lo, 0.5); got != c.want && !math.IsNaN(c.gl) {
			t.Errorf("%s: not invariant under refactoring: %q, want %q", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		lo   float64
		want Class
	}{{0.5, OrthogonalOutput}, {0.5000001, Strengthening}, {-0.5, OrthogonalOutput}, {-0.51, Weakening}} {
		if got := ClassifyVanilla(c.lo, 0.5); got != c.want {
			t.Errorf("vanilla linout %v: %q, want %q", c.lo, got, c.want)
		}
	}
	for _, c := range AllClasses() {
		if k, ok := ClassOfKey(c.Key()); !ok || k != c {
			t.Errorf("%s: key round trip", c)
		}
		if p, err := ParseClass(c.String()); err != nil || p != c {
			t.Errorf("%s: ParseClass", c)
		}
	}
}

// TestVanillaLayer: a layer without gate weights gets the three vanilla classes.
func TestVanillaLayer(t *testing.T) {
	w := &LayerWeights{DMLP: 3, DModel: 2, In: []float32{1, 0, 1, 0, 1, 0}, Out: []float32{1, 0.1, 0, 1, -1, 0}}
	o := DefaultOptions()
	o.Processing = Raw
	r, err := Compute(&MemSource{Name: "vanilla", D: Dims{NLayers: 1, DModel: 2, DMLP: 3}, Layers: func(int) (*LayerWeights, error) { return w, nil }}, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []Class{Strengthening, OrthogonalOutput, Weakening} {
		if r.Neurons[i].Class != want {
			t.Errorf("vanilla neuron %d: %q, want %q", i, r.Neurons[i].Class, want)
		}
	}
}

// TestOffDiagQuantiles compares bucket selection with a full sort, with ties, NaN and abs.
func TestOffDiagQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 3, 17, 300} {
		c := make([]float32, n*n)
		for i := range c {
			switch rng.IntN(10) {
			case 0:
				c[i] = 0.25 // ties
			case 1:
				c[i] = float32(math.NaN())
			default:
				c[i] = float32(rng.NormFloat64() * 0.1)
			}
		}
		for _, abs := range []bool{false, true} {
			var all []float64
			for i := range n {
				for j := range n {
					if x := c[i*n+j]; i != j && x == x {
						if abs {
							x = float32(math.Abs(float64(x)))
						}
						all = append(all, float64(x))
					}
				}
			}
			slices.Sort(all)
			qs := []float64{0, 0.025, 0.5, 0.95, 0.975, 1}
			got := offDiagQuantiles(c, n, abs, qs)
			for i, q := range qs {
				if want := quantile.Sorted(all, q); got[i] != want {
					t.Errorf("n=%d abs=%v q=%v: %v, want %v", n, abs, q, got[i], want)
				}
			}
		}
	}
}

// TestSampledRegion: on tiny-olmo the sampled region is within a few standard errors of the exact one.
func TestSampledRegion(t *testing.T) {
	src, err := Open(tinyOLMo)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w, err := src.Layer(3)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ExactRegion(w, TL, nil, 0.05, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := SampledRegion(w, TL, nil, 0.05, 50_000, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what          string
		got, want, se float64
	}{
		{"linout lo", sa.LinOut[0], ex.LinOut[0], sa.SE.LinOut[0]}, {"linout hi", sa.LinOut[1], ex.LinOut[1], sa.SE.LinOut[1]},
		{"gateout lo", sa.GateOut[0], ex.GateOut[0], sa.SE.GateOut[0]}, {"gateout hi", sa.GateOut[1], ex.GateOut[1], sa.SE.GateOut[1]},
		{"gatelin", sa.GateLin, ex.GateLin, sa.SE.GateLin},
	} {
		if c.se <= 0 || c.se > 0.01 || math.Abs(c.got-c.want) > 5*c.se {
			t.Errorf("%s: sampled %.5f ± %.5f, exact %.5f", c.what, c.got, c.se, c.want)
		}
	}
}
