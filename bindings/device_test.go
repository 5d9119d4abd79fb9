package bindings_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestDeviceEmulationMatchesHost runs the device path of the hooks (wcos_dev.h) through its host
// emulation — the kernel bodies the CUDA kernels run, the device buffers, the fixed-point folding and
// the top-k candidates — and requires the host path's results: logits after ablation, captures,
// scales and statistics bit for bit, per-token metrics within 1e-12 (their sums are ordered alike;
// only the compiler's vectorisation differs), over two decodes and with rows split over ubatches.
func TestDeviceEmulationMatchesHost(t *testing.T) {
	compareHookPaths(t, 0, func(base, dev *run, tc hookCase) { bindings.TuneDevice(dev.ctx, 1, tc.candCap, tc.rpt) },
		"host emulation", 0, 1e-12)
}

type hookCase struct {
	name    string
	ubatch  int
	spec    hooks.Spec
	stats   bool
	candCap int64 // small: the candidate buffer must grow
	rpt     int   // rows per device thread
	perRow  bool  // both contexts decode row by row (ContextOptions.PerRow, Metrics)
}

// compareHookPaths runs every hookCase on two fresh tiny-olmo contexts with gpuLayers offloaded, set
// up by setup (base: the host path; dev: the device path), and compares logits, captures and scales (within tol; 0: bit for bit),
// metrics (relative tolMetric) and statistics (exact when tol is 0, else their means within 1e-4);
// dev must report device hooks named want.
func compareHookPaths(t *testing.T, gpuLayers int, setup func(base, dev *run, tc hookCase), want string, tol, tolMetric float64) {
	ref := loadReference(t, "tiny-olmo-reference.safetensors")
	path := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	L := len(ref.tokens[0])
	probe := newRun(t, path, 1, L, 0)
	nl, nff := probe.m.NLayer(), probe.m.NFF()
	var abl []hooks.Neuron
	var signs []int8
	var vals []float32
	for l := nl / 2; l < nl; l++ {
		for n := l % 7; n < nff; n += 7 {
			abl = append(abl, hooks.Neuron{Layer: l, Index: n})
			signs = append(signs, int8(1-2*(n%2)))
			vals = append(vals, float32(n%5)*0.25-0.5)
		}
	}
	statSigns := make([][]int8, nl)
	for l := range statSigns {
		statSigns[l] = signsFromModel(t, path, l)
	}
	cases := []hookCase{
		{name: "capture+scale", spec: hooks.Spec{Capture: hooks.Capture{1: {0, 5, nff - 1}, 4: nil}, Scale: true}},
		{name: "capture/ubatch=24", ubatch: 24, spec: hooks.Spec{Capture: hooks.Capture{0: {3, 2, 1}, 7: nil}, Scale: true}},
		{name: "zero ablation gate-post+", spec: hooks.Spec{Capture: hooks.Capture{nl - 1: nil}, Residual: true,
			Ablation: &hooks.Ablation{Neurons: abl, Signs: signs, Gate: -1, Post: 1}}},
		{name: "value ablation gate+/ubatch=24", ubatch: 24, spec: hooks.Spec{
			Ablation: &hooks.Ablation{Neurons: abl, Values: vals, Signs: signs, Gate: 1}}},
		{name: "stats", stats: true, candCap: 1000, rpt: 16},
		{name: "stats+ablation/ubatch=24", ubatch: 24, stats: true, rpt: 7, spec: hooks.Spec{
			Ablation: &hooks.Ablation{Neurons: abl, Signs: signs, Post: -1}}},
		{name: "per-row/stats+ablation+capture", perRow: true, stats: true, spec: hooks.Spec{Capture: hooks.Capture{2: {7, 9}},
			Scale: true, Residual: true, Ablation: &hooks.Ablation{Neurons: abl, Signs: signs, Gate: -1}}},
	}
	same := func(a, b []float32) bool {
		if tol == 0 {
			return len(a) == len(b) && fmt.Sprint(a) == fmt.Sprint(b)
		}
		return len(a) == len(b) && maxAbsDiff(a, b) <= tol
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perRow := func(o *bindings.ContextOptions) { o.PerRow, o.Metrics = tc.perRow, tc.perRow }
			base := newRunOn(t, path, 2, L, tc.ubatch, gpuLayers, perRow)
			dev := newRunOn(t, path, 2, L, tc.ubatch, gpuLayers, perRow)
			setup(base, dev, tc)
			var sts [2]*bindings.Stats
			if tc.stats {
				for i, r := range []*run{base, dev} {
					st, err := bindings.NewStats(nl, nff, 16)
					if err != nil {
						t.Fatal(err)
					}
					defer st.Close()
					for l := 0; l < nl; l++ {
						if err := st.SetSigns(l, statSigns[l]); err != nil {
							t.Fatal(err)
						}
					}
					r.ctx.AttachStats(st)
					sts[i] = st
				}
			}
			for d, rows := range [][][]int32{ref.tokens[:2], ref.tokens[2:4]} {
				ids := []int64{int64(2 * d), int64(2*d + 1)}
				base.ctx.SetRowIDs(ids)
				dev.ctx.SetRowIDs(ids)
				base.decode(t, tc.spec, rows)
				dev.decode(t, tc.spec, rows)
				at := fmt.Sprintf("decode %d", d)
				nTok := 2 * L
				for i := 0; i < nTok; i++ {
					if tc.perRow && i < L { // Logits hold the last row only
						continue
					}
					if a, b := base.ctx.Logits(i), dev.ctx.Logits(i); !same(a, b) {
						t.Fatalf("%s: logits of token %d differ (max %.3g)", at, i, maxAbsDiff(a, b))
					}
				}
				for l, idx := range tc.spec.Capture {
					n := len(idx)
					if idx == nil {
						n = nff
					}
					for _, k := range []bindings.Kind{bindings.Gate, bindings.Up, bindings.Post} {
						a, b := base.ctx.Captured(l, k, n), dev.ctx.Captured(l, k, n)
						if len(a) != nTok*n || !same(a, b) {
							t.Fatalf("%s: capture layer %d kind %d differs (len %d/%d, max %.3g)", at, l, k, len(a), len(b), maxAbsDiff(a, b))
						}
					}
				}
				for l := 0; tc.spec.Residual && l < nl; l++ {
					if a, b := base.ctx.Residual(l), dev.ctx.Residual(l); len(a) != nTok*probe.m.NEmbd() || !same(a, b) {
						t.Fatalf("%s: residual after layer %d differs (len %d/%d, max %.3g)", at, l, len(a), len(b), maxAbsDiff(a, b))
					}
				}
				if tc.spec.Scale && !same(base.ctx.Scales(), dev.ctx.Scales()) {
					t.Fatalf("%s: scales differ", at)
				}
				bm, dm := base.met, dev.met
				for i := range bm.Entropy {
					if e := math.Abs(bm.Entropy[i] - dm.Entropy[i]); e > tolMetric*math.Max(1, bm.Entropy[i]) {
						t.Fatalf("%s: token %d entropy %v vs %v", at, i, bm.Entropy[i], dm.Entropy[i])
					}
					if e := math.Abs(bm.Loss[i] - dm.Loss[i]); e > tolMetric*math.Max(1, bm.Loss[i]) || (tol == 0 && bm.Rank[i] != dm.Rank[i]) {
						t.Fatalf("%s: token %d loss/rank %v/%d vs %v/%d", at, i, bm.Loss[i], bm.Rank[i], dm.Loss[i], dm.Rank[i])
					}
				}
			}
			if got := dev.ctx.DeviceHooks(); got != want {
				t.Errorf("device hooks %q, want %q", got, want)
			}
			if got := base.ctx.DeviceHooks(); got != "" {
				t.Errorf("the host-path context reports device hooks %q", got)
			}
			if !tc.stats {
				return
			}
			a, b := sts[0].Export(), sts[1].Export()
			full := 0
			for _, n := range a.TopN {
				if n == 16 {
					full++
				}
			}
			if full == 0 {
				t.Fatal("no top-k list filled: the candidate path was not exercised")
			}
			if tol == 0 {
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Fatal("statistics differ")
				}
				return
			}
			am, bm := sts[0].Means(), sts[1].Means()
			var worst float64
			for i := range am {
				if !math.IsNaN(am[i]) && !math.IsNaN(bm[i]) {
					worst = math.Max(worst, math.Abs(am[i]-bm[i]))
				}
			}
			t.Logf("statistics: means max diff %.3g", worst)
			if worst > 1e-4 {
				t.Errorf("statistics means differ by %.3g", worst)
			}
		})
	}
}

// TestPerRowMatchesOneDecode decodes the four reference rows row by row (ContextOptions.PerRow) and
// in one decode, and compares what the hooks and Metrics report: captures and scales within 1e-5,
// metrics within 1e-4 (one KV stream per row changes only the order of float sums), statistics' counts
// within 0.1 % and means within 1e-4 (values near zero may change quadrant). Without the Metrics option
// only the last row's metrics survive a PerRow decode; the others are NaN. The row-by-row context is
// sized for one row (MaxRowLength) and refuses a longer one.
func TestPerRowMatchesOneDecode(t *testing.T) {
	ref := loadReference(t, "tiny-olmo-reference.safetensors")
	path := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	L, R := len(ref.tokens[0]), len(ref.tokens)
	one := newRun(t, path, R, L, 0)
	rowwise := newRunOn(t, path, R, L, 0, 0, func(o *bindings.ContextOptions) { o.PerRow, o.Metrics, o.MaxRowLength = true, true, L })
	lazy := newRunOn(t, path, R, L, 0, 0, func(o *bindings.ContextOptions) { o.PerRow = true })
	nl, nff := one.m.NLayer(), one.m.NFF()
	spec := hooks.Spec{Capture: hooks.Capture{1: nil, nl - 1: {0, 1, 2}}, Scale: true,
		Ablation: &hooks.Ablation{Neurons: []hooks.Neuron{{Layer: 5, Index: 3}, {Layer: 6, Index: 100}}, Gate: -1}}
	var sts []*bindings.Stats
	for _, r := range []*run{one, rowwise} {
		st, err := bindings.NewStats(nl, nff, 16)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		r.ctx.AttachStats(st)
		sts = append(sts, st)
	}
	for _, r := range []*run{one, rowwise, lazy} {
		r.decode(t, spec, ref.tokens)
	}
	n := R * L
	for l, idx := range spec.Capture {
		w := len(idx)
		if idx == nil {
			w = nff
		}
		for _, k := range []bindings.Kind{bindings.Gate, bindings.Up, bindings.Post} {
			if d := maxAbsDiff(one.ctx.Captured(l, k, w), rowwise.ctx.Captured(l, k, w)); d > 1e-5 || math.IsNaN(d) {
				t.Errorf("capture layer %d kind %d: max diff %.3g", l, k, d)
			}
		}
	}
	if d := maxAbsDiff(one.ctx.Scales(), rowwise.ctx.Scales()); d > 1e-5 || len(rowwise.ctx.Scales()) != n {
		t.Errorf("scales: max diff %.3g over %d", d, len(rowwise.ctx.Scales()))
	}
	for i := 0; i < n; i++ {
		a, b, c := one.met, rowwise.met, lazy.met
		if math.Abs(a.Entropy[i]-b.Entropy[i]) > 1e-4 || math.Abs(a.Loss[i]-b.Loss[i]) > 1e-4 {
			t.Fatalf("token %d: entropy/loss %v/%v one decode, %v/%v row by row", i, a.Entropy[i], a.Loss[i], b.Entropy[i], b.Loss[i])
		}
		if last := i >= n-L; last != !math.IsNaN(c.Entropy[i]) || (last && math.Abs(c.Entropy[i]-b.Entropy[i]) > 1e-12) {
			t.Fatalf("token %d without the Metrics option: entropy %v (row by row %v)", i, c.Entropy[i], b.Entropy[i])
		}
	}
	long := append(append([]int32(nil), ref.tokens[0]...), ref.tokens[1]...)
	if err := rowwise.ctx.Decode([][]int32{long}); err == nil || !strings.Contains(err.Error(), "MaxRowLength") {
		t.Errorf("a row longer than MaxRowLength: err %v", err)
	}
	a, b := sts[0].Export(), sts[1].Export()
	var ca, cb int64
	for i := range a.Count {
		ca, cb = ca+a.Count[i], cb+b.Count[i]
	}
	if math.Abs(float64(ca-cb)) > 1e-3*float64(ca) || ca == 0 {
		t.Errorf("statistics counts %d one decode, %d row by row", ca, cb)
	}
	am, bm := sts[0].Means(), sts[1].Means()
	var worst float64
	for i := range am {
		if !math.IsNaN(am[i]) && !math.IsNaN(bm[i]) {
			worst = math.Max(worst, math.Abs(am[i]-bm[i]))
		}
	}
	if worst > 1e-4 {
		t.Errorf("statistics means differ by %.3g", worst)
	}
}
