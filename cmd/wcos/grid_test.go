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

// TestAttributesGridScript runs scripts/attributes-grid.sh on tiny-olmo with four facts (two known),
// zero ablation, weakening at 2 neurons and whole, and a class tiny-olmo lacks, then again: the first
// run must filter the facts, write both runs with the reference's set names and their baselines and
// skip the missing class; the second must find everything done.
func TestAttributesGridScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wcos knowns and two attributes runs")
	}
	dir := t.TempDir()
	bin := buildWcos(t, dir)
	out := filepath.Join(dir, "grid")
	facts := writeFile(t, filepath.Join(dir, "facts.jsonl"), knownsFacts+
		`{"id": 2, "subject": "Austria", "relation": "continent", "template": "{} is located in the continent of", "prompt": "Austria is located in the continent of", "attribute": "Europe"}
{"id": 3, "subject": "Chad", "relation": "capital", "template": "The capital of {} is", "prompt": "The capital of Chad is", "attribute": "N'Djamena"}
`)
	script, err := filepath.Abs("../../scripts/attributes-grid.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		cmd := exec.Command("bash", script, out, "--threads", "1")
		cmd.Env = append(os.Environ(), "WCOS="+bin, "FACTS="+facts, "ABLATIONS=zero", "SIZES=2 None", "CLASSES=weakening,conditional weakening")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("attributes-grid.sh: %v\n%s", err, b)
		}
		return string(b)
	}
	first := run()
	if b, err := os.ReadFile(filepath.Join(out, "knowns", "summary.json")); err != nil || !strings.Contains(string(b), `"known": 2`) {
		t.Errorf("knowns: %s %v", b, err)
	}
	for _, c := range []struct{ dir, set string }{{"weakening2", "weakening2"}, {"weakening", "weakening"}} {
		d := filepath.Join(out, "runs", "zero_ablation", c.dir)
		b, err := os.ReadFile(filepath.Join(d, "summary.json"))
		if err != nil || !strings.Contains(string(b), `"facts_used": 2`) || !strings.Contains(string(b), `"name": "`+c.set+`_baseline"`) {
			t.Errorf("%s: summary %s %v", c.dir, b, err)
		}
		rj, err := os.ReadFile(filepath.Join(d, "run.json"))
		if err != nil || !strings.Contains(string(rj), `"neurons": "@`+filepath.Join(out, "sets", c.set+".txt")+`"`) ||
			!strings.Contains(string(rj), `"facts": "`+filepath.Join(out, "knowns", "knowns.jsonl")+`"`) {
			t.Errorf("%s: run.json %s %v", c.dir, rj, err)
		}
		if _, err := os.Stat(filepath.Join(d, "attributes_zero_ablation.png")); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(first, "skipped "+filepath.Join(out, "sets", "conditional_weakening2")+": --set: class conditional weakening has no neurons") {
		t.Errorf("the class tiny-olmo lacks was not skipped:\n%s", first)
	}
	if second := run(); strings.Contains(second, "run: ") {
		t.Errorf("the second run ran again:\n%s", second)
	}
}
