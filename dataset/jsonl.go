package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// openCompressed opens path, decompressing .gz/.zst (dolma ships its JSONL as .json.gz).
func openCompressed(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".gz"):
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return zr, func() error { zr.Close(); return f.Close() }, nil
	case strings.HasSuffix(lower, ".zst"):
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return zr, func() error { zr.Close(); return f.Close() }, nil
	}
	return f, f.Close, nil
}

type jsonlSource struct {
	name  string
	field string
	br    *bufio.Reader
	close func() error
	line  int
	buf   []byte
}

func openJSONL(path, field string) (source, error) {
	r, closeFn, err := openCompressed(path)
	if err != nil {
		return nil, err
	}
	return &jsonlSource{name: path, field: field, br: bufio.NewReaderSize(r, 1<<20), close: closeFn}, nil
}

func (s *jsonlSource) Close() error { return s.close() }

func (s *jsonlSource) next() (record, error) {
	for {
		line, err := s.readLine()
		if err == io.EOF && len(line) == 0 {
			return record{}, io.EOF
		}
		if err != nil && err != io.EOF {
			return record{}, fmt.Errorf("%s:%d: %w", s.name, s.line+1, err)
		}
		s.line++
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines (a trailing newline, hand-edited files) are not rows
		}
		rec, perr := parseJSONLine(line, s.field)
		if perr != nil {
			return record{}, fmt.Errorf("%s:%d: %w", s.name, s.line, perr)
		}
		rec.pos = s.name + ":" + strconv.Itoa(s.line)
		return rec, nil
	}
}

// readLine returns the next line without its newline, in a buffer reused between calls: one
// document is held at a time, however long.
func (s *jsonlSource) readLine() ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		chunk, err := s.br.ReadSlice('\n')
		s.buf = append(s.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(s.buf); n > 0 && s.buf[n-1] == '\n' {
			s.buf = s.buf[:n-1]
		}
		return s.buf, err
	}
}

// jsonRow keeps both fields raw so that absent, null and wrongly typed values can be told apart.
type jsonRow struct {
	Text     json.RawMessage `json:"text"`
	InputIDs json.RawMessage `json:"input_ids"`
}

// parseJSONLine reads one JSONL row: input_ids (when present and field allows) or text.
// The error is one line without position; the caller adds file and line.
func parseJSONLine(line []byte, field string) (record, error) {
	var row jsonRow
	if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '{' {
		return record{}, errors.New("bad JSON: not an object")
	}
	if err := json.Unmarshal(line, &row); err != nil {
		return record{}, fmt.Errorf("bad JSON: %s", oneLine(err.Error()))
	}
	// A null input_ids counts as absent when choosing (a text-only row in a mixed file); a field
	// forced by the caller must be present, and is then reported as null below.
	hasText, hasIDs := len(row.Text) > 0, len(row.InputIDs) > 0
	useIDs := hasIDs && field != FieldText && (field == FieldInputIDs || !isNull(row.InputIDs) || !hasText)
	if field == FieldInputIDs && !hasIDs {
		return record{}, errors.New(`no "input_ids"`)
	}
	if field == FieldText && !hasText {
		return record{}, errors.New(`no "text"`)
	}
	if !hasText && !hasIDs {
		return record{}, errors.New(`neither "text" nor "input_ids"`)
	}
	if useIDs {
		ids, err := parseIDs(row.InputIDs)
		if err != nil {
			return record{}, err
		}
		return record{ids: ids}, nil
	}
	var text *string
	if err := json.Unmarshal(row.Text, &text); err != nil {
		return record{}, fmt.Errorf(`"text" is not a string`)
	}
	if text == nil {
		return record{}, errors.New(`"text" is null`)
	}
	return record{text: *text, isText: true}, nil
}

// parseIDs decodes a JSON array of integers; the slow path only runs to name the bad element.
func parseIDs(raw json.RawMessage) ([]int64, error) {
	var ids []int64
	if err := json.Unmarshal(raw, &ids); err == nil {
		if ids == nil {
			return nil, errors.New(`"input_ids" is null`)
		}
		return ids, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, errors.New(`"input_ids" is not an array`)
	}
	for i, e := range elems {
		if _, err := strconv.ParseInt(string(e), 10, 64); err != nil {
			return nil, fmt.Errorf("input_ids[%d] = %s is not an integer id", i, clip(string(e), 40))
		}
	}
	return nil, errors.New(`"input_ids" is not an array of integers`)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
