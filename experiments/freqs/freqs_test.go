package freqs

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
	toks, _ := ref.Int32("tokens")
	dir := t.TempDir()
	var lines []string
	for r := 0; r < 4; r++ {
		b, _ := json.Marshal(map[string]any{"input_ids": toks[r*64 : (r+1)*64]})
		lines = append(lines, string(b))
	}
	ds := filepath.Join(dir, "ref.jsonl")
	if err := os.WriteFile(ds, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
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
			got := s.MeanValues(layers, neurons, 0, 0)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Errorf("refactor=%v neuron %d.%d: mean %.7g, reference %.7g", refactor, l, neurons[i], got[i], want[i])
				}
			}
		}
	}
}
