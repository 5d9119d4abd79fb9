package wiki

import (
	"unicode"
	"unicode/utf8"

	"github.com/wcos-dev/wcos/internal/pystr"
)

// Stopwords are bm25s's English stopwords (bm25s.stopwords.STOPWORDS_EN, Lucene's list), which its
// default Tokenizer (stopwords="english") leaves out of queries and documents.
var Stopwords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true, "be": true, "but": true,
	"by": true, "for": true, "if": true, "in": true, "into": true, "is": true, "it": true, "no": true,
	"not": true, "of": true, "on": true, "or": true, "such": true, "that": true, "the": true,
	"their": true, "then": true, "there": true, "these": true, "they": true, "this": true, "to": true,
	"was": true, "will": true, "with": true,
}

// Words returns the words of text as bm25s's default Tokenizer splits them before its stopwords are
// dropped: text.lower() (pystr.Lower), then every match of (?u)\b\w\w+\b, which in Python is every maximal run of at
// least two word characters (letters, numbers and '_', as str.isalnum).
func Words(text string) []string {
	var out []string
	var buf []byte
	eachWord(text, &buf, func(w []byte) { out = append(out, string(w)) })
	return out
}

// eachWord calls fn with each word of text (see Words); w is valid only during the call. buf is
// scratch space kept between calls to avoid allocations.
func eachWord(text string, buf *[]byte, fn func(w []byte)) {
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf { // not ASCII: Python's lower first (İ, final sigma)
			text = pystr.Lower(text)
			break
		}
	}
	b := (*buf)[:0]
	runes := 0 // in the current run of word characters
	flush := func() {
		if runes >= 2 {
			fn(b)
		}
		b, runes = b[:0], 0
	}
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf { // ASCII: the common case
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
				b = append(b, c)
				runes++
			} else {
				flush()
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if isWord(r) {
			b = utf8.AppendRune(b, r)
			runes++
		} else {
			flush()
		}
	}
	flush()
	*buf = b[:0]
}

// isWord is Python's \w on str patterns: str.isalnum() or '_'.
func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
