package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/internal/testmodels"
)

const (
	wikiParagraphs = "../../wiki/testdata/paragraphs.txt"
	wikiTitles     = "../../wiki/testdata/titles.txt"
)

// TestCLIWikiBadInput: bad input to `wcos wiki` fails before any output, with one line naming the file
// or flag and the problem.
func TestCLIWikiBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.txt")
	short := writeFile(t, filepath.Join(dir, "short.txt"), "Only one title\n")
	badFacts := writeFile(t, filepath.Join(dir, "facts.jsonl"), `{"id": 0, "subject": "Chad"`+"\n")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing paragraphs", []string{"--paragraphs", missing, "--titles", wikiTitles}, []string{missing, "no such file"}},
		{"no titles flag", []string{"--paragraphs", wikiParagraphs}, []string{"titles"}},
		{"titles do not match", []string{"--paragraphs", wikiParagraphs, "--titles", short}, []string{short, "1 non-blank lines", wikiParagraphs, "410"}},
		{"bad facts", []string{"--paragraphs", wikiParagraphs, "--titles", wikiTitles, "--facts", badFacts}, []string{badFacts + ":1"}},
		{"bad -k", []string{"--paragraphs", wikiParagraphs, "--titles", wikiTitles, "--k", "0"}, []string{"-k 0"}},
		{"stray argument", []string{"--paragraphs", wikiParagraphs, "--titles", wikiTitles, "extra"}, []string{`"extra"`}},
	}
	for _, c := range cases {
		checkBadInput(t, dir, c.name, append([]string{"wiki"}, c.args...), c.want)
	}
}

// TestCLIWikiAttributes: `wcos wiki` on the test corpus, then `wcos attributes --attributes wiki.csv`.
func TestCLIWikiAttributes(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	facts := writeFile(t, filepath.Join(dir, "facts.jsonl"), attrFacts)
	wikiOut := filepath.Join(dir, "wiki")
	if err := runCLI(t, "wiki", "--paragraphs", wikiParagraphs, "--titles", wikiTitles, "--facts", facts, "--k", "20", "--out", wikiOut); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(wikiOut, "wiki.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Afghanistan is in the evaluation text (the 2015 address); Albania and Narnia are not.
	lines := strings.Split(string(csv), "\n")
	if lines[0] != ",subject,paragraphs" || !strings.HasPrefix(lines[1], `0,Afghanistan," `) || !strings.Contains(lines[1], "Afghanistan is over") ||
		lines[2] != "1,Albania," || lines[3] != "2,Narnia," {
		t.Errorf("wiki.csv starts %q", lines[:min(4, len(lines))])
	}
	var ri map[string]any
	b, err := os.ReadFile(filepath.Join(wikiOut, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ri); err != nil || ri["command"] != "wiki" {
		t.Errorf("run.json: %v %v", err, ri["command"])
	}

	out := filepath.Join(dir, "attr")
	if err := runCLI(t, "attributes", "--model", model, "--threads", "1", "--facts", facts, "--attributes", filepath.Join(wikiOut, "wiki.csv"), "--out", out); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Attributes      string `json:"attributes"`
		ParagraphTokens int    `json:"paragraph_tokens"`
		NoAttributes    int    `json:"facts_without_attributes"`
		FactsUsed       int    `json:"facts_used"`
	}
	b, err = os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	// Narnia's fact is skipped (its subject is not in its prompt); Albania has a row with no paragraphs.
	if sum.Attributes != "paragraphs" || sum.ParagraphTokens != 2048 || sum.NoAttributes != 0 || sum.FactsUsed != 2 {
		t.Errorf("summary.json: %+v", sum)
	}
}

func TestCLIWikiHelp(t *testing.T) {
	cmd := wikiCommand()
	for _, w := range []string{"Examples:", "paragraphs.txt", "titles.txt", "wiki.csv", "retrieval.jsonl", "known_1000.json", "§5.1", "bm25s"} {
		if !strings.Contains(cmd.Description, w) {
			t.Errorf("help does not mention %q", w)
		}
	}
}
