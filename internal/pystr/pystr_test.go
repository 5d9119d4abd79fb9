package pystr

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestPython compares every function with CPython's results (testdata/golden.json, written by
// testdata/golden.py).
func TestPython(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Decode []struct{ Hex, Text string }
		Cases  []struct {
			Text, Lower, Capitalize, Strip, Rstrip string
			Split                                  []string
			StartsUpper                            bool `json:"starts_upper"`
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Decode {
		b, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := DecodeUTF8(string(b)); got != c.Text {
			t.Errorf("bytes.fromhex(%q).decode('utf-8', 'replace') = %q, Python %q", c.Hex, got, c.Text)
		}
	}
	if len(g.Decode) == 0 {
		t.Error("no decode cases")
	}
	for _, c := range g.Cases {
		for _, r := range []struct{ name, got, want string }{
			{"lower", Lower(c.Text), c.Lower},
			{"capitalize", Capitalize(c.Text), c.Capitalize},
			{"strip", Strip(c.Text), c.Strip},
			{"rstrip", RStrip(c.Text), c.Rstrip},
		} {
			if r.got != r.want {
				t.Errorf("%q.%s() = %q, Python %q", c.Text, r.name, r.got, r.want)
			}
		}
		if got := Fields(c.Text); !slices.Equal(got, c.Split) && len(got)+len(c.Split) > 0 {
			t.Errorf("%q.split() = %q, Python %q", c.Text, got, c.Split)
		}
		if got := StartsUpper(c.Text); got != c.StartsUpper {
			t.Errorf("%q[0].isupper() = %v, Python %v", c.Text, got, c.StartsUpper)
		}
	}
}

// FuzzDecodeUTF8: the text is valid UTF-8, valid input comes back as it is, and every replacement
// stands for at least one byte.
func FuzzDecodeUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "\x80\x80a", "\xe2\x82", "\xf0\x9f\x98\x80", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := DecodeUTF8(s)
		if !utf8.ValidString(got) {
			t.Fatalf("DecodeUTF8(%q) = %q: not UTF-8", s, got)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("DecodeUTF8(%q) = %q, want the input", s, got)
		}
		if n := strings.Count(got, "\ufffd") - strings.Count(s, "\ufffd"); n > len(s) {
			t.Fatalf("DecodeUTF8(%q): %d replacements for %d bytes", s, n, len(s))
		}
	})
}
