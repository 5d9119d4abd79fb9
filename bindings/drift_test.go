package bindings_test

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// evalRows tokenises the first n documents of the shipped evaluation text, eos prepended as BOS,
// truncated to length tokens.
func evalRows(t *testing.T, m *bindings.Model, n, length int) [][]int32 {
	t.Helper()
	f, err := os.Open(filepath.Join(testmodels.Root(), "data", "eval", "sotu-moby-valid.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var rows [][]int32
	for sc.Scan() && len(rows) < n {
		var doc struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		ids, err := m.Tokenize(doc.Text[:min(len(doc.Text), 8*length)])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, append([]int32{m.EOS()}, ids[:length-1]...))
	}
	return rows
}

func logSoftmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for _, v := range x {
		z += math.Exp(float64(v) - mx)
	}
	lz := math.Log(z) + mx
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - lz
	}
	return out
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestConversionDrift runs F16, BF16 and Q8_0 conversions of tiny-olmo on evaluation text and bounds
// their drift from the F32 run (mean KL(F32‖X) and top-1 agreement). The numbers are in README.
func TestConversionDrift(t *testing.T) {
	if testing.Short() {
		t.Skip("converts and runs four models")
	}
	const nRows, length = 4, 256
	ref, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	rows := evalRows(t, ref, nRows, length)
	logits := func(m *bindings.Model) [][]float32 {
		ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: nRows * length, MaxRows: nRows, Exact: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.Close()
		if err := ctx.SetHooks(hooks.Spec{}); err != nil {
			t.Fatal(err)
		}
		if err := ctx.Decode(rows); err != nil {
			t.Fatal(err)
		}
		out := make([][]float32, nRows*length)
		for i := range out {
			out[i] = ctx.Logits(i)
		}
		return out
	}
	base := logits(ref)
	cases := []struct {
		typ           string
		maxKL, minTop float64
	}{
		{"f16", 1e-5, 0.99},
		{"bf16", 1e-4, 0.98},
		{"q8_0", 1e-3, 0.97},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			m, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), tc.typ), bindings.ModelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got := logits(m)
			var kl float64
			agree := 0
			for i := range base {
				p, q := logSoftmax(base[i]), logSoftmax(got[i])
				for v := range p {
					kl += math.Exp(p[v]) * (p[v] - q[v])
				}
				if argmax(base[i]) == argmax(got[i]) {
					agree++
				}
			}
			kl /= float64(len(base))
			top := float64(agree) / float64(len(base))
			t.Logf("%s vs f32 on %d tokens: mean KL %.3g, top-1 agreement %.4f (%s)", tc.typ, len(base), kl, top, m.Desc())
			if kl > tc.maxKL || top < tc.minTop {
				t.Errorf("%s drift too large: KL %.3g (max %g), top-1 %.4f (min %g)", tc.typ, kl, tc.maxKL, top, tc.minTop)
			}
		})
	}
}
