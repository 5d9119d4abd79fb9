package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// runClassesCLI runs `wcos classes args…` in-process (main.go registers the command; this test only
// needs the command itself).
func runClassesCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "wcos", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{classesCommand()}}
	err := app.Run(append([]string{"wcos", "classes"}, args...))
	return out.String(), err
}

func TestClassesCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	out, err := runClassesCLI(t, "--model", testmodels.TinyDir(), "--layers", "2-3", "--region", "sampled", "--samples", "20000", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log("\n" + out)
	for _, want := range []string{"orthogonal output", "atypical proportional change", "wrote " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	var sum struct {
		Layers  []int `json:"layers"`
		Neurons int   `json:"neurons"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Neurons != 2*688 || len(sum.Layers) != 2 {
		t.Errorf("summary.json: %+v %v", sum, err)
	}
	var reg struct {
		Mode   string `json:"mode"`
		Layers []struct {
			SE *struct{} `json:"se"`
		} `json:"layers"`
	}
	b, _ = os.ReadFile(filepath.Join(dir, "regions.json"))
	if err := json.Unmarshal(b, &reg); err != nil || reg.Mode != "sampled" || len(reg.Layers) != 2 || reg.Layers[0].SE == nil {
		t.Errorf("regions.json: %s", b)
	}
	var run struct {
		Model struct {
			SHA256 string `json:"sha256"`
		} `json:"model"`
	}
	b, _ = os.ReadFile(filepath.Join(dir, "run.json"))
	if err := json.Unmarshal(b, &run); err != nil || len(run.Model.SHA256) != 64 {
		t.Errorf("run.json lacks the model hash: %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "fine.svg")); err != nil {
		t.Error(err)
	}
}

// TestClassesCLIErrors: bad input gives a one-line error naming the file and leaves no output folder.
func TestClassesCLIErrors(t *testing.T) {
	tmp := t.TempDir()
	junk := filepath.Join(tmp, "junk.gguf")
	os.WriteFile(junk, []byte("GGUF but not really"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing model", []string{"--model", filepath.Join(tmp, "missing")}, "missing"},
		{"junk gguf", []string{"--model", junk}, "junk.gguf"},
		{"bad layers", []string{"--model", testmodels.TinyDir(), "--layers", "9"}, "layer 9"},
		{"bad weights", []string{"--weights", "tlx"}, "--weights"},
		{"bad region", []string{"--region", "all"}, "--region"},
		{"bad threshold", []string{"--model", testmodels.TinyDir(), "--threshold", "1.5"}, "threshold"},
		{"unknown paper model", []string{"--paper", "OLMo-8B"}, "allenai/OLMo-7B-0424-hf"},
		{"paper model of another shape", []string{"--model", testmodels.TinyDir(), "--region", "none", "--paper", "allenai/OLMo-7B-0424-hf"}, "352256 neurons"},
	} {
		dir := filepath.Join(tmp, "out-"+strings.ReplaceAll(c.name, " ", "-"))
		out, err := runClassesCLI(t, append(c.args, "--out", dir)...)
		if err == nil {
			t.Errorf("%s: no error:\n%s", c.name, out)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line with %q", c.name, msg, c.want)
		}
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			if strings.Contains(e.Name(), "out-") {
				t.Errorf("%s: left %s behind", c.name, e.Name())
			}
		}
	}
}

// TestClassesPaperAuto: a model whose folder is named like one of the paper's models but has another
// shape runs with a note that it was not compared; the folder name of tiny-olmo compares with nothing.
func TestClassesPaperAuto(t *testing.T) {
	tmp := t.TempDir()
	named := filepath.Join(tmp, "OLMo-1B-hf")
	if err := os.Symlink(testmodels.TinyDir(), named); err != nil {
		t.Fatal(err)
	}
	out, err := runClassesCLI(t, "--model", named, "--region", "none", "--no-figures", "--out", filepath.Join(tmp, "out"))
	if err != nil || !strings.Contains(out, "not compared with the paper: allenai/OLMo-1B-hf has 131072 neurons in 16 layers") {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "out", "paper.csv")); err == nil {
		t.Error("paper.csv written for a model of another shape")
	}
}

func TestClassesHelp(t *testing.T) {
	out, err := runClassesCLI(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Examples:", "--region", "--weights", "--refactor", "--layers"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestMediansCLI: `wcos medians` over two `wcos classes` runs (tiny-olmo and the untied fixture) writes
// the table, the figure and run.json with both inputs hashed; options after the folders and a folder
// that is not a classes run are one-line errors that leave no output folder.
func TestMediansCLI(t *testing.T) {
	tmp := t.TempDir()
	runs := []string{filepath.Join(tmp, "tiny-olmo"), filepath.Join(tmp, "untied")}
	for i, model := range []string{testmodels.TinyDir(), testmodels.UntiedDir()} {
		if out, err := runClassesCLI(t, "--model", model, "--region", "none", "--no-figures", "--out", runs[i]); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	medians := func(args ...string) (string, error) {
		var out bytes.Buffer
		app := &cli.App{Name: "wcos", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{mediansCommand()}}
		err := app.Run(append([]string{"wcos", "medians"}, args...))
		return out.String(), err
	}
	dir := filepath.Join(tmp, "medians")
	out, err := medians(append([]string{"--out", dir}, runs...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log("\n" + out)
	if !strings.Contains(out, "tiny-olmo                     8     5504") {
		t.Errorf("summary lacks tiny-olmo's 8 layers of 688 neurons:\n%s", out)
	}
	for _, f := range []string{"medians.csv", "medians.md", "medians_linout.png", "medians_linout.svg", "run.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "run.json"))
	if !strings.Contains(string(b), "untied/neurons.csv") || strings.Count(string(b), `"sha256"`) < 4 {
		t.Errorf("run.json lacks the hashed inputs:\n%s", b)
	}
	for i, args := range [][]string{
		{runs[0], "--cos", "gateout"}, // options after the folders
		{runs[0], tmp},                // not a classes run
		{"--cos", "norm", runs[0]},
	} {
		bad := filepath.Join(tmp, fmt.Sprint("bad", i))
		if out, err := medians(append([]string{"--out", bad}, args...)...); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v\n%s", args, err, out)
		}
		if _, err := os.Stat(bad); !os.IsNotExist(err) {
			t.Errorf("%v: left %s", args, bad)
		}
	}
}

// TestClassesResume: a checkpoint that an interrupted run left in OUT.partial (here layer 2 of
// tiny-olmo, made through the package) is resumed: the outputs equal a run without it, and the
// checkpoint is removed. A checkpoint made with another --seed is refused and left as it is.
func TestClassesResume(t *testing.T) {
	defer func(d time.Duration) { saveEvery = d }(saveEvery)
	saveEvery = 0
	tmp := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"--model", testmodels.TinyDir(), "--layers", "2-3", "--region", "sampled", "--samples", "2000",
			"--no-figures", "--out", out}, extra...)
	}
	fresh := filepath.Join(tmp, "fresh")
	if out, err := runClassesCLI(t, args(fresh)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(fresh + ".partial"); !os.IsNotExist(err) {
		t.Errorf("a finished run left %s.partial", fresh)
	}

	resumed := filepath.Join(tmp, "resumed")
	fi, err := runinfo.Hash(testmodels.TinyDir())
	if err != nil {
		t.Fatal(err)
	}
	o := classes.DefaultOptions()
	o.Region, o.Samples, o.Layers = classes.RegionSampled, 2000, []int{2}
	src, err := classes.Open(testmodels.TinyDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ck := classes.NewCheckpoint(resumed, fi.SHA256, o)
	o.AfterLayer = func(lr classes.LayerResult) error { ck.Add(lr); return ck.Save() }
	if _, err := classes.Compute(src, o); err != nil {
		t.Fatal(err)
	}
	if out, err := runClassesCLI(t, args(resumed, "--seed", "2")...); err == nil || !strings.Contains(err.Error(), "--seed") {
		t.Errorf("--seed 2 resumed a seed-1 checkpoint: %v\n%s", err, out)
	}
	if _, err := os.Stat(ck.Path); err != nil {
		t.Fatalf("the refused checkpoint is gone: %v", err)
	}
	if out, err := runClassesCLI(t, args(resumed)...); err != nil || !strings.Contains(out, "with 1 layers done") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	for _, f := range []string{"neurons.csv", "layer_counts.csv", "regions.json"} {
		a, _ := os.ReadFile(filepath.Join(fresh, f))
		b, _ := os.ReadFile(filepath.Join(resumed, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the resumed run and a fresh one", f)
		}
	}
	if _, err := os.Stat(resumed + ".partial"); !os.IsNotExist(err) {
		t.Errorf("the resumed run left %s.partial", resumed)
	}
}
