package attributes

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wcos-dev/wcos/internal/pystr"
	"github.com/wcos-dev/wcos/wiki"
)

// Fact is one fact (ROME's known_1000 layout).
type Fact struct {
	ID        int    `json:"id"`
	Subject   string `json:"subject"`
	Relation  string `json:"relation"`
	Template  string `json:"template"`
	Prompt    string `json:"prompt"`
	Attribute string `json:"attribute"`
}

// ReadFacts reads facts from JSONL, one per line, or from a JSON array (ROME's known_1000.json, the
// reference's known_<model>.json), where known_id and relation_id stand for id and relation. Every fact
// needs a subject and a prompt, and ids are unique.
func ReadFacts(path string) ([]Fact, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type record struct {
		at, loc string // where it is, for errors: "path:3" and "line 3"
		raw     []byte
	}
	var recs []record
	if t := bytes.TrimLeft(b, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(t, &arr); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		for i, r := range arr {
			loc := fmt.Sprintf("fact %d of the array", i)
			recs = append(recs, record{path + ": " + loc, loc, r})
		}
	} else {
		for i, l := range bytes.Split(b, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				recs = append(recs, record{fmt.Sprintf("%s:%d", path, i+1), fmt.Sprint("line ", i+1), l})
			}
		}
	}
	var out []Fact
	seen := map[int]string{}
	for _, r := range recs {
		var aux struct {
			Fact
			ID         *int   `json:"id"`
			KnownID    *int   `json:"known_id"`
			RelationID string `json:"relation_id"`
		}
		if err := json.Unmarshal(r.raw, &aux); err != nil {
			return nil, fmt.Errorf("%s: %v", r.at, err)
		}
		fa := aux.Fact
		if p := cmp.Or(aux.ID, aux.KnownID); p != nil {
			fa.ID = *p
		}
		fa.Relation = cmp.Or(fa.Relation, aux.RelationID)
		if fa.Subject == "" || fa.Prompt == "" {
			return nil, fmt.Errorf("%s: a fact needs a subject and a prompt", r.at)
		}
		if prev, ok := seen[fa.ID]; ok {
			return nil, fmt.Errorf("%s: fact id %d is also at %s", r.at, fa.ID, prev)
		}
		seen[fa.ID] = r.loc
		out = append(out, fa)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no facts", path)
	}
	return out, nil
}

// Attributes are the subjects' attributes: their names (subject_attributes.json) or the text of
// their Wikipedia paragraphs (the reference's wiki.csv, see package wiki).
type Attributes struct {
	Names      map[string][]string // subject → attributes
	Paragraphs map[string]string   // subject → paragraphs
}

// ReadAttributes reads a .csv file as wiki.csv (wiki.ReadCSV) and any other as subject_attributes.json:
// {"subject": ["attribute", …], …}.
func ReadAttributes(path string) (*Attributes, error) {
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		p, err := wiki.ReadCSV(path)
		if err != nil {
			return nil, err
		}
		return &Attributes{Paragraphs: p}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: want {\"subject\": [\"attribute\", …]} or wiki.csv: %v", path, err)
	}
	return &Attributes{Names: m}, nil
}

// Source names where the attributes come from, for summary.json.
func (a *Attributes) Source() string {
	if a.Paragraphs != nil {
		return "paragraphs"
	}
	return "names"
}

// Tokens returns the subject's attribute tokens, nil when the subject has none: AttributeTokens of its
// names, or ParagraphTokens of its paragraphs (bos and maxTokens as there).
func (a *Attributes) Tokens(tok Tokenizer, bos int32, subject string, stop map[string]bool, maxTokens int) (map[string]bool, error) {
	if a.Paragraphs != nil {
		p, ok := a.Paragraphs[subject]
		if !ok {
			return nil, nil
		}
		return ParagraphTokens(tok, bos, p, stop, maxTokens)
	}
	if names := a.Names[subject]; len(names) > 0 {
		return AttributeTokens(tok, names, stop)
	}
	return nil, nil
}

// ErrSubjectNotFound: the subject (nor its capitalised form) is not in the prompt's tokens.
var ErrSubjectNotFound = errors.New("subject not found in the prompt")

// FindSubject returns the token range [start, end) of subject in pieces, the texts of a prompt's tokens
// (reference: find_token_range of Geva et al.): the first occurrence of subject in their concatenation,
// else of the subject with its first letter upper-cased; start is the first token ending after the
// match's first byte, end-1 the first token reaching its end.
func FindSubject(pieces []string, subject string) (start, end int, err error) {
	if subject == "" {
		return 0, 0, ErrSubjectNotFound
	}
	whole := strings.Join(pieces, "")
	at := strings.Index(whole, subject)
	if at < 0 {
		// The capitalised form may differ in length (ı → I).
		subject = capitalise(subject)
		at = strings.Index(whole, subject)
	}
	if at < 0 {
		return 0, 0, ErrSubjectNotFound
	}
	stop := at + len(subject)
	start, loc := -1, 0
	for i, p := range pieces {
		loc += len(p)
		if start < 0 && loc > at {
			start = i
		}
		if loc >= stop {
			return start, i + 1, nil
		}
	}
	return 0, 0, ErrSubjectNotFound // not reached: the match lies inside whole
}

// capitalise upper-cases the first letter (Python: s[0].upper() + s[1:]).
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// Tokenizer is what the experiment needs of a model's tokenizer (bindings.Model has it).
type Tokenizer interface {
	Tokenize(text string) ([]int32, error)
	TokenText(id int32) string
}

// TokenString is the string of one token as Hugging Face's to_str_tokens gives it: each ill-formed
// piece of UTF-8 (a character split over tokens) becomes one U+FFFD, as Rust's from_utf8_lossy does.
func TokenString(tok Tokenizer, id int32) string {
	return pystr.DecodeUTF8(tok.TokenText(id))
}

// AttributeTokens is the set of string tokens of a subject's attributes, each tokenised as it appears
// in running text (" "+attribute) and at the start of a text (attribute), without tokens whose strip()
// is in stop (case-sensitive, as the reference's clean_df; nil: NLTKEnglish) or has at most 2 characters.
func AttributeTokens(tok Tokenizer, attrs []string, stop map[string]bool) (map[string]bool, error) {
	out := map[string]bool{}
	for _, a := range attrs {
		for _, text := range []string{" " + a, a} {
			ids, err := tok.Tokenize(text)
			if err != nil {
				return nil, fmt.Errorf("tokenizing attribute %q: %v", a, err)
			}
			addAttributeTokens(out, tok, ids, stop)
		}
	}
	return out, nil
}

// DefaultParagraphTokens is where the reference's tokenizer cut a subject's paragraphs: TransformerLens's
// to_str_tokens truncates to n_ctx, which its fork sets to 2048 for allenai/OLMo-7B*-hf.
const DefaultParagraphTokens = 2048

// ParagraphTokens is the reference's clean_df for one subject: set(model.to_str_tokens(paragraphs)),
// i.e. BOS and then the paragraphs' tokens, maxTokens in all (0: no cut), without the tokens whose
// strip() is in stop (case-sensitive; nil: NLTKEnglish) or has at most 2 characters. BOS
// ("<|endoftext|>") passes that filter, so a subject with empty paragraphs has one attribute token and
// rates 0, not -1, as in the reference.
func ParagraphTokens(tok Tokenizer, bos int32, text string, stop map[string]bool, maxTokens int) (map[string]bool, error) {
	ids, err := tok.Tokenize(text)
	if err != nil {
		return nil, fmt.Errorf("tokenizing paragraphs: %v", err)
	}
	ids = append([]int32{bos}, ids...)
	if maxTokens > 0 && len(ids) > maxTokens {
		ids = ids[:maxTokens]
	}
	out := map[string]bool{}
	addAttributeTokens(out, tok, ids, stop)
	return out, nil
}

func addAttributeTokens(out map[string]bool, tok Tokenizer, ids []int32, stop map[string]bool) {
	if stop == nil {
		stop = NLTKEnglish
	}
	for _, id := range ids {
		s := TokenString(tok, id)
		st := pystr.Strip(s)
		if stop[st] || utf8.RuneCountInString(st) <= 2 {
			continue
		}
		out[s] = true
	}
}

// CleanTokens keeps the predictions whose strip().lower() is not in stop (nil: NLTKEnglish) and whose
// strip() is longer than 2 characters (the reference's top_k_preds_clean).
func CleanTokens(top []string, stop map[string]bool) []string {
	if stop == nil {
		stop = NLTKEnglish
	}
	out := []string{}
	for _, s := range top {
		st := pystr.Strip(s)
		if stop[pystr.Lower(st)] || utf8.RuneCountInString(st) <= 2 {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Rate is the attributes rate of cleaned predictions: 100·|set(clean[:k]) ∩ attrs| / len(clean[:k]), or
// -1 (excluded) when the subject has no attributes (attrs nil) or nothing is left after cleaning. A
// subject whose attributes left no token after filtering (attrs empty, not nil) rates 0, as a
// reference subject whose paragraphs did.
func Rate(clean []string, attrs map[string]bool, k int) float64 {
	if k > 0 && len(clean) > k {
		clean = clean[:k]
	}
	if attrs == nil || len(clean) == 0 {
		return -1
	}
	hit := map[string]bool{}
	for _, s := range clean {
		if attrs[s] {
			hit[s] = true
		}
	}
	return 100 * float64(len(hit)) / float64(len(clean))
}
