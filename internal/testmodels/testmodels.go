// Package testmodels converts the repository's test checkpoints to GGUF once per test binary, so that
// engine tests in several packages share one recipe (and one cache directory per process).
package testmodels

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/wcos-dev/wcos/convert"
)

// Root is the repository root (this file is internal/testmodels/testmodels.go).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Fixture is a path under testdata/fixtures.
func Fixture(name string) string { return filepath.Join(Root(), "testdata", "fixtures", name) }

// TinyDir is the shipped tiny-olmo checkpoint; UntiedDir the random untied-lm_head fixture.
func TinyDir() string   { return filepath.Join(Root(), "models", "tiny-olmo") }
func UntiedDir() string { return Fixture("untied-olmo-random") }

var (
	mu    sync.Mutex
	dir   string
	built = map[string]string{}
)

// GGUF converts hfDir to type typ (once per process) and returns the file.
func GGUF(tb testing.TB, hfDir, typ string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	key := hfDir + "|" + typ
	if p, ok := built[key]; ok {
		return p
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "wcos-test-gguf-*")
		if err != nil {
			tb.Fatal(err)
		}
		dir = d
	}
	out := filepath.Join(dir, filepath.Base(hfDir)+"-"+typ+".gguf")
	if _, err := convert.Convert(hfDir, out, convert.Options{Type: typ}); err != nil {
		tb.Fatalf("convert %s to %s: %v", hfDir, typ, err)
	}
	built[key] = out
	return out
}

// Cleanup removes the converted files; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// Main runs a package's tests and removes the converted models afterwards: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}
