package entropy

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// referenceDataset writes the reference's 4×64 token rows as an input_ids JSONL file.
func referenceDataset(t *testing.T, ref *safetensors.File) string {
	t.Helper()
	toks, err := ref.Int32("tokens")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for r := 0; r < 4; r++ {
		b, _ := json.Marshal(map[string]any{"input_ids": toks[r*64 : (r+1)*64]})
		lines = append(lines, string(b))
	}
	p := filepath.Join(t.TempDir(), "ref.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunMatchesReference runs the whole experiment (data set, hooks, metrics, output files) on the
// reference rows, clean and with the reference's conditional zero ablation, and compares
// metrics.safetensors with the Hugging Face values (entropy/loss 1e-3, rank exact but for ties).
func TestRunMatchesReference(t *testing.T) {
	ref, err := safetensors.Open(testmodels.Fixture("tiny-olmo-reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ds := referenceDataset(t, ref)
	var neurons []hooks.Neuron
	for i := 0; i < 10; i++ {
		neurons = append(neurons, hooks.Neuron{Layer: 5, Index: i}, hooks.Neuron{Layer: 7, Index: 100 + i})
	}
	hooks.SortNeurons(neurons)
	cases := []struct {
		name, prefix string
		neurons      []hooks.Neuron
		gate, post   hooks.Sign
	}{
		{"clean", "", nil, 0, 0},
		{"zero_gate-_post+", "ablate.zero_gate-_post+.", neurons, -1, 1},
		{"zero", "ablate.zero.", neurons, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			sum, err := Run(Config{
				Model: testmodels.GGUF(t, testmodels.TinyDir(), "f32"), Dataset: ds, Neurons: tc.neurons,
				Gate: tc.gate, Post: tc.post, Refactor: false, Exact: true, BatchSize: 3, MaxLength: 64, Out: out,
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Rows != 4 || sum.Tokens != 256 || sum.LossTokens != 252 {
				t.Fatalf("summary counts %d rows %d tokens %d loss tokens", sum.Rows, sum.Tokens, sum.LossTokens)
			}
			m, err := safetensors.Open(filepath.Join(out, "metrics.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if sh := fmt.Sprint(m.Tensors["entropy"].Shape); sh != "[4 64]" {
				t.Fatalf("entropy shape %s", sh)
			}
			get := func(f *safetensors.File, name string) []float32 {
				v, err := f.Float32(name)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			ent, loss := get(m, "entropy"), get(m, "loss")
			rank, _ := m.Int32("rank")
			wantEnt, wantLoss := get(ref, tc.prefix+"entropy"), get(ref, tc.prefix+"loss")
			wantRank, _ := ref.Int32(tc.prefix + "rank")
			rankOff := 0
			for r := 0; r < 4; r++ {
				for p := 0; p < 64; p++ {
					if d := math.Abs(float64(ent[r*64+p] - wantEnt[r*64+p])); d > 1e-3 {
						t.Errorf("row %d pos %d: entropy off by %.3g", r, p, d)
					}
					if p == 63 {
						if loss[r*64+p] != 0 || rank[r*64+p] != 0 {
							t.Errorf("row %d: loss/rank at the last token must be 0 (no next token)", r)
						}
						continue
					}
					if d := math.Abs(float64(loss[r*64+p] - wantLoss[r*63+p])); d > 1e-3 {
						t.Errorf("row %d pos %d: loss off by %.3g", r, p, d)
					}
					if rank[r*64+p] != wantRank[r*63+p] {
						rankOff++
					}
				}
			}
			if rankOff > 2 { // ties within 1e-4 are checked exactly in package bindings
				t.Errorf("%d ranks differ", rankOff)
			}
			for _, f := range []string{"summary.json", "metrics.safetensors"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestReadMeans(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          map[hooks.Neuron]float32
		err           string
	}{
		{"json", `{"5.1": 0.25, "7.100": -1}`, map[hooks.Neuron]float32{{Layer: 5, Index: 1}: 0.25, {Layer: 7, Index: 100}: -1}, ""},
		{"csv with header", "neuron,value\n5.1,0.25\n7.100,-1\n", map[hooks.Neuron]float32{{Layer: 5, Index: 1}: 0.25, {Layer: 7, Index: 100}: -1}, ""},
		{"csv bad line", "5.1,0.25\n7.x,1\n", nil, ":2:"},
		{"json bad neuron", `{"a.1": 1}`, nil, "bad neuron"},
		{"empty csv", "neuron,value\n", nil, "no L.N,value rows"},
	}
	for _, tc := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		os.WriteFile(p, []byte(tc.content), 0o644)
		got, err := ReadMeans(p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error %v, want one naming %s and containing %q", tc.name, err, p, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}
