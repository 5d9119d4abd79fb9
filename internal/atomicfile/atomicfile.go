// Package atomicfile writes files and directories so that readers never see a partial result: data
// goes to a temporary name beside the target and is renamed into place only after a successful close.
package atomicfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes path on Commit. Abort (or a failed Commit) removes it.
type File struct {
	*os.File
	path string
	done bool
}

// Create opens a temporary file in path's directory.
func Create(path string) (*File, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit syncs, closes and renames the file into place.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("%s: already committed or aborted", f.path)
	}
	f.done = true
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.File.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.File.Name())
	}
	return err
}

// Abort discards the temporary file; it is a no-op after Commit, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// WriteJSON writes v to path atomically as indented JSON with a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'))
}

// WriteJSONL writes rows to path atomically, one JSON object a line, "<>&" as written.
func WriteJSONL[T any](path string, rows []T) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return WriteFile(path, b.Bytes())
}

// ReplaceDir moves the completed folder tmp to dir. An existing dir is moved aside first and removed
// only after the rename succeeded, so dir is always either the old folder or the new one.
func ReplaceDir(tmp, dir string) error {
	if _, err := os.Lstat(dir); err != nil {
		return os.Rename(tmp, dir)
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(old, dir)
		return err
	}
	return os.RemoveAll(old)
}

// TempDir creates an empty folder beside dir (and dir's missing parents) in which to build dir's
// contents before ReplaceDir moves it into place.
func TempDir(dir string) (string, error) {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
}

// BuildDir makes dir's contents with fill in a temporary folder beside it (TempDir) and then moves
// that into place (ReplaceDir); if fill fails, dir is left as it was and the temporary folder removed.
func BuildDir(dir string, fill func(tmp string) error) error {
	tmp, err := TempDir(dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	return ReplaceDir(tmp, dir)
}
