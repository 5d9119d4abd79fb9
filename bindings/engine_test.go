package bindings_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// Tolerances of the engine issue: logits 1e-3 abs, activations 1e-4, entropy/loss 1e-3, rank exact
// except where the target's logit is within 1e-4 of another.
const (
	tolLogits = 1e-3
	tolAct    = 1e-4
	tolMetric = 1e-3
	tolTie    = 1e-4
)

type reference struct {
	f      *safetensors.File
	tokens [][]int32
	pos    []int32
	nv     int
}

func loadReference(t *testing.T, name string) *reference {
	t.Helper()
	f, err := safetensors.Open(testmodels.Fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	toks, err := f.Int32("tokens")
	if err != nil {
		t.Fatal(err)
	}
	sh := f.Tensors["tokens"].Shape
	r := &reference{f: f, nv: int(f.Tensors["logits"].Shape[2])}
	for i := 0; i < int(sh[0]); i++ {
		r.tokens = append(r.tokens, toks[i*int(sh[1]):(i+1)*int(sh[1])])
	}
	if r.pos, err = f.Int32("logits_pos"); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *reference) floats(t *testing.T, name string) []float32 {
	t.Helper()
	v, err := r.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *reference) ints(t *testing.T, name string) []int32 {
	t.Helper()
	v, err := r.f.Int32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

type run struct {
	ctx   *bindings.Context
	m     *bindings.Model
	rowLn int
	met   bindings.TokenMetrics
}

func newRun(t *testing.T, path string, rows, rowLen, ubatch int) *run {
	t.Helper()
	return newRunOn(t, path, rows, rowLen, ubatch, 0)
}

// newRunOn is newRun with gpuLayers offloaded (the wcos_dynamic build; ignored by the static one) and
// the context options changed by opts.
func newRunOn(t *testing.T, path string, rows, rowLen, ubatch, gpuLayers int, opts ...func(*bindings.ContextOptions)) *run {
	t.Helper()
	m, err := bindings.LoadModel(path, bindings.ModelOptions{GPULayers: gpuLayers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	o := bindings.ContextOptions{MaxTokens: rows * rowLen, MaxRows: rows, UBatch: ubatch, Exact: true}
	for _, f := range opts {
		f(&o)
	}
	ctx, err := m.NewContext(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.Close)
	return &run{ctx: ctx, m: m, rowLn: rowLen}
}

func (r *run) decode(t *testing.T, spec hooks.Spec, rows [][]int32) {
	t.Helper()
	if err := r.ctx.SetHooks(spec); err != nil {
		t.Fatal(err)
	}
	if err := r.ctx.Decode(rows); err != nil {
		t.Fatal(err)
	}
	r.met = r.ctx.Metrics()
}

// checkMetrics compares entropy [rows, L], loss and rank [rows, L-1] with the reference.
func checkMetrics(t *testing.T, label string, r *run, ref *reference, prefix string, withRank bool) {
	t.Helper()
	ent := ref.floats(t, prefix+"entropy")
	loss := ref.floats(t, prefix+"loss")
	L := r.rowLn
	var maxE, maxL float64
	rankBad := 0
	for s := range ref.tokens {
		for i := 0; i < L; i++ {
			k := s*L + i
			maxE = math.Max(maxE, math.Abs(r.met.Entropy[k]-float64(ent[s*L+i])))
			if i < L-1 {
				maxL = math.Max(maxL, math.Abs(r.met.Loss[k]-float64(loss[s*(L-1)+i])))
			}
		}
	}
	if maxE > tolMetric || maxL > tolMetric {
		t.Errorf("%s: entropy max diff %.3g, loss max diff %.3g (tolerance %g)", label, maxE, maxL, tolMetric)
	}
	if !withRank {
		return
	}
	rank := ref.ints(t, prefix+"rank")
	for s, row := range ref.tokens {
		for i := 0; i < L-1; i++ {
			k := s*L + i
			if r.met.Rank[k] == rank[s*(L-1)+i] {
				continue
			}
			// A rank may differ only if another logit ties the target's within tolTie.
			lg := r.ctx.Logits(k)
			xt := lg[row[i+1]]
			tie := false
			for v, x := range lg {
				if int32(v) != row[i+1] && math.Abs(float64(x-xt)) < tolTie {
					tie = true
					break
				}
			}
			if !tie {
				rankBad++
				if rankBad <= 3 {
					t.Errorf("%s: row %d pos %d: rank %d, reference %d", label, s, i, r.met.Rank[k], rank[s*(L-1)+i])
				}
			}
		}
	}
}

func TestForwardMatchesHuggingFace(t *testing.T) {
	cases := []struct {
		name, hfDir, ref string
		rank             bool
	}{
		{"tiny-olmo", testmodels.TinyDir(), "tiny-olmo-reference.safetensors", true},
		{"untied-olmo-random", testmodels.UntiedDir(), "untied-olmo-random-reference.safetensors", false},
	}
	for _, tc := range cases {
		for _, ub := range []int{0, 24} { // 0: one ubatch per decode; 24: rows split across ubatches
			t.Run(fmt.Sprintf("%s/ubatch=%d", tc.name, ub), func(t *testing.T) {
				ref := loadReference(t, tc.ref)
				L := len(ref.tokens[0])
				r := newRun(t, testmodels.GGUF(t, tc.hfDir, "f32"), len(ref.tokens), L, ub)
				nl, nff := r.m.NLayer(), r.m.NFF()
				capAll := hooks.Capture{}
				for l := 0; l < nl; l++ {
					capAll[l] = nil
				}
				r.decode(t, hooks.Spec{Capture: capAll}, ref.tokens)

				want := ref.floats(t, "logits")
				var maxLogit float64
				for s := range ref.tokens {
					for j, p := range ref.pos {
						got := r.ctx.Logits(s*L + int(p))
						off := (s*len(ref.pos) + j) * ref.nv
						maxLogit = math.Max(maxLogit, maxAbsDiff(got, want[off:off+ref.nv]))
					}
				}
				if maxLogit > tolLogits {
					t.Errorf("logits max diff %.3g > %g", maxLogit, tolLogits)
				}
				for l := 0; l < nl; l++ {
					for _, k := range []struct {
						kind bindings.Kind
						name string
					}{{bindings.Gate, "gate"}, {bindings.Up, "up"}, {bindings.Post, "post"}} {
						got := r.ctx.Captured(l, k.kind, nff)[:L*nff] // sequence 0 = first L tokens
						if d := maxAbsDiff(got, ref.floats(t, fmt.Sprintf("seq0.%s.%d", k.name, l))); d > tolAct {
							t.Errorf("layer %d %s: max diff %.3g > %g", l, k.name, d, tolAct)
						}
					}
				}
				checkMetrics(t, "clean", r, ref, "", tc.rank)
				t.Logf("logits max diff %.3g", maxLogit)
			})
		}
	}
}

// TestReferenceAblations runs the four ablations of tiny-olmo-reference.safetensors: raw signs
// (refactoring off) and the given mean values.
func TestReferenceAblations(t *testing.T) {
	ref := loadReference(t, "tiny-olmo-reference.safetensors")
	var meta map[string][]int
	if err := json.Unmarshal([]byte(ref.f.Metadata["ablated"]), &meta); err != nil {
		t.Fatal(err)
	}
	var neurons []hooks.Neuron
	var means []float32
	for _, l := range []string{"5", "7"} {
		vals := ref.floats(t, "ablate.mean_values."+l)
		for i, n := range meta[l] {
			var layer int
			fmt.Sscan(l, &layer)
			neurons = append(neurons, hooks.Neuron{Layer: layer, Index: n})
			means = append(means, vals[i])
		}
	}
	L := len(ref.tokens[0])
	r := newRun(t, testmodels.GGUF(t, testmodels.TinyDir(), "f32"), len(ref.tokens), L, 0)
	cases := []struct {
		name       string
		values     []float32
		gate, post hooks.Sign
	}{
		{"zero", nil, 0, 0},
		{"mean", means, 0, 0},
		{"zero_gate-_post+", nil, -1, 1},
		{"mean_gate+", means, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.decode(t, hooks.Spec{Ablation: &hooks.Ablation{Neurons: neurons, Values: tc.values, Gate: tc.gate, Post: tc.post}}, ref.tokens)
			want := ref.floats(t, "ablate."+tc.name+".logits63")
			var d float64
			for s := range ref.tokens {
				d = math.Max(d, maxAbsDiff(r.ctx.Logits(s*L+63), want[s*ref.nv:(s+1)*ref.nv]))
			}
			if d > tolLogits {
				t.Errorf("logits at 63: max diff %.3g > %g", d, tolLogits)
			}
			checkMetrics(t, tc.name, r, ref, "ablate."+tc.name+".", true)
		})
	}
	// A clean run after the ablations matches the clean reference (no state leaks).
	r.decode(t, hooks.Spec{}, ref.tokens)
	checkMetrics(t, "clean after ablations", r, ref, "", true)
}

func TestTokenizerGolden(t *testing.T) {
	b, err := os.ReadFile(testmodels.Fixture("tokenizer-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	m, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range cases {
		got, err := m.Tokenize(tc.Text)
		if err != nil {
			t.Fatalf("%q: %v", tc.Text, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.IDs) {
			t.Errorf("%q:\n got %v\nwant %v", tc.Text, got, tc.IDs)
		}
	}
	if len(cases) == 0 || !strings.Contains(fmt.Sprint(cases[0].IDs), "12092") {
		t.Fatalf("golden file looks wrong: %d cases", len(cases))
	}
}
