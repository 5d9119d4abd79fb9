package dataset

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/wcos-dev/wcos/internal/atomicfile"
)

// File names and identity of the on-disk token dataset (see doc.go and docs/dataset-format.md).
const (
	FormatName    = "wcos-tokens"
	FormatVersion = 1
	metaName      = "meta.json"
	tokensName    = "tokens.bin"
	offsetsName   = "offsets.bin"
)

// Meta is meta.json: what the data set is and where it came from.
type Meta struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	NRows         int    `json:"n_rows"`
	NTokens       int64  `json:"n_tokens"`
	TokensDtype   string `json:"tokens_dtype"`  // "<i4"
	OffsetsDtype  string `json:"offsets_dtype"` // "<i8"
	TokensSHA256  string `json:"tokens_sha256"`
	OffsetsSHA256 string `json:"offsets_sha256"`
	MaxRowLength  int    `json:"max_row_length"` // longest row actually stored

	// How the rows were made (Options).
	MaxLength   int    `json:"max_length"` // -1: unlimited
	MaxTokens   int64  `json:"max_tokens"` // 0: no budget
	BOSID       *int32 `json:"bos_id"`     // prepended to text rows; null when none was
	EOSID       *int32 `json:"eos_id"`     // null without a tokenizer
	VocabSize   int    `json:"vocab_size"` // ids were checked against it; 0: unchecked
	Field       string `json:"field"`      // "", "text" or "input_ids"
	TruncateIDs bool   `json:"truncate_ids"`

	Tokenizer TokenizerInfo `json:"tokenizer"`
	Sources   []SourceInfo  `json:"sources"`
	// BudgetReached: the stream stopped at MaxTokens, not at the end of the sources.
	BudgetReached bool   `json:"budget_reached"`
	WcosVersion   string `json:"wcos_version"`
	Created       string `json:"created"` // RFC 3339, UTC
}

// TokenizerInfo is provenance the caller supplies (the data set cannot know which model tokenised it).
type TokenizerInfo struct {
	Model       string `json:"model,omitempty"`        // path or name as given
	ModelSHA256 string `json:"model_sha256,omitempty"` // of the model file
	Fingerprint string `json:"fingerprint,omitempty"`  // see Fingerprint
}

// SourceInfo records one input: its files with hashes, and how much of it was used.
type SourceInfo struct {
	Path     string     `json:"path"`
	Kind     Kind       `json:"kind"`
	Files    []FileInfo `json:"files"`
	Rows     int        `json:"rows"`
	Tokens   int64      `json:"tokens"`
	Complete bool       `json:"complete"` // every row of the source was used
}

// FileInfo is one file of a source.
type FileInfo struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Writer appends rows to a new token dataset in a temporary directory beside the target; Commit
// renames it into place, so a reader (or a resumed experiment) never sees a partial data set.
type Writer struct {
	dir, tmp  string
	overwrite bool
	tokens    *atomicfile.File
	offsets   *atomicfile.File
	tw, ow    *bufio.Writer
	th, oh    hash.Hash
	n         int
	total     int64
	maxRow    int
	done      bool
	scratch   []byte
}

// Create starts a data set at dir, which must not exist unless overwrite is set.
func Create(dir string, overwrite bool) (*Writer, error) {
	if _, err := os.Stat(dir); err == nil && !overwrite {
		return nil, fmt.Errorf("%s already exists", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, tmp: tmp, overwrite: overwrite, th: sha256.New(), oh: sha256.New()}
	if w.tokens, err = atomicfile.Create(filepath.Join(tmp, tokensName)); err == nil {
		w.offsets, err = atomicfile.Create(filepath.Join(tmp, offsetsName))
	}
	if err != nil {
		w.Abort()
		return nil, err
	}
	w.tw = bufio.NewWriterSize(io.MultiWriter(w.tokens, w.th), 1<<20)
	w.ow = bufio.NewWriterSize(io.MultiWriter(w.offsets, w.oh), 64<<10)
	if err := binary.Write(w.ow, binary.LittleEndian, int64(0)); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Append adds one row.
func (w *Writer) Append(ids []int32) error {
	if w.done {
		return errors.New("dataset writer: already committed or aborted")
	}
	w.scratch = w.scratch[:0]
	for _, id := range ids {
		w.scratch = binary.LittleEndian.AppendUint32(w.scratch, uint32(id))
	}
	if _, err := w.tw.Write(w.scratch); err != nil {
		return err
	}
	w.n++
	w.total += int64(len(ids))
	w.maxRow = max(w.maxRow, len(ids))
	return binary.Write(w.ow, binary.LittleEndian, w.total)
}

// Rows and Tokens report what was appended so far.
func (w *Writer) Rows() int      { return w.n }
func (w *Writer) Tokens() int64  { return w.total }
func (w *Writer) MaxRowLen() int { return w.maxRow }

// Commit completes meta (counts, dtypes, hashes, format; Created if empty), writes it and moves the
// directory into place. With overwrite, an existing dir is replaced only after the new one is complete.
func (w *Writer) Commit(meta Meta) (Meta, error) {
	if w.done {
		return meta, errors.New("dataset writer: already committed or aborted")
	}
	defer w.Abort()
	// Temporary files and directories are private (0600/0700); a data set is shared like any output.
	for _, err := range []error{w.tw.Flush(), w.ow.Flush(), w.tokens.Chmod(0o644), w.offsets.Chmod(0o644),
		w.tokens.Commit(), w.offsets.Commit(), os.Chmod(w.tmp, 0o755)} {
		if err != nil {
			return meta, err
		}
	}
	meta.Format, meta.FormatVersion = FormatName, FormatVersion
	meta.NRows, meta.NTokens, meta.MaxRowLength = w.n, w.total, w.maxRow
	meta.TokensDtype, meta.OffsetsDtype = "<i4", "<i8"
	meta.TokensSHA256 = hex.EncodeToString(w.th.Sum(nil))
	meta.OffsetsSHA256 = hex.EncodeToString(w.oh.Sum(nil))
	if meta.Created == "" {
		meta.Created = time.Now().UTC().Format(time.RFC3339)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<i4" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(meta); err != nil {
		return meta, err
	}
	if err := atomicfile.WriteFile(filepath.Join(w.tmp, metaName), b.Bytes()); err != nil {
		return meta, err
	}
	if err := os.Chmod(filepath.Join(w.tmp, metaName), 0o644); err != nil {
		return meta, err
	}
	if err := syncDir(w.tmp); err != nil {
		return meta, err
	}
	var old string
	if _, err := os.Stat(w.dir); err == nil && w.overwrite {
		old = w.tmp + ".old"
		if err := os.Rename(w.dir, old); err != nil {
			return meta, err
		}
	}
	if err := os.Rename(w.tmp, w.dir); err != nil {
		if old != "" {
			os.Rename(old, w.dir)
		}
		return meta, err
	}
	w.done = true
	if old != "" {
		os.RemoveAll(old)
	}
	return meta, syncDir(filepath.Dir(filepath.Clean(w.dir)))
}

// Abort removes the temporary directory; a no-op after Commit, so it can be deferred.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.tokens != nil {
		w.tokens.Abort()
	}
	if w.offsets != nil {
		w.offsets.Abort()
	}
	os.RemoveAll(w.tmp)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Tokens is an opened token dataset. Rows are read from disk on demand (ReadAt, safe for concurrent
// use); only the offsets (8 bytes per row) are held in memory, for O(1) random access.
type Tokens struct {
	dir     string
	meta    Meta
	f       *os.File
	offsets []int64
}

// OpenTokens opens and checks a token dataset: format, sizes and offsets (not the hashes: see Verify).
func OpenTokens(dir string) (*Tokens, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if err != nil {
		return nil, err
	}
	var meta Meta
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("%s: bad %s: %s", dir, metaName, oneLine(err.Error()))
	}
	if meta.Format != FormatName || meta.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s: format %q version %d, want %q version %d", dir, meta.Format, meta.FormatVersion, FormatName, FormatVersion)
	}
	if meta.NRows < 0 || meta.NTokens < 0 {
		return nil, fmt.Errorf("%s: negative n_rows or n_tokens in %s", dir, metaName)
	}
	ob, err := os.ReadFile(filepath.Join(dir, offsetsName))
	if err != nil {
		return nil, err
	}
	offsets, err := decodeOffsets(ob, meta.NRows, meta.NTokens)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", dir, offsetsName, err)
	}
	f, err := os.Open(filepath.Join(dir, tokensName))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && st.Size() != 4*meta.NTokens {
		err = fmt.Errorf("%s: %s has %d bytes, want 4·n_tokens = %d", dir, tokensName, st.Size(), 4*meta.NTokens)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Tokens{dir: dir, meta: meta, f: f, offsets: offsets}, nil
}

// decodeOffsets parses offsets.bin and checks it is n+1 non-decreasing entries from 0 to total.
func decodeOffsets(b []byte, n int, total int64) ([]int64, error) {
	if int64(len(b)) != 8*(int64(n)+1) {
		return nil, fmt.Errorf("%d bytes, want 8·(n_rows+1) = %d", len(b), 8*(int64(n)+1))
	}
	offsets := make([]int64, n+1)
	for i := range offsets {
		offsets[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		if i == 0 && offsets[0] != 0 {
			return nil, fmt.Errorf("first offset %d, want 0", offsets[0])
		}
		if i > 0 && offsets[i] < offsets[i-1] {
			return nil, fmt.Errorf("offset %d (%d) < offset %d (%d)", i, offsets[i], i-1, offsets[i-1])
		}
	}
	if offsets[n] != total {
		return nil, fmt.Errorf("last offset %d, want n_tokens = %d", offsets[n], total)
	}
	return offsets, nil
}

func (t *Tokens) Close() error     { return t.f.Close() }
func (t *Tokens) Meta() Meta       { return t.meta }
func (t *Tokens) Len() int         { return t.meta.NRows }
func (t *Tokens) NumTokens() int64 { return t.meta.NTokens }
func (t *Tokens) Dir() string      { return t.dir }

// RowLen is the length of row i without reading it.
func (t *Tokens) RowLen(i int) int { return int(t.offsets[i+1] - t.offsets[i]) }

// Row reads row i.
func (t *Tokens) Row(i int) ([]int32, error) {
	if i < 0 || i >= t.meta.NRows {
		return nil, fmt.Errorf("%s: row %d out of range [0, %d)", t.dir, i, t.meta.NRows)
	}
	return t.readRange(t.offsets[i], t.offsets[i+1])
}

func (t *Tokens) readRange(start, end int64) ([]int32, error) {
	b := make([]byte, 4*(end-start))
	if _, err := t.f.ReadAt(b, 4*start); err != nil {
		return nil, fmt.Errorf("%s: %w", t.dir, err)
	}
	ids := make([]int32, end-start)
	for k := range ids {
		ids[k] = int32(binary.LittleEndian.Uint32(b[4*k:]))
	}
	return ids, nil
}

// Verify recomputes the sha256 of tokens.bin and offsets.bin against meta.json.
func (t *Tokens) Verify() error {
	for _, c := range []struct{ name, want string }{{tokensName, t.meta.TokensSHA256}, {offsetsName, t.meta.OffsetsSHA256}} {
		got, _, err := hashFile(filepath.Join(t.dir, c.name))
		if err != nil {
			return err
		}
		if got != c.want {
			return fmt.Errorf("%s: %s sha256 %s, meta.json says %s", t.dir, c.name, got, c.want)
		}
	}
	return nil
}

// Rows streams rows [start, end) through one buffered sequential read; Row.Index is the row's index
// in the data set, so a shard or a resumed run keeps global row numbers.
func (t *Tokens) Rows(start, end int) (Reader, error) {
	if start < 0 || end > t.meta.NRows || start > end {
		return nil, fmt.Errorf("%s: rows [%d, %d) out of range [0, %d]", t.dir, start, end, t.meta.NRows)
	}
	size := 4 * (t.offsets[end] - t.offsets[start])
	sr := io.NewSectionReader(t.f, 4*t.offsets[start], size)
	return &tokensReader{t: t, br: bufio.NewReaderSize(sr, int(min(size+16, 1<<20))), i: start, end: end}, nil
}

type tokensReader struct {
	t      *Tokens
	br     *bufio.Reader
	i, end int
	buf    []byte
}

func (r *tokensReader) Next() (Row, error) {
	if r.i >= r.end {
		return Row{}, io.EOF
	}
	n := r.t.RowLen(r.i)
	if cap(r.buf) < 4*n {
		r.buf = make([]byte, 4*n)
	}
	b := r.buf[:4*n]
	if _, err := io.ReadFull(r.br, b); err != nil {
		return Row{}, fmt.Errorf("%s: row %d: %w", r.t.dir, r.i, err)
	}
	ids := make([]int32, n)
	for k := range ids {
		ids[k] = int32(binary.LittleEndian.Uint32(b[4*k:]))
	}
	row := Row{Index: r.i, IDs: ids}
	r.i++
	return row, nil
}

func (r *tokensReader) Close() error { return nil }

// ShardRange is the contiguous row range [start, end) of shard i of n (0 ≤ i < n), balanced by rows.
func ShardRange(nRows, i, n int) (start, end int) {
	return int(int64(nRows) * int64(i) / int64(n)), int(int64(nRows) * int64(i+1) / int64(n))
}

// tokensSource adapts a token dataset to Open, so experiments read built data sets and raw sources
// alike (ids are re-validated against the caller's vocab and max length).
type tokensSource struct {
	t *Tokens
	r Reader
}

// openTokensSource opens a token data set to be read by the model whose tokenizer is tok (nil: none).
// A data set whose meta.json records another tokenizer's fingerprint is refused: its ids would mean
// other tokens (the reference ran Llama on OLMo's ids for a while, paper-spec §10).
func openTokensSource(dir, field string, tok Tokenizer) (source, error) {
	if field == FieldText {
		return nil, fmt.Errorf("%s: a token dataset has no text", dir)
	}
	t, err := OpenTokens(dir)
	if err != nil {
		return nil, err
	}
	if want := t.meta.Tokenizer.Fingerprint; want != "" && tok != nil {
		got, err := Fingerprint(tok)
		if err != nil {
			t.Close()
			return nil, err
		}
		if got != want {
			t.Close()
			return nil, fmt.Errorf("%s: tokenised by another tokenizer (%s) than the model's: rebuild it with wcos dataset --model, or give the text", dir, cmp.Or(t.meta.Tokenizer.Model, "fingerprint "+want))
		}
	}
	r, _ := t.Rows(0, t.Len())
	return &tokensSource{t: t, r: r}, nil
}

func (s *tokensSource) next() (record, error) {
	row, err := s.r.Next()
	if err != nil {
		return record{}, err
	}
	ids := make([]int64, len(row.IDs))
	for i, id := range row.IDs {
		ids[i] = int64(id)
	}
	return record{pos: rowPos(s.t.dir, int64(row.Index)), ids: ids}, nil
}

func (s *tokensSource) Close() error { return s.t.Close() }

func hashFile(path string) (string, int64, error) { return hashFileCtx(context.Background(), path) }

// hashFileCtx stops early when ctx is done, so that a failed build does not keep hashing gigabytes.
func hashFileCtx(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
