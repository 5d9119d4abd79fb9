package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/safetensors"
)

// writeMetrics writes a small wcos entropy output folder: 2 rows of 3 and 2 tokens, every metric
// value v (scale e^v), the rest padding.
func writeMetrics(t *testing.T, dir string, v float32, lengths []int32) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n, w := len(lengths), int64(3)
	f := make([]float32, int64(n)*w)
	r := make([]int32, int64(n)*w)
	s := make([]float32, int64(n)*w)
	for i := range f {
		f[i], r[i], s[i] = v, int32(v), float32(2*v+1)
	}
	shape := []int64{int64(n), w}
	err := safetensors.Write(filepath.Join(dir, "metrics.safetensors"), []safetensors.Tensor{
		safetensors.F32("entropy", shape, f), safetensors.F32("loss", shape, f), safetensors.I32("rank", shape, r),
		safetensors.F32("scale", shape, s), safetensors.I32("lengths", []int64{int64(n)}, lengths)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// runCompareCLI runs `wcos compare args…` in-process and returns what it printed.
func runCompareCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(append([]string{"wcos", "compare"}, args...))
	return out.String(), err
}

// TestCLICompare: options before and after the run folders, the table on stdout, the files.
func TestCLICompare(t *testing.T) {
	dir := t.TempDir()
	clean := writeMetrics(t, filepath.Join(dir, "clean"), 1, []int32{3, 2})
	a := writeMetrics(t, filepath.Join(dir, "weakening_gate-_post+"), 3, []int32{3, 2})
	b := writeMetrics(t, filepath.Join(dir, "baseline"), 1, []int32{3, 2})
	short := writeMetrics(t, filepath.Join(dir, "short"), 3, []int32{3})
	for _, tc := range []struct {
		name, out string
		args      []string
		files     []string
		want      []string
	}{
		{"options first", "o1", []string{"--clean", clean, "--out", filepath.Join(dir, "o1"), a, b},
			[]string{"entropy.md", "loss.csv", "rank_log.png", "log_scale_log.svg", "summary.json", "run.json"},
			[]string{"| weakening_gate-_post+ | 5 | 5 | -2 | -2 |", "| baseline | 5 | 0 | 0 |", "loss(clean) - loss(ablated)", "| weakening_gate-_post+ | 3 | 3 | -2 |"}},
		{"options after the folders", "o2", []string{"--clean", clean, a, b, "--names", "w,base", "--metrics", "entropy", "--changed-only", "--log=false", "--pdf", "--out", filepath.Join(dir, "o2")},
			[]string{"entropy.md", "entropy.png", "entropy.pdf"},
			[]string{"| w | 5 | 5 | -2 |", "| base | 5 | 0 | - |", "changed tokens only"}},
		{"a shorter run, truncated", "o3", []string{"--clean", clean, "--truncate", "--metrics", "entropy", "--out", filepath.Join(dir, "o3"), short},
			[]string{"entropy.md"},
			[]string{"| short | 3 | 3 | -2 |"}},
	} {
		out, err := runCompareCLI(t, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		for _, f := range tc.files {
			if _, err := os.Stat(filepath.Join(dir, tc.out, f)); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	}
}

// TestCLICompareBadInput: bad inputs fail with one line naming the folder or flag and the problem, and
// make no output folder; the real binary exits with status 1.
func TestCLICompareBadInput(t *testing.T) {
	dir := t.TempDir()
	clean := writeMetrics(t, filepath.Join(dir, "clean"), 1, []int32{3, 2})
	good := writeMetrics(t, filepath.Join(dir, "good"), 2, []int32{3, 2})
	other := writeMetrics(t, filepath.Join(dir, "other"), 2, []int32{3, 1})
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	out := filepath.Join(dir, "out")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"not an entropy folder", []string{"--clean", clean, empty}, []string{empty, "no metrics.safetensors"}},
		{"other rows", []string{"--clean", clean, good, other}, []string{other, "row 1 has 1 tokens", clean}},
		{"no --clean", []string{good}, []string{"clean"}},
		{"no runs", []string{"--clean", clean}, []string{"no ablated run folders"}},
		{"bad --bins", []string{"--clean", clean, "--bins", "0", good}, []string{"--bins 0"}},
		{"bad --metrics", []string{"--clean", clean, "--metrics", "entropy,ppl", good}, []string{"--metrics", `"ppl"`}},
		{"--names count", []string{"--clean", clean, "--names", "a,b", good}, []string{"--names", "2 names for 1 runs"}},
	}
	for _, c := range cases {
		_, err := runCompareCLI(t, append(c.args, "--out", out)...)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := oneLine(err)
		t.Logf("%-24s wcos: %s", c.name, msg)
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error not one line: %q", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", c.name, msg, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output folder made", c.name)
		}
	}
	if testing.Short() {
		return
	}
	bin := buildWcos(t, dir)
	cmd := exec.Command(bin, "compare", "--clean", clean, empty, "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Errorf("wcos compare with a bad folder: %v, want exit status 1", err)
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "wcos: ") || !strings.Contains(msg, empty) {
		t.Errorf("stderr %q, want one line naming %s", msg, empty)
	}
}

// TestWithBaselines: a listed run's existing _baseline folder joins right after it, once.
func TestWithBaselines(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"w", "w_baseline", "cw", "x_baseline", "f_baseline"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "f"), "a file")
	p := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(dir, n))
		}
		return out
	}
	cases := []struct {
		name      string
		runs, out []string
	}{
		{"added after its run", p("cw", "w"), p("cw", "w", "w_baseline")},
		{"already listed", p("w_baseline", "w"), p("w_baseline", "w")},
		{"trailing slash", []string{filepath.Join(dir, "w") + "/"}, []string{filepath.Join(dir, "w") + "/", filepath.Join(dir, "w_baseline")}},
		{"no baseline folder", p("cw"), p("cw")},
		{"baseline of a baseline not added", p("w_baseline"), p("w_baseline")},
	}
	for _, c := range cases {
		if got := withBaselines(c.runs); !slices.Equal(got, c.out) {
			t.Errorf("%s: withBaselines(%v) = %v, want %v", c.name, c.runs, got, c.out)
		}
	}
}
