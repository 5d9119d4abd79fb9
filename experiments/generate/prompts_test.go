package generate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadPrompts(t *testing.T) {
	for _, c := range []struct {
		name, file, data string
		want             []string
		err              string
	}{
		{"text", "p.txt", "The capital of France is\n\n  In 1848\r\n", []string{"The capital of France is", "  In 1848"}, ""},
		{"jsonl", "p.jsonl", `{"prompt": "a\nb"}` + "\n" + `{"text": "c", "id": 3}` + "\n" + `{"prompt": ""}`, []string{"a\nb", "c", ""}, ""},
		{"jsonl without a prompt", "p.jsonl", `{"id": 1}`, nil, `p.jsonl:1: want an object with "prompt" or "text"`},
		{"broken jsonl", "p.json", `{"prompt": "a"}` + "\n" + `{"prompt": `, nil, "p.json:2:"},
		{"empty", "p.txt", "\n \n", nil, "no prompts"},
	} {
		path := filepath.Join(t.TempDir(), c.file)
		if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPrompts(path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line with %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

// FuzzReadPrompts: any file is read or refused in one line naming it; what is read has a prompt.
func FuzzReadPrompts(f *testing.F) {
	f.Add("a\nb\n", false)
	f.Add(`{"prompt": "x"}`, true)
	f.Add(`{"text": 3}`, true)
	f.Fuzz(func(t *testing.T, data string, jsonl bool) {
		name := "p.txt"
		if jsonl {
			name = "p.jsonl"
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPrompts(path)
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, path) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s", msg, path)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no prompts and no error")
		}
	})
}
