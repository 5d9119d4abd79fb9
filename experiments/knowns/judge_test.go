package knowns

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// round is one generation round of a judge test: the text appended and whether it ended with EOS.
type round struct {
	add string
	eos bool
}

// TestJudge replays the reference's decision (RW:wiki/knowns.py) round by round.
func TestJudge(t *testing.T) {
	const eosText = "<|endoftext|>"
	for _, c := range []struct {
		name   string
		prompt string
		attr   string
		rounds []round
		want   Verdict
		// the known fact's prompt and prediction
		wantPrompt, wantPrediction string
	}{
		{"first capitalised word is the attribute", " X is in the continent of", "Europe",
			[]round{{" Europe. The United States", false}}, Known, " X is in the continent of ", "Europe. The United States"},
		{"another capitalised word first", " The capital of X is", "Kabul",
			[]round{{" now in the field. The United", false}}, Unknown, "", ""},
		{"attribute lower-case before the capitalised word", " X is made of", "iron",
			[]round{{" pure iron and steel. It", false}}, Known, " X is made of pure ", "iron and steel. It"},
		{"attribute inside the capitalised word's answer prefix", " X speaks", "English",
			[]round{{" mostly English, with", false}}, Known, " X speaks mostly ", "English, with"},
		{"multi-word attribute over two rounds", " X is owned by the", "United States",
			[]round{{" government of the United", false}, {" States of America.", false}}, Known,
			" X is owned by the government of the ", "United States of America."},
		{"multi-word attribute, other second word", " X is owned by the", "United Kingdom",
			[]round{{" government of the United", false}, {" States of America.", false}}, Unknown, "", ""},
		// The reference sliced ' '.join(words)[i:] by characters: with i = 1 it read "n New York…" and
		// failed. The words are sliced here.
		{"attribute starts at the round's second word", " X is located", "New York",
			[]round{{" in New", false}, {" York City and", false}}, Known, " X is located in ", "New York City and"},
		{"EOS decides a word that may start the attribute", " X is owned by", "United Kingdom",
			[]round{{" the United" + eosText, true}}, Unknown, "", ""},
		{"no capitalised word, EOS, attribute in the answer", " X lies in", "Paris",
			[]round{{" paris, near the river." + eosText, true}}, Known, " X lies in ", "paris, near the river." + eosText},
		{"no capitalised word, EOS, no attribute", " X lies in", "Paris",
			[]round{{" a city." + eosText, true}}, Unknown, "", ""},
		{"no capitalised word yet", " X lies in", "Paris",
			[]round{{" a city near the river and", false}, {" close to the sea, which", false}}, Undecided, "", ""},
		{"decided in the second round", " X lies in", "Paris",
			[]round{{" a city near the river and", false}, {" close to Paris.", false}}, Known, " X lies in a city near the river and close to ", "Paris."},
		{"the attribute in the prompt is not the cut", " Toronto Blue Jays play in", "Toronto",
			[]round{{" Toronto, Ontario.", false}}, Known, " Toronto Blue Jays play in ", "Toronto, Ontario."},
		{"capitalised variant of the attribute", " X is located in", "new york",
			[]round{{" New York.", false}}, Known, " X is located in ", "New York."},
		{"attribute found only ignoring case", " X is located in", "New York",
			[]round{{" NEW YORK.", false}}, Known, " X is located in ", "NEW YORK."},
		{"upper-case first characters of other scripts", " X is in", "Ⅻ",
			[]round{{" Ⅻ district", false}}, Known, " X is in ", "Ⅻ district"},
		{"a title-case letter is not upper-case", " X is in", "Paris",
			[]round{{" ǅungla near Paris", false}}, Known, " X is in ǅungla near ", "Paris"},
	} {
		j := newJudge(c.prompt, c.attr)
		for _, r := range c.rounds {
			if j.verdict != Undecided {
				t.Fatalf("%s: decided (%v) before the round %q", c.name, j.verdict, r.add)
			}
			j.begin()
			j.update(j.text+r.add, r.eos)
		}
		if j.verdict != c.want {
			t.Errorf("%s: verdict %v, want %v", c.name, j.verdict, c.want)
			continue
		}
		if c.want == Known {
			p, pred := j.split()
			if p != c.wantPrompt || pred != c.wantPrediction {
				t.Errorf("%s: split %q | %q, want %q | %q", c.name, p, pred, c.wantPrompt, c.wantPrediction)
			}
		}
	}
}

func TestPrompt(t *testing.T) {
	for _, c := range []struct{ template, subject, want string }{
		{"The capital of {} is", "France", " The capital of France is"},
		{"{} is owned by ", "iPod", " IPod is owned by"}, // upper-cased first letter, as the reference
		{"{} plays\t\n", "Ólafur", " Ólafur plays"},
		{"{}, the capital of {}", "X", " X, the capital of X"},
		{"In {} they speak", "iceland", " In iceland they speak"},
	} {
		if got := Prompt(c.template, c.subject); got != c.want {
			t.Errorf("Prompt(%q, %q) = %q, want %q", c.template, c.subject, got, c.want)
		}
	}
}

// TestJudgePython replays 1,500 random facts and texts, split into rounds at random characters, and
// compares the verdict and the cut with a Python restatement of the reference's decision with its two
// slips undone (testdata/judge_golden.py); the file also holds the reference's own verdicts, and the
// cases where the slips matter are counted.
func TestJudgePython(t *testing.T) {
	b, err := os.ReadFile("testdata/judge_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Verdict    string
		Prompt     *string
		Prediction *string
	}
	var g struct {
		EOS   string
		Cases []struct {
			Prompt, Attribute string
			Rounds            []string
			Reference, Fixed  outcome
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	slips := 0
	for i, c := range g.Cases {
		j := newJudge(c.Prompt, c.Attribute)
		for _, add := range c.Rounds {
			if j.verdict != Undecided {
				break
			}
			j.begin()
			j.update(j.text+add, strings.Contains(j.text+add, g.EOS))
		}
		desc := fmt.Sprintf("case %d (prompt %q, attribute %q, rounds %q)", i, c.Prompt, c.Attribute, c.Rounds)
		if j.verdict.String() != c.Fixed.Verdict {
			t.Errorf("%s: verdict %v, Python %s", desc, j.verdict, c.Fixed.Verdict)
			continue
		}
		if j.verdict == Known {
			p, pred := j.split()
			if c.Fixed.Prompt == nil || p != *c.Fixed.Prompt || pred != *c.Fixed.Prediction {
				t.Errorf("%s: cut %q | %q, Python %v | %v", desc, p, pred, c.Fixed.Prompt, c.Fixed.Prediction)
			}
		}
		if !reflect.DeepEqual(c.Reference, c.Fixed) {
			slips++
		}
	}
	t.Logf("%d cases; in %d the reference's own verdict or cut differs (its two slips, or no cut where it stops on an assertion)", len(g.Cases), slips)
	if slips == 0 {
		t.Error("no case exercises the slips")
	}
}
