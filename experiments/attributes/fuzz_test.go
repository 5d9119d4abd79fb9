package attributes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzFindSubject: any pieces and subject give a valid token range whose text holds the subject (or
// its capitalised form), or ErrSubjectNotFound.
func FuzzFindSubject(f *testing.F) {
	f.Add(" The| capital| of| Af|ghan|istan| is", "Afghanistan")
	f.Add("Is|tan|bul| is", "ıstanbul") // capitalised: one byte shorter
	f.Add("a|b", "")
	f.Add("\xff|x", "\xffx")
	f.Fuzz(func(t *testing.T, joined, subject string) {
		pieces := strings.Split(joined, "|")
		start, end, err := FindSubject(pieces, subject)
		if err != nil {
			if err != ErrSubjectNotFound {
				t.Fatalf("FindSubject(%q, %q): %v", pieces, subject, err)
			}
			return
		}
		if start < 0 || end <= start || end > len(pieces) {
			t.Fatalf("FindSubject(%q, %q) = [%d, %d)", pieces, subject, start, end)
		}
		// The range is the least one around the match: dropping its first or last token loses part of it.
		whole := strings.Join(pieces, "")
		m := subject
		if !strings.Contains(whole, m) {
			m = capitalise(subject)
		}
		at := strings.Index(whole, m)
		before := len(strings.Join(pieces[:start], ""))
		through := len(strings.Join(pieces[:end], ""))
		if before > at || through < at+len(m) {
			t.Fatalf("FindSubject(%q, %q) = [%d, %d) misses the match at %d", pieces, subject, start, end, at)
		}
		if before+len(pieces[start]) <= at || through-len(pieces[end-1]) >= at+len(m) {
			t.Fatalf("FindSubject(%q, %q) = [%d, %d) is wider than the match at %d", pieces, subject, start, end, at)
		}
	})
}

// FuzzReadFacts: any file is read or refused with a one-line error naming it; what is read has a
// subject and a prompt per fact and unique ids.
func FuzzReadFacts(f *testing.F) {
	f.Add(`{"id": 0, "subject": "A", "prompt": "A is"}` + "\n" + `{"id": 1, "subject": "B", "prompt": "B is"}`)
	f.Add(`{"id": 0, "subject": "A", "prompt": "A is"}` + "\n" + `{"id": 0, "subject": "B", "prompt": "B is"}`)
	f.Add(`{"id": "x"}`)
	f.Add("\n\n")
	f.Add(`[{"known_id": 3, "subject": "A", "prompt": "A is", "relation_id": "P1"}, null]`)
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "facts.jsonl")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		facts, err := ReadFacts(path)
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, path) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s", msg, path)
			}
			return
		}
		seen := map[int]bool{}
		for _, fa := range facts {
			if fa.Subject == "" || fa.Prompt == "" || seen[fa.ID] {
				t.Fatalf("read a bad fact %+v", fa)
			}
			seen[fa.ID] = true
		}
	})
}
