package dataset

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
)

// textSource yields one document per .txt file: splitting files into paragraphs would cut the
// long-range context (a speech, a chapter) that the 1024-token rows are meant to keep.
type textSource struct {
	files []string
	i     int
}

func openText(files []string) (source, error) { return &textSource{files: files}, nil }

// openTextDir reads every *.txt (also .txt.gz, .txt.zst) below dir, in lexical path order.
func openTextDir(dir string) (source, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := strings.ToLower(d.Name())
		name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".zst")
		if !d.IsDir() && strings.HasSuffix(name, ".txt") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no .txt files, and not a Hugging Face save_to_disk or wcos token directory", dir)
	}
	return openText(files)
}

func (s *textSource) next() (record, error) {
	if s.i >= len(s.files) {
		return record{}, io.EOF
	}
	name := s.files[s.i]
	s.i++
	r, closeFn, err := openCompressed(name)
	if err != nil {
		return record{}, err
	}
	defer closeFn()
	b, err := io.ReadAll(r)
	if err != nil {
		return record{}, fmt.Errorf("%s: %w", name, err)
	}
	return record{pos: name, text: string(b), isText: true}, nil
}

func (s *textSource) Close() error { return nil }
