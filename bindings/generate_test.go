package bindings_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestGenerateMatchesHF: the first greedy token after each fixture position is the argmax of Hugging
// Face's logits there, wherever the top two are more than 2·tolLogits apart.
func TestGenerateMatchesHF(t *testing.T) {
	for _, tc := range []struct{ name, hfDir, ref string }{
		{"tiny-olmo", testmodels.TinyDir(), "tiny-olmo-reference.safetensors"},
		{"untied-olmo-random", testmodels.UntiedDir(), "untied-olmo-random-reference.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := loadReference(t, tc.ref)
			logits := ref.floats(t, "logits")
			r := newRun(t, testmodels.GGUF(t, tc.hfDir, "f32"), len(ref.tokens), len(ref.tokens[0]), 0)
			var rows [][]int32
			var want []int32
			for s, toks := range ref.tokens {
				for j, p := range ref.pos {
					hf := logits[(s*len(ref.pos)+j)*ref.nv : (s*len(ref.pos)+j+1)*ref.nv]
					top := int32(argmax(hf))
					second := slices.Clone(hf)
					second[top] = second[argmax(second)] - 1e9 // drop the top
					if float64(hf[top]-second[argmax(second)]) <= 2*tolLogits {
						continue
					}
					rows, want = append(rows, toks[:p+1]), append(want, top)
				}
			}
			checked := 0
			for lo := 0; lo < len(rows); lo += len(ref.tokens) {
				hi := min(lo+len(ref.tokens), len(rows))
				got, err := r.ctx.Generate(rows[lo:hi], bindings.GenerateOptions{MaxNew: 1})
				if err != nil {
					t.Fatal(err)
				}
				for i, g := range got {
					if len(g) != 1 || g[0] != want[lo+i] {
						t.Errorf("row of %d tokens: generated %v, HF's argmax %d", len(rows[lo+i]), g, want[lo+i])
					}
					checked++
				}
			}
			if checked < 8 {
				t.Fatalf("only %d positions checked", checked)
			}
		})
	}
}

// TestGenerateMatchesDecode: greedy generation against the KV cache equals, token for token, greedy
// decoding that re-runs the whole row at every step, for rows of different lengths generated
// together or one by one (PerRow), with a stop token, with a conditional ablation, on the tied and the
// untied model.
// One thread: ggml's CPU threads spin at every barrier, and the small decodes of generation stall
// when test binaries share the cores (docs/benchmarks.md).
func TestGenerateMatchesDecode(t *testing.T) {
	type tc struct {
		name   string
		hfDir  string
		perRow bool
		stop   bool
		abl    *hooks.Ablation
	}
	var cases []tc
	for _, m := range []struct {
		name, dir string
		ablated   []hooks.Neuron
	}{
		{"tiny-olmo", testmodels.TinyDir(), testmodels.ReferenceAblated()},
		{"untied", testmodels.UntiedDir(), []hooks.Neuron{{Layer: 0, Index: 3}, {Layer: 1, Index: 7}, {Layer: 1, Index: 100}}},
	} {
		ablate := &hooks.Ablation{Neurons: m.ablated, Gate: -1}
		cases = append(cases,
			tc{m.name + "/batched", m.dir, false, false, nil},
			tc{m.name + "/per-row", m.dir, true, false, nil},
			tc{m.name + "/stop", m.dir, false, true, nil},
			tc{m.name + "/ablation", m.dir, false, false, ablate})
	}
	const maxNew = 12
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := bindings.LoadModel(testmodels.GGUF(t, c.hfDir, "f32"), bindings.ModelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			nv := int32(m.VocabSize())
			rows := [][]int32{{m.EOS()}, {m.EOS(), 11, 12, 13, 14, 15, 16, 17}, {m.EOS(), 100 % nv, 7, 300 % nv}}
			ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: 64, MaxRows: 4, PerRow: c.perRow, MaxRowLength: 24, Exact: true, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer ctx.Close()
			if err := ctx.SetHooks(hooks.Spec{Ablation: c.abl}); err != nil {
				t.Fatal(err)
			}
			// The reference: whole rows decoded again at every step.
			want := make([][]int32, len(rows))
			var stop []int32
			for s, r := range rows {
				seq := slices.Clone(r)
				for len(want[s]) < maxNew {
					if err := ctx.Decode([][]int32{seq}); err != nil {
						t.Fatal(err)
					}
					tok := int32(argmax(ctx.Logits(len(seq) - 1)))
					want[s] = append(want[s], tok)
					seq = append(seq, tok)
					if slices.Contains(stop, tok) {
						break
					}
				}
				if c.stop && s == 0 {
					stop = []int32{want[0][3]} // row 0's 4th token ends every row that emits it
					want[0] = want[0][:slices.Index(want[0], stop[0])+1]
				}
			}
			got, err := ctx.Generate(rows, bindings.GenerateOptions{MaxNew: maxNew, Stop: stop})
			if err != nil {
				t.Fatal(err)
			}
			for s := range rows {
				if !slices.Equal(got[s], want[s]) {
					t.Errorf("row %d: Generate %v, re-decoding %v", s, got[s], want[s])
				}
			}
			end := int32(-1) // no stop token: every row runs to maxNew
			if len(stop) > 0 {
				end = stop[0]
			}
			checkGreedy(t, ctx, rows, got, maxNew, end, 0) // exact on the CPU
			if err := ctx.Decode(rows[1:2]); err != nil {  // the context stays usable
				t.Fatal(err)
			}
		})
	}
}

func TestGenerateRefuses(t *testing.T) {
	m, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: 16, MaxRows: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	eos := m.EOS()
	for _, c := range []struct {
		name   string
		rows   [][]int32
		maxNew int
		spec   hooks.Spec
	}{
		{"too many tokens", [][]int32{{eos, 1, 2}, {eos}}, 7, hooks.Spec{}},
		{"too many rows", [][]int32{{eos}, {eos}, {eos}}, 1, hooks.Spec{}},
		{"empty row", [][]int32{{}}, 1, hooks.Spec{}},
		{"token outside the vocabulary", [][]int32{{int32(m.VocabSize())}}, 1, hooks.Spec{}},
		{"negative length", [][]int32{{eos}}, -1, hooks.Spec{}},
		{"capture", [][]int32{{eos}}, 1, hooks.Spec{Capture: hooks.Capture{0: nil}}},
		{"residual", [][]int32{{eos}}, 1, hooks.Spec{Residual: true}},
	} {
		if err := ctx.SetHooks(c.spec); err != nil {
			t.Fatal(err)
		}
		if _, err := ctx.Generate(c.rows, bindings.GenerateOptions{MaxNew: c.maxNew}); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

// TestSampleLogits: over a grid of N evenly spaced draws each index is picked N·p times (±1), p the
// float64 softmax of logits / temperature; NaN logits are never picked; temperature 0 is the argmax.
func TestSampleLogits(t *testing.T) {
	big := make([]float32, 5000)
	for i := range big {
		big[i] = float32(math.Sin(float64(i)*1.7) * 6)
	}
	for _, c := range []struct {
		name   string
		logits []float32
		temp   float64
	}{
		{"three", []float32{0, float32(math.Ln2), float32(math.Log(3))}, 1},
		{"three, hot", []float32{0, float32(math.Ln2), float32(math.Log(3))}, 2},
		{"NaN skipped", []float32{1, float32(math.NaN()), 1, 3}, 0.5},
		{"5,000 logits", big, 1},
		{"5,000 logits, cold", big, 0.3},
	} {
		mx := math.Inf(-1)
		for _, v := range c.logits {
			if !math.IsNaN(float64(v)) {
				mx = math.Max(mx, float64(v))
			}
		}
		p := make([]float64, len(c.logits))
		var z float64
		for i, v := range c.logits {
			if !math.IsNaN(float64(v)) {
				p[i] = math.Exp((float64(v) - mx) / c.temp)
				z += p[i]
			}
		}
		const n = 200000
		count := make([]int, len(c.logits))
		for k := range n {
			i := bindings.SampleLogits(c.logits, c.temp, (float64(k)+0.5)/n)
			if i < 0 || math.IsNaN(float64(c.logits[i])) {
				t.Fatalf("%s: draw %d picked %d", c.name, k, i)
			}
			count[i]++
		}
		for i := range p {
			if want := n * p[i] / z; math.Abs(float64(count[i])-want) > 1.5 {
				t.Errorf("%s: index %d picked %d times, want %.1f", c.name, i, count[i], want)
			}
		}
	}
	if got := bindings.SampleLogits([]float32{1, 5, 2}, 0, 0.1); got != 1 {
		t.Errorf("temperature 0: %d, want the argmax 1", got)
	}
	if got := bindings.SampleLogits([]float32{float32(math.NaN())}, 1, 0.1); got != -1 {
		t.Errorf("all NaN: %d, want -1", got)
	}
}

// TestGenerateSampling: sampled generation against the KV cache equals a re-decode loop that draws
// with the same per-row streams; a row's tokens do not depend on the rows beside it; a seed repeats;
// Progress hears of every token, once per step.
func TestGenerateSampling(t *testing.T) {
	m, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: 96, MaxRows: 3, Exact: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	rows := [][]int32{{m.EOS()}, {m.EOS(), 11, 12, 13, 14}, {m.EOS(), 300, 7}}
	const maxNew = 16
	for _, s := range []bindings.Sampling{{Temperature: 1, Seed: 7}, {Temperature: 0.6, Seed: 8}} {
		steps, tokens := 0, 0
		got, err := ctx.Generate(rows, bindings.GenerateOptions{MaxNew: maxNew, Sampling: &s, Progress: func(n int) { steps, tokens = steps+1, tokens+n }})
		if err != nil {
			t.Fatal(err)
		}
		if steps != maxNew || tokens != len(rows)*maxNew {
			t.Errorf("%+v: progress reported %d tokens in %d steps, want %d in %d", s, tokens, steps, len(rows)*maxNew, maxNew)
		}
		again, err := ctx.Generate(rows, bindings.GenerateOptions{MaxNew: maxNew, Sampling: &s})
		if err != nil || !slices.EqualFunc(got, again, slices.Equal) {
			t.Errorf("%+v: a second run differs: %v, %v", s, again, err)
		}
		for i, r := range rows {
			rng := rand.New(rand.NewPCG(s.Seed, uint64(i)))
			seq := slices.Clone(r)
			var want []int32
			for range maxNew {
				if err := ctx.Decode([][]int32{seq}); err != nil {
					t.Fatal(err)
				}
				tok := int32(bindings.SampleLogits(ctx.Logits(len(seq)-1), s.Temperature, rng.Float64()))
				want, seq = append(want, tok), append(seq, tok)
			}
			if !slices.Equal(got[i], want) {
				t.Errorf("%+v row %d: Generate %v, re-decoding %v", s, i, got[i], want)
			}
		}
		alone, err := ctx.Generate(rows[:1], bindings.GenerateOptions{MaxNew: maxNew, Sampling: &s})
		if err != nil || !slices.Equal(alone[0], got[0]) {
			t.Errorf("%+v: row 0 alone %v, beside others %v (%v)", s, alone[0], got[0], err)
		}
		rest, err := ctx.Generate(rows[1:], bindings.GenerateOptions{MaxNew: maxNew, Sampling: &s, FirstRow: 1})
		if err != nil || !slices.EqualFunc(rest, got[1:], slices.Equal) {
			t.Errorf("%+v: rows 1- from FirstRow 1 %v, in one call %v (%v)", s, rest, got[1:], err)
		}
	}
	if _, err := ctx.Generate(rows, bindings.GenerateOptions{MaxNew: 2, Sampling: &bindings.Sampling{}}); err == nil {
		t.Error("temperature 0: no error")
	}
}

// checkGreedy decodes each row followed by its generated tokens in one pass and checks that every
// generated token's logit is within tol of the largest at its position (greedy up to ties of tol:
// kernels for other batch shapes, as a GPU's, may round differently), and that a row shorter than
// maxNew ended at stop.
func checkGreedy(t *testing.T, ctx *bindings.Context, rows, gen [][]int32, maxNew int, stop int32, tol float64) {
	t.Helper()
	for s, r := range rows {
		if len(gen[s]) < maxNew && (len(gen[s]) == 0 || gen[s][len(gen[s])-1] != stop) {
			t.Errorf("row %d: %d tokens without the stop token", s, len(gen[s]))
		}
		seq := slices.Concat(r, gen[s])
		if err := ctx.Decode([][]int32{seq}); err != nil {
			t.Fatal(err)
		}
		for i, tok := range gen[s] {
			lg := ctx.Logits(len(r) + i - 1)
			if best := lg[argmax(lg)]; float64(best-lg[tok]) > tol {
				t.Errorf("row %d, token %d: generated %d with logit %g, the largest is %g", s, i, tok, lg[tok], best)
			}
		}
	}
}
