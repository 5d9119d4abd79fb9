package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestCLIGenerateBadInput: bad input to `wcos generate` fails before any output is made, with one line
// naming the flag or file and the problem.
func TestCLIGenerateBadInput(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"bad --max-new-tokens", []string{"--max-new-tokens", "0"}, []string{"--max-new-tokens 0"}},
		{"bad --batch", []string{"--batch", "0"}, []string{"--batch 0"}},
		{"baseline without a set", []string{"--baseline-neurons", "5.1"}, []string{"--baseline-neurons", "--neurons"}},
		{"condition without a set", []string{"--post", "-"}, []string{"--post", "--neurons"}},
		{"bad class", []string{"--neurons", "weakish"}, []string{"--neurons", "weakish"}},
		{"neuron out of range", []string{"--neurons", "9.1"}, []string{"9.1", "8 layers"}},
		{"bad --ablation", []string{"--neurons", "5.1", "--ablation", "half"}, []string{"--ablation", `"half"`}},
		{"mean without --means", []string{"--neurons", "5.1", "--ablation", "mean"}, []string{"--ablation mean", "--means"}},
		{"set named clean", []string{"--neurons", "5.1", "--set-name", "clean"}, []string{`"clean"`, "reserved"}},
		{"stray argument", []string{"extra"}, []string{`"extra"`}},
		{"temperature 0", []string{"--sample", "--temperature", "0"}, []string{"--temperature 0"}},
		{"seed without --sample", []string{"--seed", "3"}, []string{"--seed", "--sample"}},
		{"missing prompts file", []string{"--prompts", filepath.Join(dir, "nope.txt")}, []string{"--prompts", filepath.Join(dir, "nope.txt"), "no such file"}},
		{"bad prompts JSONL", []string{"--prompts", writeFile(t, filepath.Join(dir, "p.jsonl"), `{"id": 1}`+"\n")}, []string{"p.jsonl:1", `"prompt"`}},
	} {
		checkBadInput(t, dir, c.name, append([]string{"generate", "--model", model, "--threads", "1", "--max-new-tokens", "4"}, c.args...), c.want)
	}
}

// TestCLIGenerate runs two prompts (--prompt and --prompts) clean, with a list and with a baseline
// list, and reads the outputs.
func TestCLIGenerate(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	set := writeFile(t, filepath.Join(dir, "my set.txt"), "7.1\n7.2\n7.3\n")
	out := filepath.Join(dir, "out")
	prompts := writeFile(t, filepath.Join(dir, "prompts.jsonl"), `{"prompt": ""}`+"\n") // the second prompt: BOS alone
	if err := runCLI(t, "generate", "--model", model, "--prompt", "The capital of France is", "--prompts", prompts, "--neurons", "@"+set,
		"--baseline-neurons", "6.1,6.2,6.3", "--gate", "-", "--max-new-tokens", "12", "--threads", "1", "--out", out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "generations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sets []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var g struct {
			Set, Intervention string
			Prompt            int
			Tokens            []int32 `json:"new_tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		if len(g.Tokens) == 0 || len(g.Tokens) > 12 {
			t.Errorf("%s prompt %d: %d new tokens", g.Set, g.Prompt, len(g.Tokens))
		}
		if want := "zero_ablation_gate-_postNone"; g.Set != "clean" && g.Intervention != want {
			t.Errorf("%s: intervention %q, want %q", g.Set, g.Intervention, want)
		}
		sets = append(sets, g.Set)
	}
	if want := "clean clean my set my set my set_baseline my set_baseline"; strings.Join(sets, " ") != want {
		t.Errorf("sets %q, want %q", strings.Join(sets, " "), want)
	}
	for _, p := range []string{"clean", "my_set", "my_set_baseline"} {
		b, err := os.ReadFile(filepath.Join(out, p, "generated_greedy.txt"))
		if err != nil || !strings.HasPrefix(string(b), "The capital of France is") || !strings.Contains(string(b), "=== prompt 1 ===") {
			t.Errorf("%s/generated_greedy.txt: %q %v", p, b, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "run.json"))
	if err != nil || !strings.Contains(string(b), `"max_new_tokens": 12`) || !strings.Contains(string(b), `"gate": "-"`) ||
		!strings.Contains(string(b), `"path": "`+prompts+`"`) {
		t.Errorf("run.json: %s %v", b, err)
	}
}

func TestCLIGenerateHelp(t *testing.T) {
	cmd := generateCommand()
	for _, w := range []string{"Examples:", "generate.py", "generations.jsonl", "generated_greedy.txt", "--n-neurons"} {
		if !strings.Contains(cmd.Description, w) {
			t.Errorf("help does not mention %q", w)
		}
	}
}

// TestCLIGenerateSampling: a seed repeats its texts, another seed changes them, and the text files are
// named as the reference's (generated_full.txt at temperature 1).
func TestCLIGenerateSampling(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	texts := map[string]string{}
	for _, c := range []struct {
		name, file string
		args       []string
	}{
		{"seed 3", "generated_full.txt", []string{"--seed", "3"}},
		{"seed 3 again", "generated_full.txt", []string{"--seed", "3"}},
		{"seed 4", "generated_full.txt", []string{"--seed", "4"}},
		{"seed 3, T 0.5", "generated_t0.5.txt", []string{"--seed", "3", "--temperature", "0.5"}},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		args := append([]string{"generate", "--model", model, "--neurons", "7.1,7.2", "--sample", "--max-new-tokens", "30", "--threads", "1", "--out", out}, c.args...)
		if err := runCLI(t, args...); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := os.ReadFile(filepath.Join(out, "set", c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		texts[c.name] = string(b)
	}
	if texts["seed 3"] != texts["seed 3 again"] || texts["seed 3"] == texts["seed 4"] || texts["seed 3"] == texts["seed 3, T 0.5"] {
		t.Errorf("texts by seed and temperature: %q", texts)
	}
}
