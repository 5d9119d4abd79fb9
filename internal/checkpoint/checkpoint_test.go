package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
)

// TestRowsDigest: the digest of rows is the one wcos entropy's checkpoints have recorded since v1
// (each row as its length and ids, little-endian uint32), so that they still resume.
func TestRowsDigest(t *testing.T) {
	var r Rows
	if got := r.Input().Value; !strings.HasPrefix(got, "0 rows, 0 tokens, sha256 e3b0c44298fc1c14") {
		t.Errorf("no rows: %q", got)
	}
	r.Add([]int32{1, 2, 3})
	r.Add([]int32{0x01020304})
	b := []byte{3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, 3, 2, 1}
	s := sha256.Sum256(b)
	want := Input{Key: "tokens", Name: "--dataset rows", Value: "2 rows, 4 tokens, sha256 " + hex.EncodeToString(s[:])[:16]}
	if got := r.Input(); got != want {
		t.Errorf("Input() = %+v, want %+v", got, want)
	}
}

// TestCheck: recorded inputs pass; another format, another value or a missing one is refused in one
// line naming the file, the input and how to start over.
func TestCheck(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	c := New(out, "x checkpoint v1", "x checkpoint", []Input{{Key: "a", Name: "--a", Value: "1"}, {Key: "b", Name: "--b", Value: "2"}})
	if c.Dir != out+".partial" || c.Path != filepath.Join(out+".partial", "checkpoint.safetensors") {
		t.Fatalf("Dir %q, Path %q", c.Dir, c.Path)
	}
	meta := map[string]string{}
	c.Record(meta)
	if err := c.Check(meta); err != nil {
		t.Fatalf("recorded inputs refused: %v", err)
	}
	edit := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range meta {
			m[k] = v
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		meta map[string]string
		want string
	}{
		{"format", edit("format", "y checkpoint v1"), `not a x checkpoint (format "y checkpoint v1")`},
		{"value", edit("input.b", "3"), "made with --b 3, this run has --b 2"},
		{"missing", edit("input.a", ""), "made with --a (not recorded), this run has --a 1"},
	} {
		err := c.Check(tc.meta)
		if err == nil || !strings.HasPrefix(err.Error(), c.Path+": ") || !strings.Contains(err.Error(), tc.want) ||
			!strings.HasSuffix(err.Error(), "delete "+c.Dir+" to start over") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming %s and %q", tc.name, err, c.Path, tc.want)
		}
	}
}
