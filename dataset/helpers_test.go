package dataset

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// byteTok maps each byte to its value; EOS is 256. Deterministic and enough for format tests.
type byteTok struct{ calls int }

func (t *byteTok) Tokenize(s string) ([]int32, error) {
	t.calls++
	ids := make([]int32, len(s))
	for i := 0; i < len(s); i++ {
		ids[i] = int32(s[i])
	}
	return ids, nil
}
func (*byteTok) EOS() int32     { return 256 }
func (*byteTok) BOS() int32     { return 256 }
func (*byteTok) VocabSize() int { return 257 }

// failTok fails on a marker, to test tokenizer errors.
type failTok struct{ byteTok }

func (t *failTok) Tokenize(s string) ([]int32, error) {
	if strings.Contains(s, "FAIL") {
		return nil, errors.New("cannot tokenize")
	}
	return t.byteTok.Tokenize(s)
}

// textRow is what byteTok gives for text with BOS and MaxLength maxLen.
func textRow(s string, maxLen int) []int32 {
	ids := []int32{256}
	for i := 0; i < len(s) && len(ids) < maxLen; i++ {
		ids = append(ids, int32(s[i]))
	}
	return ids
}

var (
	testDocs = []string{"hello world", "a", strings.Repeat("long document ", 200), "ünïcode ✓", "line\nbreaks\n\nand paragraphs"}
	testIDs  = [][]int32{{1, 2, 3}, {256}, {0}, {7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, {100, 200, 255}}
)

func write(t testing.TB, path string, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func jsonlText(docs []string) string {
	var b strings.Builder
	for _, d := range docs {
		line, _ := json.Marshal(map[string]string{"source": "test", "text": d})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func jsonlIDs(rows [][]int32) string {
	var b strings.Builder
	for _, r := range rows {
		line, _ := json.Marshal(map[string]any{"input_ids": r, "text": "ignored when input_ids is present"})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func writeGzip(t testing.TB, path, data string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	io.WriteString(zw, data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

type pqText struct {
	Source string `parquet:"source"`
	Text   string `parquet:"text,dict"`
}

type pqOptText struct {
	Text *string `parquet:"text,optional"`
}

type pqIDs struct {
	Text     string  `parquet:"text"`
	InputIDs []int32 `parquet:"input_ids,list"`
}

type pqRepeated struct {
	InputIDs []int64 `parquet:"input_ids"`
}

type pqOther struct {
	Foo string `parquet:"foo"`
}

// writeParquet writes rows with tiny pages and row groups, so that readers cross both.
func writeParquet[T any](t testing.TB, path string, rows []T) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.PageBufferSize(64))
	for i := range rows {
		if _, err := w.Write(rows[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := w.Flush(); err != nil { // a new row group every two rows
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// arrowColumn is a column for writeArrow: []string (text), [][]int32 (input_ids) or []*string.
type arrowColumn struct {
	name string
	data any
}

// writeArrow writes an Arrow IPC stream (as datasets' save_to_disk does), or the file format,
// in record batches of batch rows.
func writeArrow(t testing.TB, path string, fileFormat bool, batch int, cols ...arrowColumn) string {
	t.Helper()
	var fields []arrow.Field
	n := 0
	for _, c := range cols {
		switch d := c.data.(type) {
		case []string:
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.BinaryTypes.String, Nullable: true})
			n = len(d)
		case []*string:
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.BinaryTypes.String, Nullable: true})
			n = len(d)
		case [][]int32:
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true})
			n = len(d)
		case [][]int64:
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.LargeListOf(arrow.PrimitiveTypes.Int64), Nullable: true})
			n = len(d)
		}
	}
	schema := arrow.NewSchema(fields, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type writer interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	var w writer
	if fileFormat {
		w, err = ipc.NewFileWriter(f, ipc.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
	} else {
		w = ipc.NewWriter(f, ipc.WithSchema(schema))
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		for j, c := range cols {
			switch d := c.data.(type) {
			case []string:
				b.Field(j).(*array.StringBuilder).AppendValues(d[lo:hi], nil)
			case []*string:
				sb := b.Field(j).(*array.StringBuilder)
				for _, s := range d[lo:hi] {
					if s == nil {
						sb.AppendNull()
					} else {
						sb.Append(*s)
					}
				}
			case [][]int32:
				lb := b.Field(j).(*array.ListBuilder)
				vb := lb.ValueBuilder().(*array.Int32Builder)
				for _, r := range d[lo:hi] {
					if r == nil {
						lb.AppendNull()
						continue
					}
					lb.Append(true)
					vb.AppendValues(r, nil)
				}
			case [][]int64:
				lb := b.Field(j).(*array.LargeListBuilder)
				vb := lb.ValueBuilder().(*array.Int64Builder)
				for _, r := range d[lo:hi] {
					lb.Append(true)
					vb.AppendValues(r, nil)
				}
			}
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeHF lays out a save_to_disk directory with the rows split over two Arrow stream files.
func writeHF(t testing.TB, dir string, cols func(lo, hi int) []arrowColumn, n int) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	half := n / 2
	writeArrow(t, filepath.Join(dir, "data-00000-of-00002.arrow"), false, 2, cols(0, half)...)
	writeArrow(t, filepath.Join(dir, "data-00001-of-00002.arrow"), false, 2, cols(half, n)...)
	write(t, filepath.Join(dir, "dataset_info.json"), `{"features": {}}`)
	write(t, filepath.Join(dir, "state.json"), `{"_data_files": [{"filename": "data-00000-of-00002.arrow"}, {"filename": "data-00001-of-00002.arrow"}], "_fingerprint": "x"}`)
	return dir
}

func readAll(t testing.TB, path string, tok Tokenizer, opts Options) ([][]int32, error) {
	t.Helper()
	r, err := Open(path, tok, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows [][]int32
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		if row.Index != len(rows) {
			t.Fatalf("row index %d, want %d", row.Index, len(rows))
		}
		rows = append(rows, row.IDs)
	}
}

func textRows(docs []string, maxLen int) [][]int32 {
	var out [][]int32
	for _, d := range docs {
		out = append(out, textRow(d, maxLen))
	}
	return out
}

func equalRows(a, b [][]int32) bool {
	return slices.EqualFunc(a, b, func(x, y []int32) bool { return slices.Equal(x, y) })
}

func strPtr(s string) *string { return &s }
