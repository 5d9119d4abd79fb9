package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// runNeuronsCLI runs `wcos neurons args…` in-process and returns stdout and stderr.
func runNeuronsCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errw bytes.Buffer
	app := &cli.App{Name: "wcos", Writer: &out, ErrWriter: &errw, Commands: []*cli.Command{neuronsCommand()}}
	err := app.Run(append([]string{"wcos", "neurons"}, args...))
	return out.String(), errw.String(), err
}

// tinyGolden are the tiny-olmo cases of neuronsets/testdata/golden.json: the reference's selection
// re-stated in Python on the classes of tests/fixtures/tiny-olmo-rw-golden.json.
type tinyCase struct {
	Class        string   `json:"class"`
	Subset       string   `json:"subset"`
	Name         string   `json:"name"`
	Error        string   `json:"error"`
	Neurons      []string `json:"neurons"`
	Baseline     []string `json:"baseline"`
	WarnedLayers []int    `json:"warned_layers"`
}

func tinyGolden(t *testing.T) map[[2]string]tinyCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testmodels.Root(), "neuronsets", "testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Grids map[string]struct {
			Cases []tinyCase `json:"cases"`
		} `json:"grids"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]tinyCase{}
	for _, c := range g.Grids["tiny-olmo"].Cases {
		out[[2]string{c.Class, c.Subset}] = c
	}
	if len(out) == 0 {
		t.Fatal("golden has no tiny-olmo cases")
	}
	return out
}

// setLines reads a `wcos neurons` file: its # header and its L.N lines, in order.
func setLines(t *testing.T, s string) (string, []string) {
	t.Helper()
	var header string
	var ns []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			header = l
			continue
		}
		if _, err := hooks.ParseNeuron(l); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ns = append(ns, l)
	}
	return header, ns
}

// TestCLINeurons: `wcos neurons` on the embedded tiny-olmo (classes computed from its weights) selects
// exactly the neurons of the Python re-statement of the reference, in its order, for every kind of
// subset, from the Hugging Face directory and from a GGUF file.
func TestCLINeurons(t *testing.T) {
	gold := tinyGolden(t)
	gguf := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		model    string
		set      string
		nNeurons string
		baseline bool
		key      [2]string // golden case: class, subset
	}{
		{"whole class", testmodels.TinyDir(), "weakening", "", false, [2]string{"weakening", "None"}},
		{"whole class baseline", testmodels.TinyDir(), "weakening", "", true, [2]string{"weakening", "None"}},
		{"whole class from GGUF", gguf, "weakening", "", true, [2]string{"weakening", "None"}},
		{"count", "", "atypical_proportional_change", "2", false, [2]string{"atypical proportional change", "2"}},
		{"count baseline", "", "aPC", "2", true, [2]string{"atypical proportional change", "2"}},
		{"fraction", "", "atypical proportional change", "0.5", true, [2]string{"atypical proportional change", "0.5"}},
		{"fraction 1.0", "", "weakening", "1.0", false, [2]string{"weakening", "1.0"}},
		{"size of a class", "", "atypical proportional change", "weakening", true, [2]string{"atypical proportional change", "weakening"}},
		{"size of a class == |class|", "", "proportional change", "weakening", true, [2]string{"proportional change", "weakening"}},
		{"count == |class|", "", "weakening", "3", false, [2]string{"weakening", "3"}},
		{"half rule: all others", "", "orthogonal output", "", true, [2]string{"orthogonal output", "None"}},
		{"large subset", gguf, "orthogonal_output", "24", false, [2]string{"orthogonal output", "24"}},
	} {
		g, ok := gold[c.key]
		if !ok || g.Error != "" {
			t.Fatalf("%s: no golden set for %v", c.name, c.key)
		}
		want, wantName := g.Neurons, g.Name
		if c.baseline {
			want, wantName = g.Baseline, g.Name+"_baseline"
		}
		args := []string{"--set", c.set}
		if c.model != "" {
			args = append(args, "--model", c.model)
		}
		if c.nNeurons != "" {
			args = append(args, "--n-neurons", c.nNeurons)
		}
		if c.baseline {
			args = append(args, "--baseline")
		}
		file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".txt")
		stdout, stderr, err := runNeuronsCLI(t, append(args, "-o", file)...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if stdout != "" {
			t.Errorf("%s: stdout %q with -o", c.name, stdout)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		header, got := setLines(t, string(b))
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, reference %v", c.name, head(got), head(want))
		}
		if !strings.HasPrefix(header, "# "+wantName+": ") {
			t.Errorf("%s: header %q, want the name %q", c.name, header, wantName)
		}
		// stderr: the reference's warnings, then one summary line with per-layer counts.
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		warn := 0
		if c.baseline {
			warn = len(g.WarnedLayers)
		}
		if len(lines) != warn+1 || !strings.HasPrefix(lines[warn], wantName+": ") || !strings.Contains(lines[warn], "per layer 0:") {
			t.Errorf("%s: stderr %q; want %d warnings and a summary line for %q", c.name, stderr, warn, wantName)
		}
		// The file is what --neurons @FILE reads.
		parsed, err := hooks.ParseNeurons("@" + file)
		if err != nil || len(parsed) != len(want) {
			t.Errorf("%s: @FILE reads %d neurons, %v", c.name, len(parsed), err)
		}
	}

	// Without -o the set goes to stdout.
	stdout, _, err := runNeuronsCLI(t, "--set", "weakening")
	if _, got := setLines(t, stdout); err != nil || !slices.Equal(got, gold[[2]string{"weakening", "None"}].Neurons) {
		t.Errorf("stdout: %q, %v", stdout, err)
	}
}

func head(s []string) []string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// TestCLINeuronsBad: bad sets fail with a one-line error naming the flag and the problem, and write
// no file.
func TestCLINeuronsBad(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown class", []string{"--set", "weaknig"}, []string{"--set", `"weaknig"`, "conditional weakening", "atypical strengthening"}},
		{"neuron list", []string{"--set", "3.15"}, []string{"--set", "3.15", "class name"}},
		{"subset larger than the class", []string{"--set", "weakening", "--n-neurons", "4"}, []string{"--set", "only 3 neurons", "4"}},
		{"size class larger", []string{"--set", "weakening", "--n-neurons", "atypical_proportional_change"}, []string{"only 3 neurons", "4"}},
		{"fraction outside (0,1]", []string{"--set", "weakening", "--n-neurons", "1.5"}, []string{"--n-neurons", "1.5", "(0, 1]"}},
		{"fraction of 0 neurons", []string{"--set", "weakening", "--n-neurons", "0.1"}, []string{"selects 0", "weakening"}},
		{"class absent from the model", []string{"--set", "strengthening"}, []string{"strengthening", "no neurons"}},
		{"bad size class", []string{"--set", "weakening", "--n-neurons", "strong"}, []string{"--n-neurons", `"strong"`}},
		{"baseline impossible", []string{"--set", "orthogonal output", "--n-neurons", "24", "--baseline"}, []string{"baseline", "layer", "outside class orthogonal output"}},
		// Every neuron of the untied fixture is orthogonal output: no neuron is left for a baseline.
		{"baseline empty", []string{"--model", testmodels.UntiedDir(), "--set", "orthogonal output", "--baseline"}, []string{"--set", "baseline of orthogonal output is empty"}},
	} {
		file := filepath.Join(dir, "out.txt")
		_, _, err := runNeuronsCLI(t, append(c.args, "-o", file)...)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		t.Logf("%-30s wcos: %s", c.name, msg)
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: error not one line: %q", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", c.name, msg, w)
			}
		}
		if _, err := os.Stat(file); err == nil {
			t.Errorf("%s: %s written", c.name, file)
		}
	}
}

// TestCLIEntropyNamedSet: `wcos entropy --neurons CLASS` ablates the set `wcos neurons` writes, records
// it in run.json, and refuses bad class names before any output.
func TestCLIEntropyNamedSet(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	ds := writeFile(t, filepath.Join(dir, "d.jsonl"), goodRows)
	gold := tinyGolden(t)[[2]string{"atypical proportional change", "weakening"}]
	out := filepath.Join(dir, "e")
	if err := runCLI(t, "entropy", "--model", model, "--dataset", ds, "--max-length", "32", "--threads", "2",
		"--neurons", "atypical_proportional_change", "--n-neurons", "weakening", "--baseline", "--gate", "-", "--post", "+", "--out", out); err != nil {
		t.Fatal(err)
	}
	var run struct {
		Options map[string]any `json:"options"`
	}
	b, err := os.ReadFile(filepath.Join(out, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	o := run.Options
	var list []string
	for _, v := range o["neuron_list"].([]any) {
		list = append(list, v.(string))
	}
	if o["neuron_set"] != "atypical proportional change_weakening_baseline_gate-_post+" || o["neuron_set_size"] != float64(len(gold.Baseline)) ||
		!slices.Equal(list, gold.Baseline) || o["neurons"] != "atypical_proportional_change" || o["baseline"] != true {
		t.Errorf("run.json options: %v; want the baseline %v", o, gold.Baseline)
	}
	var sum struct {
		Ablated int `json:"ablated_neurons"`
	}
	b, _ = os.ReadFile(filepath.Join(out, "summary.json"))
	if json.Unmarshal(b, &sum); sum.Ablated != len(gold.Baseline) {
		t.Errorf("summary.json: %s", b)
	}

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown class", []string{"--neurons", "weaknig"}, []string{"--neurons", `"weaknig"`, "conditional weakening"}},
		{"--n-neurons with a list", []string{"--neurons", "5.1", "--n-neurons", "2"}, []string{"--n-neurons", "class name"}},
		{"subset larger than the class", []string{"--neurons", "weakening", "--n-neurons", "24"}, []string{"--neurons", "only 3 neurons", "24"}},
	} {
		bad := filepath.Join(dir, "bad")
		err := runCLI(t, append([]string{"entropy", "--model", model, "--dataset", ds, "--out", bad}, c.args...)...)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: error not one line: %q", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", c.name, msg, w)
			}
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("%s: output folder written", c.name)
		}
	}
}

// TestResolveNeuronSet: the reusable resolver gives the named set, its name and warnings, and passes
// explicit lists through.
func TestResolveNeuronSet(t *testing.T) {
	gold := tinyGolden(t)
	for _, c := range []struct {
		neurons, nNeurons string
		baseline          bool
		wantName          string
		want              []string
		warnings          int
	}{
		{"weakening", "", false, "weakening", gold[[2]string{"weakening", "None"}].Neurons, 0},
		{"W", "2", true, "weakening2_baseline", gold[[2]string{"weakening", "2"}].Baseline, 0},
		{"orthogonal_output", "", true, "orthogonal output_baseline", gold[[2]string{"orthogonal output", "None"}].Baseline, 8},
		{"6.172,3.15", "", false, "", []string{"3.15", "6.172"}, 0},
	} {
		ns, err := resolveNeuronSet(c.neurons, c.nNeurons, c.baseline, testmodels.TinyDir(), nil)
		if err != nil {
			t.Errorf("%s %s: %v", c.neurons, c.nNeurons, err)
			continue
		}
		got := make([]string, len(ns.Neurons))
		for i, n := range ns.Neurons {
			got[i] = n.String()
		}
		if ns.Name != c.wantName || !slices.Equal(got, c.want) || len(ns.Warnings) != c.warnings {
			t.Errorf("%s %s baseline %v: %q %v %d warnings; want %q %v %d", c.neurons, c.nNeurons, c.baseline, ns.Name, head(got), len(ns.Warnings), c.wantName, head(c.want), c.warnings)
		}
	}
}
