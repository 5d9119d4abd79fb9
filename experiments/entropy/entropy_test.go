package entropy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// TestRunMatchesReference runs the whole experiment (data set, hooks, metrics, output files) on the
// reference rows, clean and with the reference's conditional zero ablation, and compares
// metrics.safetensors with the Hugging Face values (entropy/loss 1e-3, rank exact but for ties).
func TestRunMatchesReference(t *testing.T) {
	ref, err := safetensors.Open(testmodels.Fixture("tiny-olmo-reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ds := testmodels.ReferenceDataset(t, t.TempDir())
	neurons := testmodels.ReferenceAblated()
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

// resumeConfig is a small conditional mean ablation (so the means values and conditions are part of
// what a checkpoint must match) over a few batches of the evaluation text.
func resumeConfig(t *testing.T, out string) Config {
	return Config{
		Model:    testmodels.GGUF(t, testmodels.TinyDir(), "f32"),
		Dataset:  filepath.Join(testmodels.Root(), "data", "eval", "sotu-moby-valid.jsonl"),
		Neurons:  []hooks.Neuron{{Layer: 5, Index: 1}, {Layer: 7, Index: 100}},
		Ablation: "mean", Means: map[hooks.Neuron]float32{{Layer: 5, Index: 1}: 0.25, {Layer: 7, Index: 100}: -0.5},
		Gate: -1, Refactor: true, Exact: true, BatchSize: 2, MaxLength: 48, MaxTokens: 48 * 9, Out: out,
		RunInfo: runinfo.New("entropy", map[string]any{"test": true}),
	}
}

// outputs reads a finished run's files; run.json without its timing fields.
func outputs(t *testing.T, out string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for _, f := range []string{"metrics.safetensors", "summary.json", "run.json"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "run.json" {
			b = withoutTiming(t, b)
		}
		got[f] = b
	}
	return got
}

func withoutTiming(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("run.json: %v", err)
	}
	for _, k := range []string{"started", "finished", "seconds", "tokens_per_second"} {
		delete(m, k)
	}
	b, _ = json.Marshal(m)
	return b
}

// TestResumeIsExact: runs stopped after various numbers of batches (with checkpoints every batch or
// every other one, stopped once or twice) and resumed give metrics.safetensors, summary.json and
// run.json (timing aside) byte-identical to an uninterrupted run, never leave a partial --out, and
// remove their checkpoint at the end.
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	full := resumeConfig(t, filepath.Join(dir, "full"))
	sum, err := Run(full)
	if err != nil {
		t.Fatal(err)
	}
	want := outputs(t, full.Out)
	nb := (sum.Rows + full.BatchSize - 1) / full.BatchSize
	if nb < 4 {
		t.Fatalf("only %d batches: the test needs more rows", nb)
	}
	cases := []struct {
		name  string
		every int   // checkpoint every this many batches
		stops []int // stop once this many batches are done, then rerun
		saved []int // rows_done of the checkpoint after each stop (0: none)
	}{
		{"stop after 1, checkpoint every batch", 1, []int{1}, []int{2}},
		{"stop after 3, checkpoint every batch", 1, []int{3}, []int{6}},
		{"stop after 3, checkpoint every 2", 2, []int{3}, []int{4}},
		{"stop after 1, checkpoint every 2 (nothing saved)", 2, []int{1}, []int{0}},
		{"stop at the last batch", 1, []int{nb - 1}, []int{2 * (nb - 1)}},
		{"stop twice, after 1 and 3", 1, []int{1, 3}, []int{2, 6}},
	}
	for _, tc := range cases {
		out := filepath.Join(dir, strings.NewReplacer(" ", "_", ",", "", "(", "", ")", "").Replace(tc.name))
		cfg := resumeConfig(t, out)
		cfg.CheckpointBatches = tc.every
		ckpt := filepath.Join(out+".partial", "checkpoint.safetensors")
		for i, stop := range tc.stops {
			cfg.stopAfter = stop
			if _, err := Run(cfg); !errors.Is(err, errStopped) {
				t.Fatalf("%s: stop after %d batches: %v", tc.name, stop, err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s: --out exists after the run was stopped", tc.name)
			}
			rows := "0"
			if f, err := safetensors.Open(ckpt); err == nil {
				rows = f.Metadata["rows_done"]
				f.Close()
			}
			if rows != fmt.Sprint(tc.saved[i]) {
				t.Errorf("%s: checkpoint after stop %d holds %s rows, want %d", tc.name, i+1, rows, tc.saved[i])
			}
		}
		cfg.stopAfter = 0
		cfg.RunInfo = runinfo.New("entropy", map[string]any{"test": true})
		got, err := Run(cfg)
		if err != nil {
			t.Fatalf("%s: resume: %v", tc.name, err)
		}
		if got.Rows != sum.Rows || got.Tokens != sum.Tokens || got.MeanLoss != sum.MeanLoss {
			t.Errorf("%s: summary %+v, uninterrupted %+v", tc.name, got, sum)
		}
		for f, b := range outputs(t, out) {
			if !bytes.Equal(b, want[f]) {
				t.Errorf("%s: %s differs from the uninterrupted run's", tc.name, f)
			}
		}
		if _, err := os.Stat(out + ".partial"); err == nil {
			t.Errorf("%s: checkpoint folder left behind", tc.name)
		}
	}
}

// TestResumeRefusesOtherInputs: a checkpoint is resumed only by a run with the same inputs; any
// other run fails with one line naming the checkpoint and the difference, and leaves the checkpoint
// (and --out) as they were.
func TestResumeRefusesOtherInputs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	base := resumeConfig(t, out)
	base.CheckpointBatches, base.stopAfter = 1, 2
	if _, err := Run(base); !errors.Is(err, errStopped) {
		t.Fatal(err)
	}
	base.stopAfter = 0
	ckpt := filepath.Join(out+".partial", "checkpoint.safetensors")
	saved, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	otherData := filepath.Join(dir, "other.jsonl")
	if err := os.WriteFile(otherData, []byte(`{"text": "A different text, long enough for a few tokens and rows."}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string // want: how the error names the difference
		change     func(*Config)
	}{
		{"model", "model sha256", func(c *Config) { c.ModelSHA256 = strings.Repeat("ab", 32) }},
		{"dataset", "--dataset rows", func(c *Config) { c.Dataset = otherData }},
		{"neurons", "--neurons 5.1,7.100, this run has --neurons 5.1", func(c *Config) { c.Neurons = c.Neurons[:1] }},
		{"no neurons", "--neurons none", func(c *Config) { c.Neurons, c.Ablation, c.Gate = nil, "", 0 }},
		{"ablation", "--ablation mean, this run has --ablation zero", func(c *Config) { c.Ablation = "zero" }},
		{"means values", "--means values", func(c *Config) {
			c.Means = map[hooks.Neuron]float32{{Layer: 5, Index: 1}: 0.25, {Layer: 7, Index: 100}: 0.5}
		}},
		{"gate", "--gate -, this run has --gate +", func(c *Config) { c.Gate = 1 }},
		{"post", "--post none, this run has --post +", func(c *Config) { c.Post = 1 }},
		{"refactor", "--refactor", func(c *Config) { c.Refactor = false }},
		{"exact", "--exact", func(c *Config) { c.Exact = false }},
		{"batch size", "--batch-size 2, this run has --batch-size 3", func(c *Config) { c.BatchSize = 3 }},
		{"max length", "--max-length 48, this run has --max-length 32", func(c *Config) { c.MaxLength = 32 }},
		{"max tokens", "--max-tokens", func(c *Config) { c.MaxTokens = 48 * 8 }},
		{"gpu layers", "--gpu-layers", func(c *Config) { c.GPULayers = 3 }},
		{"per row", "--per-row auto, this run has --per-row off", func(c *Config) { c.PerRow = "off" }},
	}
	for _, tc := range cases {
		cfg := base
		tc.change(&cfg)
		_, err := Run(cfg)
		switch {
		case err == nil:
			t.Errorf("%s: resumed a checkpoint of other inputs", tc.name)
		case !strings.Contains(err.Error(), ckpt) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: error %q, want one line naming %s and %q", tc.name, err, ckpt, tc.want)
		}
		if b, err := os.ReadFile(ckpt); err != nil || !bytes.Equal(b, saved) {
			t.Errorf("%s: the checkpoint changed or vanished (%v)", tc.name, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: --out was written", tc.name)
		}
	}

	// Not an entropy checkpoint (e.g. a freqs run's, or damaged): refused, not overwritten.
	for _, c := range []struct{ name, content, want string }{
		{"damaged", "not safetensors", ckpt},
		{"other format", "", "not a wcos entropy checkpoint"},
	} {
		p := ckpt
		content := []byte(c.content)
		if c.content == "" {
			if err := safetensors.Write(p, []safetensors.Tensor{safetensors.I32("x", []int64{1}, []int32{1})}, map[string]string{"format": "other"}); err != nil {
				t.Fatal(err)
			}
			content, _ = os.ReadFile(p)
		} else if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Run(base)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), out+".partial") {
			t.Errorf("%s checkpoint: error %v, want one containing %q and naming %s", c.name, err, c.want, out+".partial")
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, content) {
			t.Errorf("%s checkpoint: overwritten", c.name)
		}
	}
	// The same inputs still resume it.
	if err := os.WriteFile(ckpt, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(base); err != nil {
		t.Fatalf("resume with the checkpoint's own inputs: %v", err)
	}
}
