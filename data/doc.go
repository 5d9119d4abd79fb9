// Package data ships the default evaluation text (State of the Union addresses from years ending in 5
// and every tenth Moby Dick chapter, held out from tiny-olmo's training) and the facts for the
// attributes-rate experiment, embedded so that commands run without arguments.
package data

import (
	"embed"
	"os"
	"path/filepath"
)

//go:embed eval/sotu-moby-valid.jsonl facts/facts.jsonl facts/subject_attributes.json
var files embed.FS

// EvalName is the default evaluation data set's file name.
const EvalName = "sotu-moby-valid.jsonl"

// Extract writes the embedded file name (e.g. "eval/sotu-moby-valid.jsonl") into dir (once) and
// returns its path.
func Extract(dir, name string) (string, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.Base(name))
	if st, err := os.Stat(out); err == nil && st.Size() == int64(len(b)) {
		return out, nil
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}
