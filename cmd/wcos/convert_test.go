package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runConvertCLI runs `wcos convert args…` in-process.
func runConvertCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "wcos", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{convertCommand()}}
	err := app.Run(append([]string{"wcos", "convert"}, args...))
	return out.String(), err
}

func TestConvertCLI(t *testing.T) {
	const hfDir = "../../testdata/fixtures/untied-olmo-random"
	dir := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		out     string // file that must exist afterwards ("" none)
		wantErr string
	}{
		{"flags after HF_DIR", []string{hfDir, "-o", filepath.Join(dir, "a.gguf"), "--type", "q8_0", "--threads", "1", "-q"}, "a.gguf", ""},
		{"flags before HF_DIR", []string{"--output", filepath.Join(dir, "b.gguf"), "--quiet", hfDir}, "b.gguf", ""},
		{"no output", []string{hfDir}, "", "-o OUT.gguf is required"},
		{"no HF_DIR", []string{"-o", filepath.Join(dir, "c.gguf")}, "", "missing HF_DIR"},
		{"two dirs", []string{hfDir, hfDir, "-o", filepath.Join(dir, "d.gguf")}, "", "unexpected arguments"},
		{"bad type", []string{hfDir, "-o", filepath.Join(dir, "e.gguf"), "--type", "q5"}, "", `unknown output type "q5"`},
		{"bad flag", []string{hfDir, "-o", filepath.Join(dir, "f.gguf"), "--bogus"}, "", "bogus"},
	}
	for _, c := range cases {
		out, err := runConvertCLI(t, c.args...)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, out)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, c.out)); err != nil || !strings.Contains(out, c.out) {
			t.Errorf("%s: %v; output %q", c.name, err, out)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("%d files in the output folder, want a.gguf and b.gguf", len(ents))
	}
	help, err := runConvertCLI(t, "--help")
	if err != nil || !strings.Contains(help, "OLMo-7B-0424-hf") || !strings.Contains(help, "q4_k_m") {
		t.Errorf("--help: %v\n%s", err, help)
	}
}
