package knowns

import (
	"strings"
	"testing"
)

// FuzzJudge: any rounds of any text leave a verdict that does not change once made, and a known
// fact's split gives back its text, the prompt first.
func FuzzJudge(f *testing.F) {
	f.Add(" X is in", "New York", " in New", false, " York City", true)
	f.Add(" X is", "Europe", " Europe.", false, "", false)
	f.Add(" X", "ǅ", "\xff ǅ\x1c", true, "Ⅻ", false)
	f.Fuzz(func(t *testing.T, prompt, attr, r1 string, eos1 bool, r2 string, eos2 bool) {
		j := newJudge(prompt, attr)
		var first Verdict
		for _, r := range []struct {
			add string
			eos bool
		}{{r1, eos1}, {r2, eos2}} {
			j.begin()
			j.update(strings.ToValidUTF8(j.text+r.add, "\uFFFD"), r.eos)
			if first != Undecided && j.verdict != first {
				t.Fatalf("verdict changed from %v to %v", first, j.verdict)
			}
			if first == Undecided {
				first = j.verdict
			}
			if j.verdict == Known {
				p, pred := j.split()
				if p+pred != j.text || !strings.HasPrefix(p, j.text[:min(j.promptLen, len(j.text))]) {
					t.Fatalf("split %q | %q of %q", p, pred, j.text)
				}
			}
			if j.verdict != Undecided {
				break
			}
		}
	})
}
