package pystr

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsSpace is str.isspace of one character: Unicode white space and the separators \x1c–\x1f.
func IsSpace(r rune) bool { return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f }

// Fields is str.split() without arguments: the runs of non-space characters.
func Fields(s string) []string { return strings.FieldsFunc(s, IsSpace) }

// Strip is str.strip() without arguments.
func Strip(s string) string { return strings.TrimFunc(s, IsSpace) }

// RStrip is str.rstrip() without arguments.
func RStrip(s string) string { return strings.TrimRightFunc(s, IsSpace) }

// IsUpper is str.isupper of one character: an upper-case letter (Lu or Other_Uppercase). Title-case
// letters such as ǅ are not.
func IsUpper(r rune) bool { return unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r) }

// StartsUpper is word[0].isupper(): the first character of w is upper-case (false for "").
func StartsUpper(w string) bool {
	r, n := utf8.DecodeRuneInString(w)
	return n > 0 && IsUpper(r)
}

// Lower is str.lower: each character's lowercase mapping, with Unicode's one unconditional special
// case (İ → i + combining dot above) and the final sigma (Σ → ς after a cased letter and not before
// one, case-ignorable characters skipped).
func Lower(s string) string { return lowerFrom(s, 0) }

// Capitalize is str.capitalize: the first character title-cased (its full mapping: ß → Ss), the rest
// lower-cased as Lower does.
func Capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	first, ok := titleFull[r]
	if !ok {
		first = string(unicode.ToTitle(r))
	}
	return first + lowerFrom(s, n)
}

// lowerFrom lower-cases s[start:], reading s[:start] only as the context of a final sigma.
func lowerFrom(s string, start int) string {
	rest := s[start:]
	ascii := true
	for i := 0; i < len(rest); i++ {
		if rest[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(rest)
	}
	var b strings.Builder
	b.Grow(len(rest))
	for i := start; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if casedBefore(s[:i]) && !casedAfter(s[i+n:]) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
		i += n
	}
	return b.String()
}

// casedBefore: the last character of s that is not case-ignorable is cased.
func casedBefore(s string) bool {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !isCaseIgnorable(r) {
			return isCased(r)
		}
		s = s[:len(s)-n]
	}
	return false
}

// casedAfter: the first character of s that is not case-ignorable is cased.
func casedAfter(s string) bool {
	for _, r := range s {
		if !isCaseIgnorable(r) {
			return isCased(r)
		}
	}
	return false
}

// isCased is Unicode's Cased property.
func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable approximates Unicode's Case_Ignorable property: marks, format characters, modifier
// letters and symbols, and the word-internal punctuation of Word_Break MidLetter, MidNumLet and
// Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '·', '\u0387', '\u05f4', '\u2018', '\u2019', '\u2024', '\u2027', '\ufe13', '\ufe52', '\ufe55', '\uff07', '\uff0e', '\uff1a':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// titleFull are the title-case mappings to more than one character (Unicode's SpecialCasing) of the
// Latin letters among them.
var titleFull = map[rune]string{
	'ß': "Ss", 'ﬀ': "Ff", 'ﬁ': "Fi", 'ﬂ': "Fl", 'ﬃ': "Ffi", 'ﬄ': "Ffl", 'ﬅ': "St", 'ﬆ': "St", 'ŉ': "ʼN",
	'ǰ': "J̌",
}

// DecodeUTF8 is bytes.decode("utf-8", "replace"): each maximal subpart of an ill-formed sequence
// becomes one U+FFFD (Unicode's recommended practice, which Rust's String::from_utf8_lossy and so
// Hugging Face's decode follow), where Go's strings.ToValidUTF8 would replace a whole run of bad bytes
// with one.
func DecodeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		if r, n := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || n > 1 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += maximalSubpart(s[i:])
	}
	return b.String()
}

// maximalSubpart is the length of the ill-formed sequence at the start of s: its lead byte and the
// continuation bytes after it that a well-formed sequence could still have (Unicode Table 3-7).
func maximalSubpart(s string) int {
	lo, hi, need := byte(0x80), byte(0xbf), 0
	switch c := s[0]; {
	case 0xc2 <= c && c <= 0xdf:
		need = 1
	case c == 0xe0:
		lo, need = 0xa0, 2
	case c == 0xed:
		hi, need = 0x9f, 2
	case 0xe1 <= c && c <= 0xef:
		need = 2
	case c == 0xf0:
		lo, need = 0x90, 3
	case c == 0xf4:
		hi, need = 0x8f, 3
	case 0xf1 <= c && c <= 0xf3:
		need = 3
	}
	n := 1
	for ; n <= need && n < len(s); n++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		lo, hi = 0x80, 0xbf // only the second byte has a narrower range
	}
	return n
}
