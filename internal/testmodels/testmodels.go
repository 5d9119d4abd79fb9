// Package testmodels converts the repository's test checkpoints to GGUF once per test binary, so that
// engine tests in several packages share one recipe (and one cache directory per process).
package testmodels

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/wcos-dev/wcos/convert"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/safetensors"
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

// ReferenceDataset writes the token rows of tiny-olmo-reference.safetensors (4 × 64, no BOS) into
// dir as an input_ids JSONL file, the data set the engine tests run the reference on.
func ReferenceDataset(tb testing.TB, dir string) string {
	tb.Helper()
	ref, err := safetensors.Open(Fixture("tiny-olmo-reference.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	defer ref.Close()
	toks, err := ref.Int32("tokens")
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for r := range 4 {
		line, _ := json.Marshal(map[string]any{"input_ids": toks[r*64 : (r+1)*64]})
		b.Write(line)
		b.WriteByte('\n')
	}
	p := filepath.Join(dir, "ref.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// ReferenceAblated is the neuron set the reference fixture's ablate.* outputs ablate: neurons 0–9 of
// layer 5 and 100–109 of layer 7, sorted.
func ReferenceAblated() []hooks.Neuron {
	var ns []hooks.Neuron
	for i := range 10 {
		ns = append(ns, hooks.Neuron{Layer: 5, Index: i})
	}
	for i := range 10 {
		ns = append(ns, hooks.Neuron{Layer: 7, Index: 100 + i})
	}
	return ns
}
