// Package checkpoint is what the resumable experiments (wcos entropy, wcos freqs) share about their
// checkpoint in OUT.partial/checkpoint.safetensors: the inputs a checkpoint was made with, recorded in
// its metadata, and the one-line refusal that names the file and the first input that differs when a
// run with other inputs would resume it. A refused checkpoint is left as it is.
package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path/filepath"

	"github.com/wcos-dev/wcos/safetensors"
)

// Input is one thing a run's results depend on: its key in the checkpoint's metadata
// ("input."+Key), how a refusal names it (usually its flag) and its canonical value.
type Input struct{ Key, Name, Value string }

// File is a run's checkpoint: where it lies, the format it is marked with, and the inputs a run must
// match to resume it, compared in order.
type File struct {
	Dir, Path string // OUT.partial and the checkpoint in it
	Format    string // the metadata's "format", e.g. "wcos entropy checkpoint v1"
	Kind      string // how a refusal names a file of another format, e.g. "wcos entropy checkpoint"
	Inputs    []Input
}

// New is the checkpoint of a run writing to out: out.partial/checkpoint.safetensors.
func New(out, format, kind string, inputs []Input) *File {
	dir := filepath.Clean(out) + ".partial"
	return &File{Dir: dir, Path: filepath.Join(dir, "checkpoint.safetensors"), Format: format, Kind: kind, Inputs: inputs}
}

// Open returns the checkpoint left by an interrupted run (nil when there is none) after Check; one
// that cannot be read is an error, not a fresh start, so that it is never overwritten unseen.
func (c *File) Open() (*safetensors.File, error) {
	f, err := safetensors.Open(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, c.Unreadable(err)
	}
	if err := c.Check(f.Metadata); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Check compares a checkpoint's metadata with the run: its format, then its inputs, naming the first
// that differs (or is not recorded).
func (c *File) Check(meta map[string]string) error {
	if got := meta["format"]; got != c.Format {
		return fmt.Errorf("%s: not a %s (format %q); delete %s to start over", c.Path, c.Kind, got, c.Dir)
	}
	for _, in := range c.Inputs {
		if got, ok := meta["input."+in.Key]; !ok || got != in.Value {
			return fmt.Errorf("%s: made with %s %s, this run has %s %s; rerun with the inputs it was made with, or delete %s to start over",
				c.Path, in.Name, orMissing(got, ok), in.Name, in.Value, c.Dir)
		}
	}
	return nil
}

func orMissing(v string, ok bool) string {
	if !ok {
		return "(not recorded)"
	}
	return v
}

// Unreadable is the refusal of a checkpoint that cannot be read, from an error that names the file
// (as safetensors.Open's do).
func (c *File) Unreadable(err error) error {
	return fmt.Errorf("%v (delete %s to start over)", err, c.Dir)
}

// Damaged is the refusal of a checkpoint that reads but does not hold what its run needs.
func (c *File) Damaged(err error) error {
	return fmt.Errorf("%s: %v; delete %s to start over", c.Path, err, c.Dir)
}

// Record sets the format and the inputs in the metadata of a checkpoint about to be written.
func (c *File) Record(meta map[string]string) {
	meta["format"] = c.Format
	for _, in := range c.Inputs {
		meta["input."+in.Key] = in.Value
	}
}

// Rows digests token rows in the order a run decodes them (each as its length and its ids, little
// endian uint32), which covers the data set's content as tokenised and truncated: the data set, the
// tokenizer, --max-length and --max-tokens. The zero value is ready to use.
type Rows struct {
	h      hash.Hash
	buf    []byte
	rows   int
	tokens int64
}

// Add adds one row.
func (r *Rows) Add(ids []int32) {
	if r.h == nil {
		r.h = sha256.New()
	}
	b := binary.LittleEndian.AppendUint32(r.buf[:0], uint32(len(ids)))
	for _, t := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	r.h.Write(b)
	r.buf = b
	r.rows++
	r.tokens += int64(len(ids))
}

// Input is the rows added so far as the input "tokens" ("--dataset rows"); more rows may be added
// afterwards.
func (r *Rows) Input() Input {
	if r.h == nil {
		r.h = sha256.New()
	}
	return Input{Key: "tokens", Name: "--dataset rows", Value: fmt.Sprintf("%d rows, %d tokens, sha256 %s", r.rows, r.tokens, hex.EncodeToString(r.h.Sum(nil))[:16])}
}
