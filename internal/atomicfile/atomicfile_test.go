package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func list(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestBuildDir: a folder is built beside its place and moved there whole; a failed build leaves the
// old folder (or none) and no temporary folder.
func TestBuildDir(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "a", "out") // a missing parent is made
	fill := func(name string) func(string) error {
		return func(tmp string) error { return WriteFile(filepath.Join(tmp, name), []byte(name)) }
	}
	if err := BuildDir(out, fill("one.txt")); err != nil {
		t.Fatal(err)
	}
	if got := list(t, out); !slices.Equal(got, []string{".", "one.txt"}) {
		t.Fatalf("first build: %v", got)
	}
	boom := errors.New("boom")
	if err := BuildDir(out, func(tmp string) error {
		fill("half.txt")(tmp)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed build: %v", err)
	}
	if got := list(t, out); !slices.Equal(got, []string{".", "one.txt"}) {
		t.Errorf("after a failed build: %v", got)
	}
	if err := BuildDir(out, fill("two.txt")); err != nil {
		t.Fatal(err)
	}
	if got := list(t, out); !slices.Equal(got, []string{".", "two.txt"}) {
		t.Errorf("second build: %v", got)
	}
	if got := list(t, filepath.Dir(out)); !slices.Equal(got, []string{".", "out", "out/two.txt"}) {
		t.Errorf("beside the folder: %v (temporary or old folders left?)", got)
	}
	failed := filepath.Join(parent, "never")
	if err := BuildDir(failed, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := os.Stat(failed); err == nil {
		t.Error("a failed first build left its folder")
	}
	if got := list(t, parent); !slices.Equal(got, []string{".", "a", "a/out", "a/out/two.txt"}) {
		t.Errorf("parent: %v", got)
	}
}
