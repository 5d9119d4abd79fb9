package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPaperGridScript runs scripts/paper-grid.sh on the embedded tiny-olmo with a small grid (zero
// ablation, whole classes, two classes that exist there and one that does not), then again: the first
// run must write every run, set file and comparison and skip the missing class; the second must find
// every run done.
func TestPaperGridScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about ten entropy passes")
	}
	dir := t.TempDir()
	bin := buildWcos(t, dir)
	out := filepath.Join(dir, "grid")
	script, err := filepath.Abs("../../scripts/paper-grid.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		cmd := exec.Command("bash", script, out, "--max-tokens", "256", "--threads", "1")
		cmd.Env = append(os.Environ(), "WCOS="+bin, "ABLATIONS=zero", "SIZES=None",
			"CLASSES=weakening,proportional change,conditional weakening")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("paper-grid.sh: %v\n%s", err, b)
		}
		return string(b)
	}
	first := run()
	runs := filepath.Join(out, "runs")
	for _, d := range []string{"clean", "zero_ablation/weakening", "zero_ablation/weakening_baseline",
		"zero_ablation/proportional_change", "zero_ablation/proportional_change_baseline",
		"zero_ablation/weakening_gate+_post+", "zero_ablation/weakening_gate+_post-",
		"zero_ablation/weakening_gate-_post+", "zero_ablation/weakening_gate-_post-"} {
		if _, err := os.Stat(filepath.Join(runs, d, "metrics.safetensors")); err != nil {
			t.Errorf("run %s: %v\n%s", d, err, first)
		}
	}
	if !strings.Contains(first, "skipped "+filepath.Join(out, "sets", "conditional_weakening")+": --set: class conditional weakening has no neurons") {
		t.Errorf("the class tiny-olmo lacks was not skipped:\n%s", first)
	}
	// The sets are `wcos neurons`'s, and the runs ablate them.
	set, err := os.ReadFile(filepath.Join(out, "sets", "weakening.txt"))
	if err != nil || !strings.HasPrefix(string(set), "# weakening: 3 neurons") {
		t.Fatalf("weakening set file: %v\n%s", err, set)
	}
	rj, err := os.ReadFile(filepath.Join(runs, "zero_ablation", "weakening_gate-_post+", "run.json"))
	if err != nil || !strings.Contains(string(rj), `"neurons": "@`+filepath.Join(out, "sets", "weakening.txt")+`"`) {
		t.Errorf("run.json does not name the set file: %v\n%s", err, rj)
	}
	for exp, rows := range map[string][]string{
		"None_zero_ablation":               {"weakening", "weakening_baseline", "proportional_change", "proportional_change_baseline"},
		"weakening_complete_zero_ablation": {"weakening", "weakening_baseline", "weakening_gate+_post+", "weakening_gate+_post-", "weakening_gate-_post+", "weakening_gate-_post-"},
	} {
		md, err := os.ReadFile(filepath.Join(out, "plots", exp, "entropy.md"))
		if err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		var got []string
		for _, l := range strings.Split(string(md), "\n") {
			if f := strings.Split(l, "|"); len(f) > 2 && !strings.HasPrefix(l, "| name") && !strings.HasPrefix(l, "|---") {
				got = append(got, strings.TrimSpace(f[1]))
			}
		}
		if strings.Join(got, ",") != strings.Join(rows, ",") {
			t.Errorf("%s: sets %v, want %v", exp, got, rows)
		}
		if _, err := os.Stat(filepath.Join(out, "plots", exp, "entropy_log.png")); err != nil {
			t.Errorf("%s: %v", exp, err)
		}
	}
	if second := run(); strings.Contains(second, "run: ") {
		t.Errorf("the second run ran again:\n%s", second)
	}
}
