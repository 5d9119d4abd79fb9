package wiki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	cases := []struct {
		name, content string
		want          map[string]string
		err           string // substring of the error; "" for none
	}{
		{"pandas layout", ",subject,paragraphs\n0,Chad,\" Chad is a country.\"\n1,Mali,\n", map[string]string{"Chad": " Chad is a country.", "Mali": ""}, ""},
		{"no index, other order, BOM", "\ufeffparagraphs,subject\n\" a, b\",X\n", map[string]string{"X": " a, b"}, ""},
		{"newlines and quotes in a cell", "subject,paragraphs\nX,\"line1\nline2 \"\"q\"\"\"\n", map[string]string{"X": "line1\nline2 \"q\""}, ""},
		{"CRLF", "subject,paragraphs\r\nX,text\r\n", map[string]string{"X": "text"}, ""},
		{"empty file", "", nil, "empty"},
		{"no paragraphs column", "subject,text\nX,y\n", nil, "no subject and paragraphs"},
		{"header only", "subject,paragraphs\n", nil, "no subjects"},
		{"short row", "subject,paragraphs\nX\n", nil, ":2: 1 fields"},
		{"empty subject", "subject,paragraphs\n,text\n", nil, ":2: empty subject"},
		{"duplicate subject", "subject,paragraphs\nX,a\nY,b\nX,c\n", nil, `:4: subject "X" appears twice`},
		{"bad quoting", "subject,paragraphs\nX,\"open\n", nil, "extraneous or missing"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		path := filepath.Join(dir, strings.Repeat("w", i+1)+".csv")
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCSV(path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want a one-line error naming the file and containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %q → %q, want %q", c.name, k, got[k], v)
			}
		}
	}
}

// FuzzReadCSV: any file is read or refused with a one-line error naming it; what is read has non-empty
// subjects.
func FuzzReadCSV(f *testing.F) {
	f.Add(",subject,paragraphs\n0,Chad,\" Chad is a country.\"\n1,Mali,\n")
	f.Add("subject,paragraphs\nX,\"a\nb\"\n")
	f.Add("\ufeffsubject\n")
	f.Add("subject,paragraphs\n\"X\"\"\",\"")
	dir := f.TempDir()
	path := filepath.Join(dir, "wiki.csv")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCSV(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming %s", err, path)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no error and no subjects")
		}
		for s := range got {
			if s == "" {
				t.Fatal("empty subject read")
			}
		}
	})
}

// TestRunBadInput: mismatched files are refused with a one-line error naming them, before any output.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	paras := write("p.txt", "Chad is a country.\n\nMali too.\n")
	titles := write("t.txt", "Chad\n")
	blank := write("b.txt", " \n\t\r\n")
	for _, c := range []struct {
		name              string
		paragraphs, title string
		subjects          []string
		want              []string
	}{
		{"fewer titles", paras, titles, []string{"Chad"}, []string{titles, "1 non-blank lines", paras, "2"}},
		{"blank corpus", blank, blank, []string{"Chad"}, []string{blank, "no paragraphs"}},
		{"missing titles", paras, filepath.Join(dir, "none.txt"), []string{"Chad"}, []string{"none.txt"}},
		{"no subjects", paras, titles, nil, []string{"no subjects"}},
	} {
		out := filepath.Join(dir, "out")
		_, err := Run(Config{Paragraphs: c.paragraphs, Titles: c.title, Subjects: c.subjects, Out: out})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output written", c.name)
		}
	}
}
