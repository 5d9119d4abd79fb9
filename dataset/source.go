package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultMaxLength is the row length of dolma-small (paper-spec §7), BOS included.
const DefaultMaxLength = 1024

// Tokenizer is what the engine (bindings.Model) provides for turning text into rows.
type Tokenizer interface {
	// Tokenize returns the ids of text without BOS, with special-token text not parsed.
	Tokenize(text string) ([]int32, error)
	// EOS is the end-of-text id.
	EOS() int32
	// BOS is the id prepended to a text: OLMo has none and takes EOS (paper-spec §7).
	BOS() int32
	// VocabSize bounds valid ids: every id must be in [0, VocabSize).
	VocabSize() int
}

// Field names the columns/keys a source row is read from.
const (
	FieldAuto     = ""          // input_ids when present, else text
	FieldText     = "text"      // always tokenise text
	FieldInputIDs = "input_ids" // always take ids as given
)

// Options control how source rows become token rows. The zero value is the dolma-small recipe
// without a budget: MaxLength 1024, BOS prepended to text rows, over-long input_ids rejected.
type Options struct {
	// MaxLength is the longest row, BOS included; 0 means DefaultMaxLength, <0 no limit.
	// Text is truncated to it (as HF truncation=True); input_ids longer than it are an error
	// unless TruncateIDs is set, because pre-tokenised data came with its own convention and
	// silently cutting it would change what an experiment measures.
	MaxLength int
	// MaxTokens stops the stream once the cumulative token count reaches it: the result is the
	// shortest prefix of rows whose count is ≥ MaxTokens (dolma-small: 20,000,000). 0: no limit.
	MaxTokens int64
	// NoBOS turns off prepending BOS (OLMo: the EOS id) to text rows. (A negative flag so that the zero
	// Options follows the paper; input_ids rows are never changed.)
	NoBOS bool
	// TruncateIDs cuts input_ids rows longer than MaxLength instead of failing.
	TruncateIDs bool
	// Field forces the text or input_ids column/key; FieldAuto prefers input_ids.
	Field string
	// VocabSize validates input_ids when no Tokenizer is given (0: only non-negativity is checked).
	VocabSize int
	// FullTokenize tokenises whole documents before truncating; by default only a prefix long enough
	// for MaxLength tokens is tokenised (see tokenizeLimited), which is exact for whitespace-pretokenised
	// BPE such as OLMo's and saves tokenising megabyte-long books to keep 1024 tokens.
	FullTokenize bool
}

func (o Options) maxLength() int {
	if o.MaxLength == 0 {
		return DefaultMaxLength
	}
	return o.MaxLength
}

// Row is one token row. Index counts the rows this Reader returned, from 0 (for a token
// dataset opened with Tokens.Rows it is the row's index in the data set). IDs is not reused.
type Row struct {
	Index int
	IDs   []int32
}

// Reader streams rows; Next returns io.EOF after the last row (or once MaxTokens is reached).
type Reader interface {
	Next() (Row, error)
	Close() error
}

// Kind is the detected type of a source.
type Kind string

const (
	KindJSONL   Kind = "jsonl"
	KindText    Kind = "txt"
	KindTextDir Kind = "txt-dir"
	KindParquet Kind = "parquet"
	KindArrow   Kind = "arrow"
	KindHF      Kind = "hf-dataset"
	KindTokens  Kind = "wcos-tokens"
)

// DetectKind names the source type of path: by extension for files (.jsonl, .ndjson, .json, each
// optionally .gz or .zst; .txt; .parquet; .arrow), by marker files for directories.
func DetectKind(path string) (Kind, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		switch {
		case exists(filepath.Join(path, metaName)):
			return KindTokens, nil
		case exists(filepath.Join(path, "dataset_dict.json")):
			splits, _ := filepath.Glob(filepath.Join(path, "*", "state.json"))
			var names []string
			for _, s := range splits {
				names = append(names, filepath.Base(filepath.Dir(s)))
			}
			return "", fmt.Errorf("%s: a Hugging Face DatasetDict; name one split directory (%s)", path, strings.Join(names, ", "))
		case exists(filepath.Join(path, "state.json")) || exists(filepath.Join(path, "dataset_info.json")):
			return KindHF, nil
		}
		return KindTextDir, nil
	}
	name := strings.ToLower(filepath.Base(path))
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".zst")
	switch filepath.Ext(name) {
	case ".jsonl", ".ndjson", ".json":
		return KindJSONL, nil
	case ".txt":
		return KindText, nil
	case ".parquet":
		return KindParquet, nil
	case ".arrow":
		return KindArrow, nil
	}
	return "", fmt.Errorf("%s: unknown source type (want .jsonl, .json, .txt, .parquet, .arrow or a directory)", path)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// record is one source row before tokenisation/validation; pos says where it came from for errors.
type record struct {
	pos    string
	text   string
	ids    []int64
	isText bool
}

// source yields records; each format implements it.
type source interface {
	next() (record, error)
	Close() error
}

// Open streams the rows of a source (see DetectKind). tok may be nil when every row has input_ids.
func Open(path string, tok Tokenizer, opts Options) (Reader, error) {
	switch opts.Field {
	case FieldAuto, FieldText, FieldInputIDs:
	default:
		return nil, fmt.Errorf("unknown field %q (want text or input_ids)", opts.Field)
	}
	if !opts.NoBOS && opts.maxLength() == 1 {
		return nil, errors.New("max length 1 leaves no room for text after BOS")
	}
	kind, err := DetectKind(path)
	if err != nil {
		return nil, err
	}
	var src source
	switch kind {
	case KindJSONL:
		src, err = openJSONL(path, opts.Field)
	case KindText:
		src, err = openText([]string{path})
	case KindTextDir:
		src, err = openTextDir(path)
	case KindParquet:
		src, err = openParquet(path, opts.Field)
	case KindArrow:
		src, err = openArrowFiles([]string{path}, opts.Field)
	case KindHF:
		src, err = openHF(path, opts.Field)
	case KindTokens:
		src, err = openTokensSource(path, opts.Field, tok)
	}
	if err != nil {
		return nil, err
	}
	return &reader{src: src, tok: tok, opts: opts}, nil
}

// reader turns records into validated rows and applies MaxTokens.
type reader struct {
	src    source
	tok    Tokenizer
	opts   Options
	n      int
	tokens int64
	done   bool
}

func (r *reader) Next() (Row, error) {
	if r.done || (r.opts.MaxTokens > 0 && r.tokens >= r.opts.MaxTokens) {
		r.done = true
		return Row{}, io.EOF
	}
	rec, err := r.src.next()
	if err != nil {
		if err == io.EOF {
			r.done = true
		}
		return Row{}, err
	}
	ids, err := r.convert(rec)
	if err != nil {
		return Row{}, fmt.Errorf("%s: %w", rec.pos, err)
	}
	row := Row{Index: r.n, IDs: ids}
	r.n++
	r.tokens += int64(len(ids))
	return row, nil
}

func (r *reader) Close() error { return r.src.Close() }

func (r *reader) convert(rec record) ([]int32, error) {
	maxLen := r.opts.maxLength()
	if rec.isText {
		if r.tok == nil {
			return nil, errors.New("text row needs a tokenizer (give a model)")
		}
		bos := !r.opts.NoBOS
		limit := maxLen
		if bos && limit > 0 {
			limit--
		}
		var ids []int32
		var err error
		if r.opts.FullTokenize {
			ids, err = r.tok.Tokenize(rec.text)
			if err == nil && limit >= 0 && len(ids) > limit {
				ids = ids[:limit]
			}
		} else {
			ids, err = tokenizeLimited(r.tok, rec.text, limit)
		}
		if err != nil {
			return nil, fmt.Errorf("tokenize: %w", err)
		}
		if len(ids) == 0 && !bos {
			return nil, errors.New("empty text (and no BOS to keep as the row)")
		}
		vocab := r.tok.VocabSize()
		for i, id := range ids {
			if id < 0 || (vocab > 0 && int(id) >= vocab) {
				return nil, fmt.Errorf("tokenizer returned id %d at %d outside vocab size %d", id, i, vocab)
			}
		}
		if bos {
			out := make([]int32, len(ids)+1)
			out[0] = r.tok.BOS()
			copy(out[1:], ids)
			return out, nil
		}
		return append([]int32(nil), ids...), nil
	}
	vocab := r.opts.VocabSize
	if r.tok != nil {
		vocab = r.tok.VocabSize()
	}
	return validateIDs(rec.ids, vocab, maxLen, r.opts.TruncateIDs)
}

// validateIDs checks pre-tokenised ids: non-empty, each in [0, vocab) (vocab 0: unchecked above),
// at most maxLen long (maxLen<0: unlimited) unless truncate.
func validateIDs(ids []int64, vocab, maxLen int, truncate bool) ([]int32, error) {
	if len(ids) == 0 {
		return nil, errors.New("empty input_ids")
	}
	if maxLen >= 0 && len(ids) > maxLen {
		if !truncate {
			return nil, fmt.Errorf("input_ids has %d ids, more than max length %d (truncate with --truncate-ids)", len(ids), maxLen)
		}
		ids = ids[:maxLen]
	}
	out := make([]int32, len(ids))
	for i, id := range ids {
		switch {
		case id < 0:
			return nil, fmt.Errorf("input_ids[%d] = %d is negative", i, id)
		case vocab > 0 && id >= int64(vocab):
			return nil, fmt.Errorf("input_ids[%d] = %d ≥ vocab size %d", i, id, vocab)
		case id > 1<<31-1:
			return nil, fmt.Errorf("input_ids[%d] = %d does not fit int32", i, id)
		}
		out[i] = int32(id)
	}
	return out, nil
}

func rowPos(name string, row int64) string { return name + ": row " + strconv.FormatInt(row, 10) }
