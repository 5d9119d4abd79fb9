package bindings_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// benchModels are the models the forward benchmarks run: the embedded tiny-olmo and, when
// WCOS_BENCH_GGUF names one, a larger (e.g. synthetic OLMo-7B-shaped, see `wcos synth`) GGUF.
func benchModels(b *testing.B) map[string]string {
	ms := map[string]string{"tiny-olmo-f32": testmodels.GGUF(b, testmodels.TinyDir(), "f32")}
	if p := os.Getenv("WCOS_BENCH_GGUF"); p != "" {
		ms["custom"] = p
	}
	return ms
}

// BenchmarkForward reports tokens/s of one decode of rows×length tokens with the hook modes side by
// side: plain forward, + per-token metrics, + capture of every neuron, + conditional ablation of a
// tenth of the neurons in the last quarter of the layers, quadrant statistics of every neuron.
func BenchmarkForward(b *testing.B) {
	for name, path := range benchModels(b) {
		m, err := bindings.LoadModel(path, bindings.ModelOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		for _, size := range []struct{ rows, length int }{{4, 256}, {4, 1024}} {
			if testing.Short() && size.length > 256 {
				continue
			}
			rows := make([][]int32, size.rows)
			for i := range rows {
				rows[i] = make([]int32, size.length)
				for j := range rows[i] {
					rows[i][j] = int32((i*7919 + j*104729) % 50000)
				}
			}
			nl, nff := m.NLayer(), m.NFF()
			all := hooks.Capture{}
			for l := 0; l < nl; l++ {
				all[l] = nil
			}
			var abl []hooks.Neuron
			for l := nl - max(1, nl/4); l < nl; l++ {
				for i := 0; i < nff; i += 10 {
					abl = append(abl, hooks.Neuron{Layer: l, Index: i})
				}
			}
			modes := []struct {
				name                   string
				spec                   hooks.Spec
				metrics, stats, perRow bool
			}{
				{"plain", hooks.Spec{}, false, false, false},
				{"metrics", hooks.Spec{Scale: true}, true, false, false},
				{"metrics-per-row", hooks.Spec{Scale: true}, true, false, true}, // what entropy runs on a CPU
				{"capture-all", hooks.Spec{Capture: all}, false, false, false},
				{"ablate-gate-post+", hooks.Spec{Ablation: &hooks.Ablation{Neurons: abl, Gate: -1, Post: 1}}, false, false, false},
				{"ablate+metrics", hooks.Spec{Scale: true, Ablation: &hooks.Ablation{Neurons: abl, Gate: -1, Post: 1}}, true, false, false},
				{"quadrant-stats", hooks.Spec{}, false, true, false},
			}
			st, err := bindings.NewStats(nl, nff, 16)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			for _, exact := range []bool{false, true} {
				opt := bindings.ContextOptions{MaxTokens: size.rows * size.length, MaxRows: size.rows, Exact: exact}
				ctx, err := m.NewContext(opt)
				if err != nil {
					b.Fatal(err)
				}
				opt.PerRow, opt.Metrics, opt.MaxRowLength = true, true, size.length
				rowCtx, err := m.NewContext(opt)
				if err != nil {
					b.Fatal(err)
				}
				for _, mode := range modes {
					ctx := ctx
					if mode.perRow {
						ctx = rowCtx
					}
					b.Run(fmt.Sprintf("%s/%dx%d/exact=%v/%s", name, size.rows, size.length, exact, mode.name), func(b *testing.B) {
						if err := ctx.SetHooks(mode.spec); err != nil {
							b.Fatal(err)
						}
						if mode.stats {
							ctx.AttachStats(st)
							defer ctx.AttachStats(nil)
						}
						for i := 0; i < b.N; i++ {
							if err := ctx.Decode(rows); err != nil {
								b.Fatal(err)
							}
							if mode.metrics {
								ctx.Metrics()
							}
						}
						b.ReportMetric(float64(b.N*size.rows*size.length)/b.Elapsed().Seconds(), "tokens/s")
					})
				}
				ctx.Close()
				rowCtx.Close()
			}
		}
	}
}

// BenchmarkGenerate reports generated tokens/s of greedy generation, rows prompts of 16 tokens
// continued by 10 tokens, against the KV cache (Generate) and by decoding every row whole again at
// each step (what a loop over Decode would do), side by side.
func BenchmarkGenerate(b *testing.B) {
	const prompt, newTokens = 16, 10
	for name, path := range benchModels(b) {
		m, err := bindings.LoadModel(path, bindings.ModelOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		for _, nRows := range []int{1, 8, 32} {
			rows := make([][]int32, nRows)
			for i := range rows {
				rows[i] = []int32{m.EOS()}
				for j := 1; j < prompt; j++ {
					rows[i] = append(rows[i], int32((i*7919+j*104729)%50000))
				}
			}
			ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: nRows * (prompt + newTokens), MaxRows: nRows})
			if err != nil {
				b.Fatal(err)
			}
			defer ctx.Close()
			b.Run(fmt.Sprintf("%s/rows=%d/kv-cache", name, nRows), func(b *testing.B) {
				for b.Loop() {
					if _, err := ctx.Generate(rows, bindings.GenerateOptions{MaxNew: newTokens}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*nRows*newTokens)/b.Elapsed().Seconds(), "tok/s")
			})
			b.Run(fmt.Sprintf("%s/rows=%d/re-decode", name, nRows), func(b *testing.B) {
				for b.Loop() {
					seqs := make([][]int32, nRows)
					for i := range rows {
						seqs[i] = append([]int32(nil), rows[i]...)
					}
					for range newTokens {
						if err := ctx.Decode(seqs); err != nil {
							b.Fatal(err)
						}
						off := 0
						for i := range seqs {
							off += len(seqs[i])
							seqs[i] = append(seqs[i], int32(argmax(ctx.Logits(off-1))))
						}
					}
				}
				b.ReportMetric(float64(b.N*nRows*newTokens)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
