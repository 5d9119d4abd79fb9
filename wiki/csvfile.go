package wiki

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// ReadCSV reads wiki.csv as the reference's wiki_retrieve.py (or Run) writes it: a header with the
// columns subject and paragraphs (others, such as pandas's unnamed index, are ignored), one subject a
// row. It returns subject → paragraphs; an empty cell is "" (pandas reads NaN, the reference fills in
// the empty string). A subject may appear only once.
func ReadCSV(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty, want a header with subject and paragraphs", path)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	si, pi := slices.Index(header, "subject"), slices.Index(header, "paragraphs")
	if si < 0 || pi < 0 {
		return nil, fmt.Errorf("%s: header %q has no subject and paragraphs columns", path, header)
	}
	out := map[string]string{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		s := rec[si]
		if s == "" {
			return nil, fmt.Errorf("%s:%d: empty subject", path, line)
		}
		if _, dup := out[s]; dup {
			return nil, fmt.Errorf("%s:%d: subject %q appears twice", path, line, s)
		}
		out[s] = rec[pi]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no subjects", path)
	}
	return out, nil
}
