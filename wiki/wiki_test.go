package wiki

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// golden is testdata/golden.json, written by testdata/golden.py: a standard-library Python restatement
// of the reference's retrieval (bm25s as wiki_retrieve.py calls it) on testdata/paragraphs.txt and
// titles.txt, with Python's own regex, case mappings, rstrip and newline handling.
type golden struct {
	K               int      `json:"k"`
	Paragraphs      int      `json:"paragraphs"`
	AvgLength       float64  `json:"avg_length"`
	Terms           int      `json:"terms"`
	EmptyParagraphs int      `json:"empty_paragraphs"`
	Subjects        []string `json:"subjects"`
	Results         []struct {
		Subject string       `json:"subject"`
		Query   []string     `json:"query"`
		Hits    [][2]float64 `json:"hits"`
		Kept    []uint32     `json:"kept"`
		SHA256  string       `json:"paragraphs_sha256"`
	} `json:"results"`
	Words []struct {
		Text  string   `json:"text"`
		Words []string `json:"words"`
	} `json:"words"`
}

func readGolden(t testing.TB) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPythonWords(t *testing.T) {
	g := readGolden(t)
	for _, c := range g.Words {
		if got := Words(c.Text); !slices.Equal(got, c.Words) && !(len(got) == 0 && len(c.Words) == 0) {
			t.Errorf("Words(%q) = %q, Python %q", c.Text, got, c.Words)
		}
	}
}

// TestRetrieveMatchesPython runs the whole retrieval on the golden corpus: every subject's query, its
// top-k paragraphs with their float32 scores (exactly), the paragraphs the filter keeps and wiki.csv.
func TestRetrieveMatchesPython(t *testing.T) {
	g := readGolden(t)
	out := filepath.Join(t.TempDir(), "wiki")
	res, err := Run(Config{Paragraphs: "testdata/paragraphs.txt", Titles: "testdata/titles.txt",
		Subjects: append(g.Subjects, g.Subjects[0]), K: g.K, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Paragraphs != g.Paragraphs || s.AvgLength != g.AvgLength || s.Terms != g.Terms || s.EmptyParagraphs != g.EmptyParagraphs {
		t.Errorf("index: %d paragraphs, avg length %v, %d terms, %d empty; Python %d, %v, %d, %d",
			s.Paragraphs, s.AvgLength, s.Terms, s.EmptyParagraphs, g.Paragraphs, g.AvgLength, g.Terms, g.EmptyParagraphs)
	}
	if len(res.Subjects) != len(g.Results) {
		t.Fatalf("%d subjects (a repeated one dropped), Python %d", len(res.Subjects), len(g.Results))
	}
	withKept := 0
	for i, want := range g.Results {
		got := res.Subjects[i]
		if got.Subject != want.Subject || !slices.Equal(got.Query, want.Query) {
			t.Errorf("subject %d: %q with query %q, Python %q with %q", i, got.Subject, got.Query, want.Subject, want.Query)
			continue
		}
		if len(got.Hits) != len(want.Hits) {
			t.Errorf("%q: %d hits, Python %d", want.Subject, len(got.Hits), len(want.Hits))
			continue
		}
		for j, h := range want.Hits {
			if got.Hits[j].Doc != uint32(h[0]) || got.Hits[j].Score != float32(h[1]) {
				t.Errorf("%q hit %d: paragraph %d score %v, Python %v %v", want.Subject, j, got.Hits[j].Doc, got.Hits[j].Score, h[0], float32(h[1]))
			}
		}
		if !slices.Equal(got.Kept, want.Kept) && len(got.Kept)+len(want.Kept) > 0 {
			t.Errorf("%q: kept %v, Python %v", want.Subject, got.Kept, want.Kept)
		}
		if sum := sha256.Sum256([]byte(got.Paragraphs)); hex.EncodeToString(sum[:]) != want.SHA256 {
			t.Errorf("%q: paragraphs text differs from Python's", want.Subject)
		}
		if len(want.Kept) > 0 {
			withKept++
		}
	}
	if s.WithParagraphs != withKept {
		t.Errorf("summary: %d subjects with paragraphs, Python %d", s.WithParagraphs, withKept)
	}

	// wiki.csv: pandas's layout, read back as pandas would.
	f, err := os.Open(filepath.Join(out, "wiki.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(g.Results)+1 || !slices.Equal(rows[0], []string{"", "subject", "paragraphs"}) {
		t.Fatalf("wiki.csv: %d rows, header %q", len(rows), rows[0])
	}
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i) || r[1] != res.Subjects[i].Subject || r[2] != res.Subjects[i].Paragraphs {
			t.Errorf("wiki.csv row %d: %q, %q, %d bytes of paragraphs", i+1, r[0], r[1], len(r[2]))
		}
	}
	for _, name := range []string{"retrieval.jsonl", "summary.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}
