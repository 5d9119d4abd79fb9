package dataset

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzParseJSONLine: any line either parses to a row that validates consistently or gives a
// one-line error; never a panic.
func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"text": "hello"}`, `{"input_ids": [1, 2, 3]}`, `{"input_ids": [1, 2.5]}`, `{"input_ids": []}`,
		`{"text": null}`, `{"input_ids": null, "text": "x"}`, `{"input_ids": [-1, 99999999999]}`, `[1]`, `{`,
		`{"text": "\ud800"}`, `{"source": "x"}`, `{"input_ids": ["1"]}`, ` {"text": 1} `, `{"input_ids": [1e3]}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, line []byte, fieldSel uint8) {
		field := []string{FieldAuto, FieldText, FieldInputIDs}[fieldSel%3]
		rec, err := parseJSONLine(line, field)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if (field == FieldText && !rec.isText) || (field == FieldInputIDs && rec.isText) {
			t.Fatalf("field %q gave isText=%v", field, rec.isText)
		}
		if !rec.isText {
			ids, err := validateIDs(rec.ids, 1000, 64, false)
			if err == nil {
				for _, id := range ids {
					if id < 0 || id >= 1000 {
						t.Fatalf("validated id %d", id)
					}
				}
				if len(ids) == 0 || len(ids) > 64 {
					t.Fatalf("validated length %d", len(ids))
				}
			}
		}
	})
}

// FuzzOpenTokens: corrupt offsets, meta or token files are rejected by OpenTokens or read back
// within bounds; never a panic or an out-of-range slice.
func FuzzOpenTokens(f *testing.F) {
	offsets := func(v ...int64) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
		return b
	}
	f.Add(offsets(0, 2, 3), 2, int64(3), 12)
	f.Add(offsets(0, 3, 2), 2, int64(2), 8)
	f.Add(offsets(0), 0, int64(0), 0)
	f.Add(offsets(5, 6), 1, int64(6), 24)
	f.Add(offsets(0, -1), 1, int64(-1), 0)
	f.Add([]byte{1, 2, 3}, 0, int64(0), 0)
	f.Fuzz(func(t *testing.T, off []byte, nRows int, nTokens int64, tokBytes int) {
		if tokBytes < 0 || tokBytes > 1<<16 || len(off) > 1<<16 {
			return
		}
		dir := t.TempDir()
		meta := fmt.Sprintf(`{"format": %q, "format_version": %d, "n_rows": %d, "n_tokens": %d}`, FormatName, FormatVersion, nRows, nTokens)
		os.WriteFile(filepath.Join(dir, metaName), []byte(meta), 0o644)
		os.WriteFile(filepath.Join(dir, offsetsName), off, 0o644)
		os.WriteFile(filepath.Join(dir, tokensName), make([]byte, tokBytes), 0o644)
		ts, err := OpenTokens(dir)
		if err != nil {
			return
		}
		defer ts.Close()
		for i := range ts.Len() {
			row, err := ts.Row(i)
			if err != nil || len(row) != ts.RowLen(i) {
				t.Fatalf("row %d of a data set that opened: %v", i, err)
			}
		}
		r, err := ts.Rows(0, ts.Len())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != ts.Len() {
			t.Fatalf("streamed %d rows of %d", n, ts.Len())
		}
	})
}

// writeBigJSONL writes n rows of about rowBytes bytes of text.
func writeBigJSONL(t testing.TB, path string, n, rowBytes int) int64 {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := strings.Repeat("abcdefgh ", rowBytes/9)
	for i := range n {
		fmt.Fprintf(f, "{\"source\": \"gen\", \"text\": \"%d %s\"}\n", i, text)
	}
	st, _ := f.Stat()
	return st.Size()
}

// TestMemoryFlat streams a generated multi-MB JSONL into a token dataset and checks that the live
// heap stays far below the source size: the reader holds one line, the writer a fixed buffer.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~16 MB")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "big.jsonl")
	size := writeBigJSONL(t, src, 2000, 8000) // ~16 MB of text, rows of 1024 tokens
	var base, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	sample := func() {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > peak.HeapAlloc {
			peak = m
		}
	}
	meta, err := Build(context.Background(), filepath.Join(dir, "ds"), []string{src}, &byteTok{}, BuildOptions{
		Progress: func(p Progress) {
			if p.Rows%250 == 0 {
				sample()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak.HeapAlloc) - int64(base.HeapAlloc)
	t.Logf("source %d MB, %d rows, %d tokens; live heap grew by at most %d KB", size>>20, meta.NRows, meta.NTokens, grew>>10)
	if meta.NRows != 2000 || meta.NTokens != 2000*1024 {
		t.Fatalf("rows %d tokens %d", meta.NRows, meta.NTokens)
	}
	// Fixed costs: 1 MB read buffer, 1 MB token write buffer, one line (~8 KB), sha256 state.
	if limit := int64(4 << 20); grew > limit || grew > size/3 {
		t.Fatalf("live heap grew by %d KB while streaming a %d KB source", grew>>10, size>>10)
	}

	// Reading the stored data set back is flat too.
	ts, err := OpenTokens(filepath.Join(dir, "ds"))
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	r, _ := ts.Rows(0, ts.Len())
	runtime.GC()
	runtime.ReadMemStats(&base)
	peak = base
	for i := 0; ; i++ {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if i%250 == 0 {
			sample()
		}
	}
	if grew := int64(peak.HeapAlloc) - int64(base.HeapAlloc); grew > 4<<20 {
		t.Fatalf("reading back: live heap grew by %d KB", grew>>10)
	}
}

// BenchmarkBuildJSONL measures source → token dataset throughput (byte tokenizer, so this is the
// I/O and format cost without the model's tokenizer).
func BenchmarkBuildJSONL(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "big.jsonl")
	size := writeBigJSONL(b, src, 1000, 8000)
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Build(context.Background(), filepath.Join(dir, fmt.Sprint("ds", i)), []string{src}, &byteTok{}, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadTokens measures streaming a stored data set.
func BenchmarkReadTokens(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "big.jsonl")
	writeBigJSONL(b, src, 1000, 8000)
	if _, err := Build(context.Background(), filepath.Join(dir, "ds"), []string{src}, &byteTok{}, BuildOptions{}); err != nil {
		b.Fatal(err)
	}
	ts, err := OpenTokens(filepath.Join(dir, "ds"))
	if err != nil {
		b.Fatal(err)
	}
	defer ts.Close()
	b.SetBytes(4 * ts.NumTokens())
	for b.Loop() {
		r, _ := ts.Rows(0, ts.Len())
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
