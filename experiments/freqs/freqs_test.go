package freqs

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/testmodels"
	"github.com/wcos-dev/wcos/safetensors"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

func testConfig(t *testing.T, out string) Config {
	return Config{
		Model:       testmodels.GGUF(t, testmodels.TinyDir(), "f32"),
		ModelSHA256: "test",
		Dataset:     filepath.Join(testmodels.Root(), "data", "eval", "sotu-moby-valid.jsonl"),
		Out:         out, Refactor: true, K: 4, BatchSize: 2, MaxLength: 48, MaxTokens: 48 * 9,
		CheckpointRows: 1, Exact: true,
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResumeAndMergeAreExact: a run killed after a checkpoint and restarted, and two shards merged,
// give summaries byte-identical to one uninterrupted run.
func TestResumeAndMergeAreExact(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if _, err := Run(testConfig(t, full)); err != nil {
		t.Fatal(err)
	}
	want := readBytes(t, filepath.Join(full, "summary.safetensors"))

	for _, stop := range []int{1, 4, 5} {
		out := filepath.Join(dir, "resumed")
		cfg := testConfig(t, out)
		cfg.stopAfter = stop
		if _, err := Run(cfg); !errors.Is(err, errStopped) {
			t.Fatalf("stop after %d: %v", stop, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("stop after %d: output exists after an interrupted run", stop)
		}
		cfg.stopAfter = 0
		if _, err := Run(cfg); err != nil {
			t.Fatal(err)
		}
		if got := readBytes(t, filepath.Join(out, "summary.safetensors")); !bytes.Equal(got, want) {
			t.Errorf("stop after %d rows and resume: summary differs from the uninterrupted run", stop)
		}
		if _, err := os.Stat(out + ".partial"); err == nil {
			t.Errorf("stop after %d: checkpoint folder left behind", stop)
		}
		os.RemoveAll(out)
	}

	var parts []*Summary
	for i := 1; i >= 0; i-- { // merge order must not matter
		cfg := testConfig(t, filepath.Join(dir, "shard"+string(rune('0'+i))))
		cfg.Shard, cfg.NShards = i, 2
		s, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Read(filepath.Join(cfg.Out, "summary.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if back.Tokens != s.Tokens {
			t.Fatalf("read back %d tokens, wrote %d", back.Tokens, s.Tokens)
		}
		parts = append(parts, back)
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(dir, "merged.safetensors")
	if err := merged.Write(mp); err != nil {
		t.Fatal(err)
	}
	if got := readBytes(t, mp); !bytes.Equal(got, want) {
		t.Errorf("merged shards differ from the single run (%d vs %d tokens)", merged.Tokens, parts[0].Tokens+parts[1].Tokens)
	}

	// Merges that would count rows twice, or mix runs over other tokens, are refused.
	third := *parts[0]
	third.Meta = maps.Clone(parts[0].Meta)
	third.Meta["shard"] = "0/3"
	tokens := *parts[0]
	tokens.Meta = maps.Clone(parts[0].Meta)
	tokens.Meta["max_tokens"] = "1"
	for _, c := range []struct {
		name  string
		parts []*Summary
		want  string
	}{
		{"a shard twice", []*Summary{parts[0], parts[1], parts[0]}, "which another summary holds too"},
		{"a complete merge (0/1) and one of its shards", []*Summary{merged, parts[1]}, "different splits"},
		{"shards of other splits", []*Summary{parts[1], &third}, "different splits"},
		{"other --max-tokens", []*Summary{parts[1], &tokens}, "max_tokens"},
	} {
		if _, err := Merge(c.parts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge %s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestQuadrantMapping(t *testing.T) {
	// q: 0 gate+in+, 1 gate+in-, 2 gate-in+, 3 gate-in-; post = sign(gate)·sign(in).
	cases := []struct {
		gate, post int
		want       [4]bool
	}{
		{0, 0, [4]bool{true, true, true, true}},
		{1, 0, [4]bool{true, true, false, false}},
		{-1, 0, [4]bool{false, false, true, true}},
		{1, 1, [4]bool{true, false, false, false}},
		{1, -1, [4]bool{false, true, false, false}},
		{-1, 1, [4]bool{false, false, false, true}},
		{-1, -1, [4]bool{false, false, true, false}},
		{0, 1, [4]bool{true, false, false, true}},
		{0, -1, [4]bool{false, true, true, false}},
	}
	for _, c := range cases {
		for q := 0; q < 4; q++ {
			if got := quadrantMatches(q, c.gate, c.post); got != c.want[q] {
				t.Errorf("gate %+d post %+d quadrant %s: %v, want %v", c.gate, c.post, Quadrants[q], got, c.want[q])
			}
		}
	}
}

// TestMeansMatchReference: means of post over the reference's 4×64 tokens, from a freqs pass, equal
// the reference's ablate.mean_values (plain means, raw convention) with and without refactoring.
func TestMeansMatchReference(t *testing.T) {
	ref, err := safetensors.Open(testmodels.Fixture("tiny-olmo-reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dir := t.TempDir()
	ds := testmodels.ReferenceDataset(t, dir)
	for _, refactor := range []bool{false, true} {
		cfg := testConfig(t, filepath.Join(dir, fmt.Sprint("out", refactor)))
		cfg.Dataset, cfg.MaxLength, cfg.MaxTokens, cfg.BatchSize, cfg.Refactor = ds, 64, 0, 4, refactor
		s, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []int{5, 7} {
			want, _ := ref.Float32(fmt.Sprintf("ablate.mean_values.%d", l))
			first := map[int]int{5: 0, 7: 100}[l]
			layers, neurons := make([]int, 10), make([]int, 10)
			for i := range neurons {
				layers[i], neurons[i] = l, first+i
			}
			got, err := s.MeanValues(layers, neurons, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Errorf("refactor=%v neuron %d.%d: mean %.7g, reference %.7g", refactor, l, neurons[i], got[i], want[i])
				}
			}
		}
	}
}

// TestResumeRefusesOtherInputs: a checkpoint is resumed only by a run with the inputs it was made
// with; a run with any other input, or over a checkpoint that cannot be used, fails with one line
// naming the checkpoint and the difference, and leaves the checkpoint (and --out) as they were. The
// original inputs still resume it, also from a checkpoint of the earlier run_key format, to a summary
// byte-identical to an uninterrupted run's.
func TestResumeRefusesOtherInputs(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if _, err := Run(testConfig(t, full)); err != nil {
		t.Fatal(err)
	}
	want := readBytes(t, filepath.Join(full, "summary.safetensors"))

	out := filepath.Join(dir, "out")
	base := testConfig(t, out)
	base.stopAfter = 4
	if _, err := Run(base); !errors.Is(err, errStopped) {
		t.Fatal(err)
	}
	base.stopAfter = 0
	ckpt := filepath.Join(out+".partial", "checkpoint.safetensors")
	saved := readBytes(t, ckpt)

	// Data sets: the evaluation text's rows in reverse order (other rows, as many), and one short row
	// (it ends before the rows done).
	lines := strings.Split(strings.TrimSpace(string(readBytes(t, base.Dataset))), "\n")
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	reversed, short := filepath.Join(dir, "reversed.jsonl"), filepath.Join(dir, "short.jsonl")
	if err := os.WriteFile(reversed, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte(`{"text": "A different text."}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Checkpoint files in other forms, made from the saved one.
	rewrite := func(name string, edit func(s *Summary) string) []byte { // edit returns the format
		s, err := Read(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		format := edit(s)
		p := filepath.Join(dir, name+".safetensors")
		if err := s.write(p, format); err != nil {
			t.Fatal(err)
		}
		return readBytes(t, p)
	}
	legacy := func(key string) func(s *Summary) string {
		return func(s *Summary) string {
			for k := range s.Meta {
				if strings.HasPrefix(k, "input.") {
					delete(s.Meta, k)
				}
			}
			s.Meta["run_key"] = key
			return summaryFormat
		}
	}
	entropyCkpt := filepath.Join(dir, "entropy.safetensors")
	if err := safetensors.Write(entropyCkpt, []safetensors.Tensor{safetensors.I32("x", []int64{1}, []int32{1})},
		map[string]string{"format": "wcos entropy checkpoint v1"}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, want string // want: how the error names the difference
		change     func(*Config)
		file       []byte // the checkpoint's content (nil: the saved one)
	}{
		{"model", "made with model sha256 test, this run has model sha256 abab", func(c *Config) { c.ModelSHA256 = strings.Repeat("ab", 32) }, nil},
		{"dataset other rows", "--dataset rows 4 rows", func(c *Config) { c.Dataset = reversed }, nil},
		{"dataset fewer rows", "this run has --dataset rows 1 rows", func(c *Config) { c.Dataset = short }, nil},
		{"refactor", "--refactor true, this run has --refactor false", func(c *Config) { c.Refactor = false }, nil},
		{"k", "--k 4, this run has --k 3", func(c *Config) { c.K = 3 }, nil},
		{"exact", "--exact true, this run has --exact false", func(c *Config) { c.Exact = false }, nil},
		{"batch size", "--batch-size 2, this run has --batch-size 3", func(c *Config) { c.BatchSize = 3 }, nil},
		{"max length", "--max-length 48, this run has --max-length 32", func(c *Config) { c.MaxLength = 32 }, nil},
		{"max tokens", "--max-tokens 432, this run has --max-tokens 384", func(c *Config) { c.MaxTokens = 48 * 8 }, nil},
		{"shard", "--shard 0/1, this run has --shard 0/2", func(c *Config) { c.NShards = 2 }, nil},
		{"gpu layers", "--gpu-layers 0, this run has --gpu-layers 3", func(c *Config) { c.GPULayers = 3 }, nil},
		{"per row", "--per-row auto, this run has --per-row on", func(c *Config) { c.PerRow = "on" }, nil},
		{"damaged", "delete " + out + ".partial", nil, []byte("not safetensors")},
		{"truncated", "delete " + out + ".partial", nil, saved[:len(saved)/2]},
		{"damaged state", "state of another shape", nil, damaged(t, ckpt, filepath.Join(dir, "damaged.safetensors"), "state.sum_hi")},
		{"entropy checkpoint", `not a wcos freqs checkpoint (format "wcos entropy checkpoint v1")`, nil, readBytes(t, entropyCkpt)},
		{"summary", "not a wcos freqs checkpoint (format \"wcos freqs summary v1", nil, want},
		{"no inputs recorded", "made with --refactor (not recorded)", nil, rewrite("noinputs", func(s *Summary) string {
			delete(s.Meta, "input.refactor")
			return checkpointFormat
		})},
		{"legacy of other inputs", "made by an earlier wcos freqs with other inputs", nil, rewrite("legacy-other", legacy("0123456789abcdef"))},
	}
	for _, tc := range cases {
		content := saved
		if tc.file != nil {
			content = tc.file
		}
		if err := os.WriteFile(ckpt, content, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := base
		if tc.change != nil {
			tc.change(&cfg)
		}
		_, err := Run(cfg)
		switch {
		case err == nil:
			t.Errorf("%s: resumed a checkpoint it must refuse", tc.name)
		case !strings.Contains(err.Error(), ckpt) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: error %q, want one line naming %s and %q", tc.name, err, ckpt, tc.want)
		case !strings.Contains(err.Error(), "delete "+out+".partial to start over"):
			t.Errorf("%s: error %q does not say how to start over", tc.name, err)
		}
		if b, err := os.ReadFile(ckpt); err != nil || !bytes.Equal(b, content) {
			t.Errorf("%s: the checkpoint changed or vanished (%v)", tc.name, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: --out was written", tc.name)
		}
	}

	// The original inputs still resume, from this format and from the earlier one (whose key Run
	// computes after its defaults).
	defaulted := base
	defaulted.NShards = 1
	for _, c := range []struct {
		name string
		file []byte
	}{{"checkpoint", saved}, {"legacy checkpoint", rewrite("legacy", legacy(legacyKey(defaulted)))}} {
		if err := os.MkdirAll(out+".partial", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ckpt, c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		cfg := base
		cfg.Progress = &log
		if _, err := Run(cfg); err != nil {
			t.Fatalf("%s: resume with its own inputs: %v", c.name, err)
		}
		if !strings.Contains(log.String(), "resuming from "+ckpt+": 4 rows") {
			t.Errorf("%s: did not resume from the checkpoint's 4 rows:\n%s", c.name, log.String())
		}
		if got := readBytes(t, filepath.Join(out, "summary.safetensors")); !bytes.Equal(got, want) {
			t.Errorf("%s: resumed summary differs from the uninterrupted run's", c.name)
		}
		if _, err := os.Stat(out + ".partial"); err == nil {
			t.Errorf("%s: checkpoint folder left behind", c.name)
		}
		os.RemoveAll(out)
	}
}

// damaged copies the safetensors file at from to to with tensor name cut to its first element.
func damaged(t *testing.T, from, to, name string) []byte {
	t.Helper()
	f, err := safetensors.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		raw, err := f.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == name {
			es, _ := safetensors.DTypeSize(info.DType)
			info.Shape, raw = []int64{1}, raw[:es]
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
	}
	if err := safetensors.Write(to, ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
	return readBytes(t, to)
}
