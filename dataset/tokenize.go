package dataset

import (
	"unicode"
	"unicode/utf8"
)

// Prefix tokenisation: dolma documents reach megabytes (books), but a row keeps ≤1024 tokens, so
// tokenising the whole document (what HF truncation does) is mostly wasted work. tokenizeLimited
// tokenises a prefix cut just before an ASCII space that follows a non-space character. With the
// GPT-2/GPT-NeoX pre-tokeniser regex used by OLMo, every pre-token before such a cut is the same as
// in the full text (letters, digits, punctuation runs and contractions all end there, and the space
// starts the next " word"), and BPE merges never cross pre-tokens, so the prefix's ids are a prefix of
// the full text's ids. The result is accepted only when the prefix gave limit+prefixMargin ids, which
// also keeps any tokenizer whose merges are merely local exact in practice; otherwise (short text,
// no cut point, a huge single pre-token) the whole text is tokenised. Options.FullTokenize skips this.
const (
	prefixBytesPerToken = 16 // English averages ~4.5 bytes/token; 16 leaves room for code and non-Latin text
	prefixMinBytes      = 8 << 10
	prefixMargin        = 64
)

// tokenizeLimited returns tok.Tokenize(text) truncated to limit ids (limit<0: no limit).
func tokenizeLimited(tok Tokenizer, text string, limit int) ([]int32, error) {
	if limit >= 0 {
		window := max(limit*prefixBytesPerToken, prefixMinBytes)
		if len(text) > window {
			if cut := prefixCut(text, window); cut > 0 {
				ids, err := tok.Tokenize(text[:cut])
				if err != nil {
					return nil, err
				}
				if len(ids) >= limit+prefixMargin {
					return ids[:limit:limit], nil
				}
			}
		}
	}
	ids, err := tok.Tokenize(text)
	if err != nil {
		return nil, err
	}
	if limit >= 0 && len(ids) > limit {
		ids = ids[:limit:limit]
	}
	return ids, nil
}

// prefixCut is the largest i ≤ n with text[i] == ' ' and the rune before it not a space (0 if none
// in the window's second half, where a cut would waste most of the window).
func prefixCut(text string, n int) int {
	for i := n; i > n/2; i-- {
		if text[i] != ' ' {
			continue
		}
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		if r != utf8.RuneError && !unicode.IsSpace(r) {
			return i
		}
	}
	return 0
}
