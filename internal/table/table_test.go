package table

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestCSVMarkdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t")
	if err := Create(path, func(w *bufio.Writer) error {
		CSV(w, []string{"a", "b"}, []string{"1", "2"})
		Markdown(w, []string{"a", "b"}, []string{"---", "---:"}, []string{"x", "1"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a,b\n1,2\n| a | b |\n|---|---:|\n| x | 1 |\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func TestParquet(t *testing.T) {
	type row struct {
		I int32  `parquet:"i"`
		S string `parquet:"s,dict"`
	}
	var want []row
	for i := range 10000 { // more than one batch
		want = append(want, row{int32(i), string(rune('a' + i%3))})
	}
	path := filepath.Join(t.TempDir(), "t.parquet")
	if err := Parquet(path, slices.Values(want)); err != nil {
		t.Fatal(err)
	}
	got, err := parquet.ReadFile[row](path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("read back %d rows, not the %d written", len(got), len(want))
	}
}
