package bindings_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// signsFromModel computes s_n = sign(w_gate·(w_in - mean w_in)) (0 → +1) for every neuron of a layer.
func signsFromModel(t *testing.T, path string, layer int) []int8 {
	t.Helper()
	g, u := fmt.Sprintf("blk.%d.ffn_gate.weight", layer), fmt.Sprintf("blk.%d.ffn_up.weight", layer)
	w, sh, err := bindings.ReadGGUFTensors(path, []string{g, u})
	if err != nil {
		t.Fatal(err)
	}
	nff, d := int(sh[g][0]), int(sh[g][1])
	out := make([]int8, nff)
	for n := 0; n < nff; n++ {
		gate, in := w[g][n*d:(n+1)*d], w[u][n*d:(n+1)*d]
		var mean, dot float64
		for _, x := range in {
			mean += float64(x)
		}
		mean /= float64(d)
		for j := range gate {
			dot += float64(gate[j]) * (float64(in[j]) - mean)
		}
		out[n] = 1
		if dot < 0 {
			out[n] = -1
		}
	}
	return out
}

// TestStatsMatchReference accumulates quadrant statistics over sequence 0 of the tiny-olmo reference
// and compares them with those derived from the reference's gate/up/post tensors: counts exact except
// for tokens with a value within 1e-4 of zero, means within 1e-5; with raw and refactored signs.
func TestStatsMatchReference(t *testing.T) {
	ref := loadReference(t, "tiny-olmo-reference.safetensors")
	path := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	L := len(ref.tokens[0])
	r := newRun(t, path, 1, L, 0)
	nl, nff := r.m.NLayer(), r.m.NFF()
	for _, refactor := range []bool{false, true} {
		t.Run(fmt.Sprintf("refactor=%v", refactor), func(t *testing.T) {
			st, err := bindings.NewStats(nl, nff, 4)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			signs := make([][]int8, nl)
			for l := range signs {
				signs[l] = make([]int8, nff)
				for n := range signs[l] {
					signs[l][n] = 1
				}
				if refactor {
					signs[l] = signsFromModel(t, path, l)
				}
				if err := st.SetSigns(l, signs[l]); err != nil {
					t.Fatal(err)
				}
			}
			r.ctx.AttachStats(st)
			defer r.ctx.AttachStats(nil)
			r.decode(t, hooks.Spec{}, ref.tokens[:1])
			d := st.Export()
			means := st.Means()
			badCount, badMean, checked := 0, 0, 0
			for l := 0; l < nl; l++ {
				gate := ref.floats(t, fmt.Sprintf("seq0.gate.%d", l))
				up := ref.floats(t, fmt.Sprintf("seq0.up.%d", l))
				post := ref.floats(t, fmt.Sprintf("seq0.post.%d", l))
				for n := 0; n < nff; n++ {
					s := float64(signs[l][n])
					var cnt [4]int
					var sum [4][4]float64
					ambiguous := false
					for tok := 0; tok < L; tok++ {
						g, in, p := float64(gate[tok*nff+n]), s*float64(up[tok*nff+n]), s*float64(post[tok*nff+n])
						if math.Abs(g) < 1e-4 || math.Abs(in) < 1e-4 {
							ambiguous = true
						}
						if g == 0 || in == 0 {
							continue
						}
						q := 0
						if g < 0 {
							q += 2
						}
						if in < 0 {
							q++
						}
						cnt[q]++
						sum[q][0] += p
						sum[q][1] += g
						sum[q][2] += in
						sum[q][3] += g / (1 + math.Exp(-g))
					}
					if ambiguous {
						continue
					}
					checked++
					for q := 0; q < 4; q++ {
						if got := d.Count[(l*4+q)*nff+n]; got != int64(cnt[q]) {
							if badCount++; badCount <= 5 {
								t.Errorf("layer %d neuron %d %s: count %d, reference %d", l, n, bindings.Quadrants[q], got, cnt[q])
							}
						}
						for v := 0; v < 4 && cnt[q] > 0; v++ {
							got := means[((l*4+q)*4+v)*nff+n]
							if want := sum[q][v] / float64(cnt[q]); math.Abs(got-want) > 1e-5 {
								if badMean++; badMean <= 5 {
									t.Errorf("layer %d neuron %d %s %s: mean %.7g, reference %.7g", l, n, bindings.Quadrants[q], bindings.Variables[v], got, want)
								}
							}
						}
					}
				}
			}
			if checked < nl*nff/4 {
				t.Errorf("only %d of %d neurons were unambiguous enough to check", checked, nl*nff)
			}
			t.Logf("checked %d of %d neurons", checked, nl*nff)
		})
	}
}

// TestStatsMergeExact splits one run's tokens over two Stats, merges them, and requires the exact
// state of a single accumulation (the property resume and shard-merge rely on).
func TestStatsMergeExact(t *testing.T) {
	ref := loadReference(t, "tiny-olmo-reference.safetensors")
	path := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	L := len(ref.tokens[0])
	r := newRun(t, path, 4, L, 0)
	nl, nff := r.m.NLayer(), r.m.NFF()
	run := func(rows [][]int32, ids []int64) *bindings.Stats {
		st, err := bindings.NewStats(nl, nff, 16)
		if err != nil {
			t.Fatal(err)
		}
		r.ctx.AttachStats(st)
		r.ctx.SetRowIDs(ids)
		r.decode(t, hooks.Spec{}, rows)
		r.ctx.AttachStats(nil)
		return st
	}
	all := run(ref.tokens, []int64{0, 1, 2, 3})
	defer all.Close()
	a := run(ref.tokens[2:], []int64{2, 3}) // the later half first: merge order must not matter
	defer a.Close()
	b := run(ref.tokens[:2], []int64{0, 1})
	defer b.Close()
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	want, got := all.Export(), a.Export()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatal("merged statistics differ from a single run")
	}
	// Import/Export round trip.
	c, _ := bindings.NewStats(nl, nff, 16)
	defer c.Close()
	if err := c.Import(got); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Export()) != fmt.Sprint(want) {
		t.Fatal("import/export round trip changed the state")
	}
}
