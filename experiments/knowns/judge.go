package knowns

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wcos-dev/wcos/internal/pystr"
)

// Verdict is what generation said of a fact.
type Verdict int

const (
	Undecided Verdict = iota
	Known
	Unknown
)

func (v Verdict) String() string {
	return [...]string{"undecided", "known", "unknown"}[v]
}

// judge follows one fact through the rounds of generation.
type judge struct {
	attr      string
	promptLen int    // bytes of the prompt at the start of text
	text      string // the prompt and everything generated (the reference's whole_str)
	from      int    // where the current round's new text starts (previous_len)
	upper     bool   // a capitalised word was seen
	possible  bool   // the attribute may be starting: read from the same place again
	verdict   Verdict
}

func newJudge(prompt, attr string) *judge {
	return &judge{attr: attr, promptLen: len(prompt), text: prompt, from: len(prompt)}
}

// Prompt builds a fact's generation prompt as the reference does: the template with the subject,
// right-stripped, upper-cased first letter when it starts with the subject, after one space.
func Prompt(template, subject string) string {
	p := pystr.RStrip(strings.ReplaceAll(template, "{}", subject))
	if subject != "" && strings.HasPrefix(p, subject) {
		r, n := utf8.DecodeRuneInString(p)
		p = string(unicode.ToUpper(r)) + p[n:]
	}
	return " " + p
}

// begin starts a round: the text generated from here on is new, unless the attribute may be starting.
func (j *judge) begin() {
	if !j.possible {
		j.from = len(j.text)
	}
}

// update reads the text after a round (the whole text, decoded again) and whether it holds EOS.
func (j *judge) update(text string, eos bool) {
	j.text = text
	answer, fresh := tail(text, j.promptLen), tail(text, j.from)
	attr := pystr.Lower(j.attr)
	words := pystr.Fields(fresh)
	for i, w := range words {
		if !pystr.StartsUpper(w) {
			continue
		}
		j.upper = true
		before, _, _ := strings.Cut(answer, w)
		switch {
		case strings.Contains(pystr.Lower(before+w), attr):
			j.verdict = Known
		case strings.HasPrefix(attr, pystr.Lower(w)):
			rest := strings.Join(words[i:], " ")
			switch {
			case utf8.RuneCountInString(rest) < utf8.RuneCountInString(j.attr) && !eos:
				j.possible = true
			case strings.HasPrefix(pystr.Lower(rest), attr):
				j.verdict = Known
			default:
				j.verdict = Unknown
			}
		default:
			j.verdict = Unknown
		}
		break
	}
	if !j.upper && eos {
		if strings.Contains(pystr.Lower(answer), attr) {
			j.verdict = Known
		} else {
			j.verdict = Unknown
		}
	}
}

// split cuts a known fact's text before the attribute in the generated part: the attribute as written,
// lower-cased or capitalised (the reference's order), else in any case; prediction is the rest. When
// none is found (only a run of words joined differently matched) the prompt stays as it was.
func (j *judge) split() (prompt, prediction string) {
	answer := tail(j.text, j.promptLen)
	at := -1
	for _, d := range []string{j.attr, pystr.Lower(j.attr), pystr.Capitalize(j.attr)} {
		if at = strings.Index(answer, d); at >= 0 {
			break
		}
	}
	if at < 0 {
		at = indexFold(answer, j.attr)
	}
	if at < 0 {
		return j.text[:j.promptLen], answer
	}
	return j.text[:j.promptLen+at], answer[at:]
}

// tail is s[i:], or "" when i is past its end (a text that changed when tokenized again).
func tail(s string, i int) string {
	if i > len(s) {
		return ""
	}
	return s[i:]
}

// indexFold is the byte index of the first case-insensitive match of sub in s, or -1.
func indexFold(s, sub string) int {
	n := utf8.RuneCountInString(sub)
	for i := range s {
		j, k := i, 0
		for k < n && j < len(s) {
			_, w := utf8.DecodeRuneInString(s[j:])
			j += w
			k++
		}
		if k == n && strings.EqualFold(s[i:j], sub) {
			return i
		}
	}
	return -1
}
