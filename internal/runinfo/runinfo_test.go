package runinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: run.json holds the command, options, an input's hash and the times; a nil Info writes
// nothing.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "facts.jsonl")
	content := []byte(`{"id": 0}` + "\n")
	if err := os.WriteFile(in, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := Hash(in)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if fi.SHA256 != hex.EncodeToString(sum[:]) || fi.Size != int64(len(content)) || !filepath.IsAbs(fi.Path) {
		t.Errorf("Hash: %+v", fi)
	}
	info := New("wiki", map[string]any{"k": 100})
	// "" and a folder are skipped; a missing file is an error.
	if err := info.AddInputs("", dir, in); err != nil {
		t.Fatal(err)
	}
	if err := info.AddInputs(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing input was hashed")
	}
	if sha, err := info.SetModel(in); err != nil || sha != fi.SHA256 || *info.Model != fi {
		t.Errorf("SetModel: %q, %v, %+v", sha, err, info.Model)
	}
	if err := info.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Info
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Command != "wiki" || got.Options["k"] != 100.0 || len(got.Inputs) != 1 || got.Inputs[0] != fi ||
		got.Finished.Before(got.Started) || got.Versions["wcos"] != Version {
		t.Errorf("run.json: %s", b)
	}
	var none *Info
	empty := t.TempDir()
	if err := none.Write(empty); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("a nil Info wrote %v", ents)
	}
}
