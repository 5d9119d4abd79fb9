package attributes

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestParagraphTokens: with tiny-olmo's tokenizer, the attribute tokens of a text are BOS and the
// text's tokens, cut to maxTokens in all, without stopwords (case-sensitive) and short tokens.
func TestParagraphTokens(t *testing.T) {
	m, err := bindings.LoadModel(testmodels.GGUF(t, testmodels.TinyDir(), "f32"), bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const text = " Paris is the capital of France. The Seine flows through it, and so it was."
	ids, err := m.Tokenize(text)
	if err != nil {
		t.Fatal(err)
	}
	bos := m.EOS()
	if TokenString(m, bos) != "<|endoftext|>" {
		t.Fatalf("BOS is %q", TokenString(m, bos))
	}
	cases := []struct {
		name      string
		text      string
		maxTokens int
		want      []string
	}{
		// " is", " of", " Se", " it", " so", "," and "." have ≤ 2 characters; " the", " through",
		// " and", " was" are stopwords; " The" is not (the filter is case-sensitive, as the reference's).
		{"all", text, 0, []string{"<|endoftext|>", " Paris", " capital", " France", " The", "ine", " flows"}},
		{"cut", text, 5, []string{"<|endoftext|>", " Paris", " capital"}}, // BOS, " Paris", " is", " the", " capital" | " of" …
		{"cut", text, 4, []string{"<|endoftext|>", " Paris"}},
		{"cut after the end", text, len(ids) + 1, []string{"<|endoftext|>", " Paris", " capital", " France", " The", "ine", " flows"}},
		{"empty", "", 2048, []string{"<|endoftext|>"}},
	}
	for _, c := range cases {
		got, err := ParagraphTokens(m, bos, c.text, nil, c.maxTokens)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, s := range c.want {
			want[s] = true
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParagraphTokens = %v, want %v (tokens %q)", c.name, keys(got), c.want, tokenStrings(m, ids))
		}
	}
	// The expected sets above assume this tokenization; say so if the tokenizer differs.
	if s := tokenStrings(m, ids); !reflect.DeepEqual(s, []string{" Paris", " is", " the", " capital", " of", " France", ".", " The",
		" Se", "ine", " flows", " through", " it", ",", " and", " so", " it", " was", "."}) {
		t.Errorf("tokens of the text start %q", s)
	}
}

func tokenStrings(tok Tokenizer, ids []int32) []string {
	var out []string
	for _, id := range ids {
		out = append(out, TokenString(tok, id))
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRunWithParagraphs runs the experiment with wiki.csv attributes: a subject with paragraphs rates
// by their tokens, one with empty paragraphs keeps BOS and rates ≥ 0, one missing from the file -1.
func TestRunWithParagraphs(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	factsPath, _ := embedded(t, dir)
	all, err := ReadFacts(factsPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	subjects := map[string]bool{}
	for _, f := range all {
		if f.Subject == "Afghanistan" || f.Subject == "Albania" || f.Subject == "Algeria" {
			b, _ := json.Marshal(f)
			lines = append(lines, string(b))
			subjects[f.Subject] = true
		}
	}
	if len(subjects) != 3 {
		t.Fatalf("embedded facts: subjects %v", subjects)
	}
	facts := filepath.Join(dir, "facts.jsonl")
	csv := filepath.Join(dir, "wiki.csv")
	paragraphs := " Afghanistan is a landlocked country in Asia. Its capital is Kabul, and Pashto and Dari are spoken there."
	files := map[string]string{
		facts: strings.Join(lines, "\n") + "\n",
		csv:   ",subject,paragraphs\n0,Afghanistan," + `"` + paragraphs + `"` + "\n1,Albania,\n",
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Run(Config{Model: model, Facts: facts, Attributes: csv, ParagraphTokens: DefaultParagraphTokens, Threads: 1, Out: filepath.Join(dir, "out")})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	algeria := 0
	for _, f := range all {
		if f.Subject == "Algeria" {
			algeria++
		}
	}
	if s.Attributes != "paragraphs" || s.ParagraphTokens != DefaultParagraphTokens || s.NoAttributes != algeria {
		t.Fatalf("summary: attributes %q, paragraph tokens %d, %d facts without attributes (want %d)", s.Attributes, s.ParagraphTokens, s.NoAttributes, algeria)
	}
	m, err := bindings.LoadModel(model, bindings.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	afghan, err := ParagraphTokens(m, m.EOS(), paragraphs, nil, DefaultParagraphTokens)
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	for _, r := range res.Records {
		switch r.Subject {
		case "Algeria":
			if r.Rate != -1 {
				t.Errorf("Algeria (not in wiki.csv) layer %s: rate %v, want -1", r.Layer, r.Rate)
			}
		case "Albania":
			want := Rate(r.TopKClean, map[string]bool{"<|endoftext|>": true}, 0)
			if r.Rate != want || r.Rate < 0 && len(r.TopKClean) > 0 {
				t.Errorf("Albania (empty paragraphs) layer %s: rate %v, want %v", r.Layer, r.Rate, want)
			}
		case "Afghanistan":
			if want := Rate(r.TopKClean, afghan, 0); r.Rate != want {
				t.Errorf("Afghanistan layer %s: rate %v, want %v", r.Layer, r.Rate, want)
			}
			if r.Rate > 0 {
				hits++
			}
		}
	}
	if hits == 0 {
		t.Error("Afghanistan: no record names a token of its paragraphs")
	}
}

// TestReadAttributesKinds: a .csv file is wiki.csv, anything else subject_attributes.json.
func TestReadAttributesKinds(t *testing.T) {
	dir := t.TempDir()
	csvPath, jsonPath := filepath.Join(dir, "w.CSV"), filepath.Join(dir, "a.json")
	os.WriteFile(csvPath, []byte("subject,paragraphs\nChad, Chad is a country.\nMali,\n"), 0o644)
	os.WriteFile(jsonPath, []byte(`{"Chad": ["N'Djamena"], "Mali": []}`), 0o644)
	bos := int32(1000)
	tok := &fakeTok{ids: map[string]int32{"<|endoftext|>": bos}}
	for _, c := range []struct {
		path, source string
		chad         []string
		mali         []string // nil: no attributes
	}{
		{csvPath, "paragraphs", []string{"<|endoftext|>", "Chad", "country."}, []string{"<|endoftext|>"}},
		{jsonPath, "names", []string{"N'Djamena"}, nil},
	} {
		a, err := ReadAttributes(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if a.Source() != c.source {
			t.Errorf("%s: source %q, want %q", c.path, a.Source(), c.source)
		}
		for subject, want := range map[string][]string{"Chad": c.chad, "Mali": c.mali, "Niger": nil} {
			got, err := a.Tokens(tok, bos, subject, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (want == nil) || len(got) != len(want) {
				t.Errorf("%s: %s has tokens %v, want %q", c.path, subject, keys(got), want)
				continue
			}
			for _, w := range want {
				if !got[w] {
					t.Errorf("%s: %s lacks %q (has %v)", c.path, subject, w, keys(got))
				}
			}
		}
	}
	if _, err := ReadAttributes(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing wiki.csv was read")
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`["Chad"]`), 0o644)
	if _, err := ReadAttributes(bad); err == nil || !strings.Contains(err.Error(), bad) || !utf8.ValidString(err.Error()) {
		t.Errorf("bad JSON: %v", err)
	}
}
