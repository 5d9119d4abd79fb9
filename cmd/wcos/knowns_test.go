package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/testmodels"
)

const knownsFacts = `{"id": 0, "subject": "Albania", "relation": "continent", "template": "{} is located in the continent of", "prompt": "Albania is located in the continent of", "attribute": "Europe"}
{"id": 1, "subject": "Afghanistan", "relation": "capital", "template": "The capital of {} is", "prompt": "The capital of Afghanistan is", "attribute": "Kabul"}
`

// TestCLIKnownsBadInput: bad input to `wcos knowns` fails before any output is made, with one line
// naming the file or flag and the problem.
func TestCLIKnownsBadInput(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "facts.jsonl"), knownsFacts)
	missing := filepath.Join(dir, "nope.jsonl")
	noTemplate := writeFile(t, filepath.Join(dir, "notemplate.jsonl"), `{"id": 4, "subject": "Chad", "prompt": "Chad is", "attribute": "Africa"}`+"\n")
	badArray := writeFile(t, filepath.Join(dir, "known_1000.json"), `[{"known_id": 0, "subject": "Chad"`)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing facts file", []string{"--facts", missing}, []string{"--facts", missing, "no such file"}},
		{"fact without a template", []string{"--facts", noTemplate}, []string{noTemplate, "fact 4", "template"}},
		{"broken JSON array", []string{"--facts", badArray}, []string{badArray, "JSON"}},
		{"bad --max-tokens", []string{"--facts", good, "--max-tokens", "0"}, []string{"--max-tokens 0"}},
		{"bad --batch", []string{"--facts", good, "--batch", "-2"}, []string{"--batch -2"}},
		{"missing model", []string{"--facts", good, "--model", missing}, []string{missing}},
		{"stray argument", []string{"--facts", good, "extra"}, []string{`"extra"`}},
	} {
		checkBadInput(t, dir, c.name, append([]string{"knowns", "--model", model, "--threads", "1"}, c.args...), c.want)
	}
}

// TestCLIKnowns runs `wcos knowns` on two facts (tiny-olmo says Europe and no Kabul) and feeds its
// knowns.jsonl to `wcos attributes`.
func TestCLIKnowns(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	facts := writeFile(t, filepath.Join(dir, "facts.jsonl"), knownsFacts)
	out := filepath.Join(dir, "knowns")
	if err := runCLI(t, "knowns", "--model", model, "--facts", facts, "--threads", "1", "--out", out); err != nil {
		t.Fatal(err)
	}
	var sum struct{ Facts, Known, Unknown, Undecided int }
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Facts != 2 || sum.Known != 1 || sum.Unknown != 1 {
		t.Errorf("summary %+v: want 2 facts, 1 known, 1 unknown", sum)
	}
	kn, err := os.ReadFile(filepath.Join(out, "knowns.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kn), `"prompt":" Albania is located in the continent of "`) || !strings.Contains(string(kn), `"prediction":"Europe`) {
		t.Errorf("knowns.jsonl: %s", kn)
	}
	rj, err := os.ReadFile(filepath.Join(out, "rejected.jsonl"))
	if err != nil || !strings.Contains(string(rj), `"reason":"unknown"`) {
		t.Errorf("rejected.jsonl: %s %v", rj, err)
	}
	var run struct {
		Options map[string]any `json:"options"`
		Inputs  []struct {
			Path string `json:"path"`
		} `json:"inputs"`
	}
	if b, err = os.ReadFile(filepath.Join(out, "run.json")); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &run); err != nil || run.Options["max_tokens"] != float64(100) || len(run.Inputs) != 1 {
		t.Errorf("run.json: %s (%v)", b, err)
	}
	attr := filepath.Join(dir, "attr")
	if err := runCLI(t, "attributes", "--model", model, "--facts", filepath.Join(out, "knowns.jsonl"), "--threads", "1", "--out", attr); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(filepath.Join(attr, "summary.json")); err != nil || !strings.Contains(string(b), `"facts_used": 1`) {
		t.Errorf("attributes on knowns.jsonl: %s %v", b, err)
	}
}

func TestCLIKnownsHelp(t *testing.T) {
	cmd := knownsCommand()
	for _, w := range []string{"Examples:", "known_1000.json", "knowns.jsonl", "rejected.jsonl", "undecided", "§5.1"} {
		if !strings.Contains(cmd.Description, w) {
			t.Errorf("help does not mention %q", w)
		}
	}
}
