package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/testmodels"
)

const attrFacts = `{"id": 0, "subject": "Afghanistan", "relation": "capital", "prompt": "The capital of Afghanistan is", "attribute": "Kabul"}
{"id": 1, "subject": "Albania", "relation": "capital", "prompt": "The capital of Albania is", "attribute": "Tirana"}
{"id": 2, "subject": "Narnia", "relation": "capital", "prompt": "The capital of Albania is", "attribute": "Cair Paravel"}
`

// TestCLIAttributesBadInput: bad input to `wcos attributes` fails before any output is made, with one
// line naming the file or flag and the problem, and leaves an existing output folder alone.
func TestCLIAttributesBadInput(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "facts.jsonl"), attrFacts)
	missing := filepath.Join(dir, "nope.jsonl")
	badJSON := writeFile(t, filepath.Join(dir, "bad.jsonl"), attrFacts+`{"id": 3, "subject": "Chad"`+"\n")
	noPrompt := writeFile(t, filepath.Join(dir, "noprompt.jsonl"), `{"id": 0, "subject": "Chad"}`+"\n")
	dupID := writeFile(t, filepath.Join(dir, "dup.jsonl"), attrFacts+`{"id": 1, "subject": "Chad", "prompt": "Chad is"}`+"\n")
	noneFound := writeFile(t, filepath.Join(dir, "none.jsonl"), `{"id": 0, "subject": "Narnia", "prompt": "The capital of Chad is"}`+"\n")
	empty := writeFile(t, filepath.Join(dir, "empty.jsonl"), "")
	badAttrs := writeFile(t, filepath.Join(dir, "attrs.json"), `["not", "a", "map"]`)
	neurons := writeFile(t, filepath.Join(dir, "set.txt"), "5.1\n5.x\n")
	blankStop := writeFile(t, filepath.Join(dir, "stop.txt"), "\n  \n")
	noParas := writeFile(t, filepath.Join(dir, "noparas.csv"), ",subject,text\n0,Chad,x\n")
	dupSubject := writeFile(t, filepath.Join(dir, "dup.csv"), "subject,paragraphs\nChad,a\nChad,b\n")

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing facts file", []string{"--facts", missing}, []string{"--facts", missing, "no such file"}},
		{"bad JSON line", []string{"--facts", badJSON}, []string{badJSON + ":4"}},
		{"fact without a prompt", []string{"--facts", noPrompt}, []string{noPrompt + ":1", "prompt"}},
		{"duplicate fact id", []string{"--facts", dupID}, []string{dupID + ":4", "id 1", "line 2"}},
		{"no subject in its prompt", []string{"--facts", noneFound}, []string{noneFound, "none of the 1 facts"}},
		{"empty facts file", []string{"--facts", empty}, []string{empty, "no facts"}},
		{"attributes not a map", []string{"--facts", good, "--attributes", badAttrs}, []string{badAttrs, "subject"}},
		{"missing attributes file", []string{"--facts", good, "--attributes", missing}, []string{"--attributes", missing}},
		{"wiki.csv without paragraphs", []string{"--facts", good, "--attributes", noParas}, []string{noParas, "no subject and paragraphs"}},
		{"wiki.csv with a subject twice", []string{"--facts", good, "--attributes", dupSubject}, []string{dupSubject + ":3", `"Chad" appears twice`}},
		{"bad --paragraph-tokens", []string{"--facts", good, "--paragraph-tokens", "-1"}, []string{"--paragraph-tokens -1"}},
		{"unknown flag", []string{"--facts", good, "--bogus", "1"}, []string{"bogus"}},
		{"neuron out of range", []string{"--facts", good, "--neurons", "9.1"}, []string{"9.1", "8 layers", model}},
		{"malformed neurons file", []string{"--facts", good, "--neurons", "@" + neurons}, []string{neurons + ":2", "5.x"}},
		{"baseline without a set", []string{"--facts", good, "--baseline-neurons", "5.1"}, []string{"--baseline-neurons", "--neurons"}},
		{"condition without a set", []string{"--facts", good, "--gate", "+"}, []string{"--gate", "--neurons"}},
		{"bad --ablation", []string{"--facts", good, "--neurons", "5.1", "--ablation", "half"}, []string{"--ablation", `"half"`}},
		{"mean without --means", []string{"--facts", good, "--neurons", "5.1", "--ablation", "mean"}, []string{"--ablation mean", "--means"}},
		{"bad --topk", []string{"--facts", good, "--topk", "0"}, []string{"--topk 0"}},
		{"bad --batch", []string{"--facts", good, "--batch", "0"}, []string{"--batch 0"}},
		{"set named clean", []string{"--facts", good, "--neurons", "5.1", "--set-name", "clean"}, []string{`"clean"`, "reserved"}},
		{"stray argument", []string{"--facts", good, "extra"}, []string{`"extra"`}},
		{"missing stopwords file", []string{"--facts", good, "--stopwords", missing}, []string{"--stopwords", missing, "no such file", "nltk-179"}},
		{"blank stopwords file", []string{"--facts", good, "--stopwords", blankStop}, []string{"--stopwords", blankStop, "no stopwords"}},
	}
	for _, c := range cases {
		checkBadInput(t, dir, c.name, append([]string{"attributes", "--model", model, "--threads", "1"}, c.args...), c.want)
	}
}

// TestCLIAttributes runs `wcos attributes` with a set and a baseline on three facts (one skipped) and a
// stopword file, and checks the files and what summary.json and run.json say.
func TestCLIAttributes(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	facts := writeFile(t, filepath.Join(dir, "facts.jsonl"), attrFacts)
	set := writeFile(t, filepath.Join(dir, "weakening.txt"), "# a set\n5.1\n6.2\n")
	stop := writeFile(t, filepath.Join(dir, "stop.txt"), "the\n\n of \ni'm\n")
	out := filepath.Join(dir, "out")
	if err := runCLI(t, "attributes", "--model", model, "--facts", facts, "--neurons", "@"+set, "--baseline-neurons", "5.3,6.4",
		"--gate", "+", "--refactor=false", "--topk", "20", "--stopwords", stop, "--threads", "1", "--out", out); err != nil {
		t.Fatal(err)
	}
	fig := "attributes_zero_ablation_gate+_postNone"
	for _, f := range []string{"records.parquet", "records.csv", "rates_by_layer.csv", fig + ".png", fig + ".svg", "summary.json", "run.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var sum struct {
		FactsUsed int    `json:"facts_used"`
		Skipped   int    `json:"skipped_facts"`
		IDs       []int  `json:"skipped_fact_ids"`
		TopK      int    `json:"topk"`
		Stopwords string `json:"stopwords"`
		StopN     int    `json:"stopwords_words"`
		Records   int    `json:"records"`
		Sets      []struct {
			Name, Intervention string
			Neurons            int
		} `json:"sets"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.FactsUsed != 2 || sum.Skipped != 1 || !slices.Equal(sum.IDs, []int{2}) || sum.TopK != 20 || sum.Records != 2*9+2*2*8 ||
		len(sum.Sets) != 3 || sum.Sets[1].Name != "weakening" || sum.Sets[2].Name != "weakening_baseline" ||
		sum.Sets[1].Intervention != "zero_ablation_gate+_postNone" || sum.Sets[2].Neurons != 2 || sum.Stopwords != stop || sum.StopN != 3 {
		t.Errorf("summary.json: %s", b)
	}
	var run struct {
		Options map[string]any `json:"options"`
		Inputs  []struct{ Path string }
	}
	b, err = os.ReadFile(filepath.Join(out, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	hashed := slices.ContainsFunc(run.Inputs, func(in struct{ Path string }) bool { return in.Path == stop })
	if run.Options["facts"] != facts || run.Options["neurons"] != "@"+set || run.Options["gate"] != "+" || len(run.Inputs) < 3 ||
		run.Options["stopwords"] != stop || run.Options["stopwords_words"] != 3.0 || !hashed {
		t.Errorf("run.json: %s", b)
	}
}

// TestCLIAttributesHelp: the help has a description and examples.
func TestCLIAttributesHelp(t *testing.T) {
	cmd := attributesCommand()
	for _, w := range []string{"Examples:", "wcos attributes --neurons", "hook_resid_post", "rates_by_layer.csv", "--stopwords nltk-179", "198 words"} {
		if !strings.Contains(cmd.Description, w) {
			t.Errorf("help does not mention %q", w)
		}
	}
}
