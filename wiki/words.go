package wiki

import (
	"unicode"
	"unicode/utf8"
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
// dropped: text.lower(), then every match of (?u)\b\w\w+\b, which in Python is every maximal run of at
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
	b := (*buf)[:0]
	runes := 0 // in the current run of word characters
	flush := func() {
		if runes >= 2 {
			fn(b)
		}
		b, runes = b[:0], 0
	}
	var prev rune = -1 // the previous rune of text, for the final sigma
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf { // ASCII: the common case
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
				b = append(b, c)
				runes++
			} else {
				flush()
			}
			prev = rune(text[i])
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		for _, l := range lower(r, prev, text[i:]) {
			if isWord(l) {
				b = utf8.AppendRune(b, l)
				runes++
			} else {
				flush()
			}
		}
		prev = r
	}
	flush()
	*buf = b[:0]
}

// lower is Python's str.lower for one rune: Unicode's simple lowercase mapping plus its unconditional
// special case (İ → i + combining dot) and the final sigma (Σ → ς at the end of a word; its
// case-ignorable characters are not skipped here).
func lower(r, prev rune, rest string) []rune {
	switch r {
	case 'İ':
		return []rune{'i', '\u0307'}
	case 'Σ':
		next, _ := utf8.DecodeRuneInString(rest)
		if prev >= 0 && isCased(prev) && (rest == "" || !isCased(next)) {
			return []rune{'ς'}
		}
		return []rune{'σ'}
	}
	return []rune{unicode.ToLower(r)}
}

func isCased(r rune) bool { return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) }

// isWord is Python's \w on str patterns: str.isalnum() or '_'.
func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// pyCapitalize is Python's str.capitalize: the first character title-cased, the rest lower-cased.
func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	var out []rune
	if t, ok := titleFull[r]; ok {
		out = []rune(t)
	} else {
		out = []rune{unicode.ToTitle(r)}
	}
	prev := r
	for i := n; i < len(s); {
		r, m := utf8.DecodeRuneInString(s[i:])
		i += m
		out = append(out, lower(r, prev, s[i:])...)
		prev = r
	}
	return string(out)
}

// titleFull are the title-case mappings to more than one character (Unicode's SpecialCasing) of the
// Latin letters among them.
var titleFull = map[rune]string{
	'ß': "Ss", 'ﬀ': "Ff", 'ﬁ': "Fi", 'ﬂ': "Fl", 'ﬃ': "Ffi", 'ﬄ': "Ffl", 'ﬅ': "St", 'ﬆ': "St", 'ŉ': "ʼN",
	'ǰ': "J̌",
}

// isPySpace is Python's str.isspace for one rune (what str.rstrip removes): Unicode white space and
// the separators \x1c–\x1f.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f }
