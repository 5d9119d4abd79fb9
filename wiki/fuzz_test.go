package wiki

import (
	"bufio"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wcos-dev/wcos/internal/pystr"
)

// FuzzWords: every word is at least two word characters, already lower-cased, and the words are the
// maximal runs of word characters of the lower-cased text, in order.
func FuzzWords(f *testing.F) {
	for _, s := range []string{"Hello, World!", "İstanbul ΟΔΟΣ", "x_y 12 3", "\xff\xfeab", "a\u0307bc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := Words(text)
		var want []string
		for _, run := range strings.FieldsFunc(pystr.Lower(text), func(r rune) bool { return !isWord(r) }) {
			if utf8.RuneCountInString(run) >= 2 {
				want = append(want, run)
			}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("Words(%q) = %q, want %q", text, got, want)
		}
	})
}

// FuzzSplitUniversal: lines end at \n, \r\n and \r, whatever the buffer size, as Python's text files.
func FuzzSplitUniversal(f *testing.F) {
	for _, s := range []string{"a\nb\r\nc\rd", "\r\r\n\n", "x\r", "no end", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		want := strings.Split(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n"), "\n")
		if strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\r") {
			want = want[:len(want)-1]
		}
		if text == "" {
			want = nil
		}
		sc := bufio.NewScanner(strings.NewReader(text))
		sc.Buffer(make([]byte, 0, 16), 16+len(text)) // small buffers: a \r may end one
		sc.Split(splitUniversal)
		var got []string
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		if sc.Err() != nil {
			t.Fatal(sc.Err())
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("lines of %q: %q, want %q", text, got, want)
		}
	})
}
