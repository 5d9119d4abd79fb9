package dataset

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSourcesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	const maxLen = 64
	wantText := textRows(testDocs, maxLen)
	i64 := func(rows [][]int32) [][]int64 {
		var out [][]int64
		for _, r := range rows {
			var x []int64
			for _, v := range r {
				x = append(x, int64(v))
			}
			out = append(out, x)
		}
		return out
	}
	var pqTexts []pqText
	for _, d := range testDocs {
		pqTexts = append(pqTexts, pqText{Source: "s", Text: d})
	}
	var pqIDRows []pqIDs
	var pqRep []pqRepeated
	for _, r := range testIDs {
		pqIDRows = append(pqIDRows, pqIDs{Text: "x", InputIDs: r})
		pqRep = append(pqRep, pqRepeated{InputIDs: i64([][]int32{r})[0]})
	}
	txtDir := filepath.Join(dir, "txt")
	for i, d := range testDocs {
		write(t, filepath.Join(txtDir, fmt.Sprintf("doc%02d.txt", i)), d)
	}
	write(t, filepath.Join(txtDir, "README.md"), "not a document")
	tokDir := filepath.Join(dir, "tokens")
	if _, err := Build(context.Background(), tokDir, []string{write(t, filepath.Join(dir, "for-tokens.jsonl"), jsonlIDs(testIDs))}, &byteTok{}, BuildOptions{}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		path  string
		field string
		want  [][]int32
	}{
		{"jsonl text", write(t, filepath.Join(dir, "a.jsonl"), jsonlText(testDocs)), "", wantText},
		{"jsonl input_ids preferred", write(t, filepath.Join(dir, "b.jsonl"), jsonlIDs(testIDs)), "", testIDs},
		{"jsonl null input_ids falls back to text", write(t, filepath.Join(dir, "n.jsonl"), `{"input_ids": null, "text": "hello world"}`+"\n"), "", wantText[:1]},
		{"jsonl field=text forces text", filepath.Join(dir, "b.jsonl"), FieldText, textRows(slices.Repeat([]string{"ignored when input_ids is present"}, len(testIDs)), maxLen)},
		{"jsonl without final newline and with blank lines", write(t, filepath.Join(dir, "c.jsonl"), "\n"+strings.ReplaceAll(strings.TrimSuffix(jsonlText(testDocs), "\n"), "\n", "\n\n")), "", wantText},
		{"json.gz (dolma layout)", writeGzip(t, filepath.Join(dir, "d.json.gz"), jsonlText(testDocs)), "", wantText},
		{"txt file", write(t, filepath.Join(dir, "one.txt"), testDocs[2]), "", wantText[2:3]},
		{"txt directory", txtDir, "", wantText},
		{"parquet text (dict, row groups, pages)", writeParquet(t, filepath.Join(dir, "t.parquet"), pqTexts), "", wantText},
		{"parquet list<int32> input_ids", writeParquet(t, filepath.Join(dir, "i.parquet"), pqIDRows), "", testIDs},
		{"parquet repeated int64 input_ids", writeParquet(t, filepath.Join(dir, "r.parquet"), pqRep), "", testIDs},
		{"parquet field=text", filepath.Join(dir, "i.parquet"), FieldText, textRows(slices.Repeat([]string{"x"}, len(testIDs)), maxLen)},
		{"arrow stream text", writeArrow(t, filepath.Join(dir, "t.arrow"), false, 2, arrowColumn{"text", testDocs}), "", wantText},
		{"arrow stream list<int32>", writeArrow(t, filepath.Join(dir, "i.arrow"), false, 3, arrowColumn{"text", slices.Repeat([]string{"x"}, len(testIDs))}, arrowColumn{"input_ids", testIDs}), "", testIDs},
		{"arrow file large_list<int64>", writeArrow(t, filepath.Join(dir, "f.arrow"), true, 2, arrowColumn{"input_ids", i64(testIDs)}), "", testIDs},
		{"hf save_to_disk text", writeHF(t, filepath.Join(dir, "hf-text"), func(lo, hi int) []arrowColumn {
			return []arrowColumn{{"text", testDocs[lo:hi]}}
		}, len(testDocs)), "", wantText},
		{"hf save_to_disk input_ids (dolma-small layout)", writeHF(t, filepath.Join(dir, "hf-ids"), func(lo, hi int) []arrowColumn {
			return []arrowColumn{{"text", slices.Repeat([]string{"x"}, hi-lo)}, {"input_ids", testIDs[lo:hi]}, {"attention_mask", testIDs[lo:hi]}}
		}, len(testIDs)), "", testIDs},
		{"wcos token dataset", tokDir, "", testIDs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, c.path, &byteTok{}, Options{MaxLength: maxLen, Field: c.field})
			if err != nil {
				t.Fatal(err)
			}
			if !equalRows(got, c.want) {
				t.Fatalf("rows differ:\n got %v\nwant %v", got, c.want)
			}
			// And through the on-disk format.
			out := filepath.Join(t.TempDir(), "out")
			meta, err := Build(context.Background(), out, []string{c.path}, &byteTok{}, BuildOptions{Options: Options{MaxLength: maxLen, Field: c.field}})
			if err != nil {
				t.Fatal(err)
			}
			ts, err := OpenTokens(out)
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			if ts.Len() != len(c.want) || meta.NRows != len(c.want) {
				t.Fatalf("n_rows %d/%d, want %d", ts.Len(), meta.NRows, len(c.want))
			}
			for i, w := range c.want {
				row, err := ts.Row(i)
				if err != nil || !slices.Equal(row, w) {
					t.Fatalf("stored row %d = %v, %v; want %v", i, row, err, w)
				}
			}
			if err := ts.Verify(); err != nil {
				t.Fatal(err)
			}
			if len(meta.Sources) != 1 || len(meta.Sources[0].Files) == 0 || meta.Sources[0].Files[0].SHA256 == "" || !meta.Sources[0].Complete {
				t.Fatalf("source provenance: %+v", meta.Sources)
			}
		})
	}
}

// TestEmptyTextKeepsBOS: HF's tokenizer("") with add_bos_token gives [BOS], a one-token row that
// counts towards MaxTokens; without BOS there is nothing to keep.
func TestEmptyTextKeepsBOS(t *testing.T) {
	path := write(t, filepath.Join(t.TempDir(), "e.jsonl"), jsonlText([]string{"ab", "", "c"}))
	got, err := readAll(t, path, &byteTok{}, Options{})
	want := [][]int32{textRow("ab", 3), {(&byteTok{}).EOS()}, textRow("c", 2)}
	if err != nil || len(got) != len(want) {
		t.Fatalf("rows %v, %v; want %v", got, err, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("row %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestTruncationAndBOS(t *testing.T) {
	doc := strings.Repeat("x", 100)
	path := write(t, filepath.Join(t.TempDir(), "a.jsonl"), jsonlText([]string{doc})+jsonlIDs([][]int32{slices.Repeat([]int32{5}, 20)}))
	ids20 := slices.Repeat([]int32{5}, 20)
	cases := []struct {
		name    string
		opts    Options
		want    [][]int32
		wantErr string
	}{
		{"default 1024 with BOS", Options{}, [][]int32{textRow(doc, 1024), ids20}, ""},
		{"max 10 counts BOS", Options{MaxLength: 10, TruncateIDs: true}, [][]int32{textRow(doc, 10), ids20[:10]}, ""},
		{"no BOS", Options{MaxLength: 10, NoBOS: true, TruncateIDs: true}, [][]int32{textRow(doc, 11)[1:], ids20[:10]}, ""},
		{"unlimited", Options{MaxLength: -1}, [][]int32{textRow(doc, 1000), ids20}, ""},
		{"full tokenize same result", Options{MaxLength: 10, FullTokenize: true, TruncateIDs: true}, [][]int32{textRow(doc, 10), ids20[:10]}, ""},
		{"long input_ids is an error by default", Options{MaxLength: 10}, nil, "a.jsonl:2: input_ids has 20 ids, more than max length 10"},
		{"max length 1 with BOS", Options{MaxLength: 1}, nil, "no room"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, path, &byteTok{}, c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalRows(got, c.want) {
				t.Fatalf("got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestTokenBudget(t *testing.T) {
	dir := t.TempDir()
	// Rows of 1+10 tokens each (BOS + 10 bytes).
	docs := slices.Repeat([]string{"0123456789"}, 10)
	a := write(t, filepath.Join(dir, "a.jsonl"), jsonlText(docs[:5]))
	b := write(t, filepath.Join(dir, "b.jsonl"), jsonlText(docs[5:]))
	cases := []struct {
		name      string
		budget    int64
		wantRows  int
		complete  []bool
		budgetHit bool
	}{
		{"no budget", 0, 10, []bool{true, true}, false},
		{"budget inside a row keeps that row", 12, 2, []bool{false, true}, true},
		{"budget exactly at a row end", 22, 2, []bool{false, true}, true},
		{"budget crosses into second source", 60, 6, []bool{true, false}, true},
		{"budget beyond everything", 1000, 10, []bool{true, true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := readAll(t, a, &byteTok{}, Options{MaxTokens: c.budget})
			if err != nil {
				t.Fatal(err)
			}
			if want := min(c.wantRows, 5); len(rows) != want {
				t.Fatalf("single source: %d rows, want %d", len(rows), want)
			}
			out := filepath.Join(t.TempDir(), "out")
			meta, err := Build(context.Background(), out, []string{a, b}, &byteTok{}, BuildOptions{Options: Options{MaxTokens: c.budget}})
			if err != nil {
				t.Fatal(err)
			}
			if meta.NRows != c.wantRows || meta.NTokens != int64(11*c.wantRows) {
				t.Fatalf("rows %d tokens %d, want %d rows", meta.NRows, meta.NTokens, c.wantRows)
			}
			if meta.BudgetReached != c.budgetHit {
				t.Fatalf("budget_reached %v", meta.BudgetReached)
			}
			if c.budget > 0 && c.budgetHit && (meta.NTokens < c.budget || meta.NTokens-11 >= c.budget) {
				t.Fatalf("%d tokens is not the shortest prefix reaching %d", meta.NTokens, c.budget)
			}
			// Sources not reached keep Complete from their zero rows only when the budget stopped earlier.
			if c.name == "budget inside a row keeps that row" && (meta.Sources[1].Rows != 0) {
				t.Fatalf("second source read after budget: %+v", meta.Sources[1])
			}
			if meta.Sources[0].Complete != c.complete[0] {
				t.Fatalf("sources: %+v", meta.Sources)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	p := func(name, data string) string { return write(t, filepath.Join(dir, name), data) }
	good := `{"text": "ok"}` + "\n"
	cases := []struct {
		name    string
		path    string
		tok     Tokenizer
		opts    Options
		wantErr string // substring; the message must also be one line
	}{
		{"bad JSON", p("badjson.jsonl", good+`{"text": "unterminated}`+"\n"), &byteTok{}, Options{}, "badjson.jsonl:2: bad JSON"},
		{"not an object", p("array.jsonl", "[1,2]\n"), &byteTok{}, Options{}, "array.jsonl:1: bad JSON: not an object"},
		{"neither field", p("neither.jsonl", good+good+`{"source": "x"}`), &byteTok{}, Options{}, `neither.jsonl:3: neither "text" nor "input_ids"`},
		{"id >= vocab", p("vocab.jsonl", `{"input_ids": [1, 257]}`), &byteTok{}, Options{}, "vocab.jsonl:1: input_ids[1] = 257 ≥ vocab size 257"},
		{"id >= VocabSize without tokenizer", p("vocab2.jsonl", `{"input_ids": [9]}`), nil, Options{VocabSize: 9}, "vocab2.jsonl:1: input_ids[0] = 9 ≥ vocab size 9"},
		{"negative id", p("neg.jsonl", `{"input_ids": [1, -3]}`), &byteTok{}, Options{}, "neg.jsonl:1: input_ids[1] = -3 is negative"},
		{"non-integer id", p("float.jsonl", `{"input_ids": [1, 2.5]}`), &byteTok{}, Options{}, "float.jsonl:1: input_ids[1] = 2.5 is not an integer id"},
		{"string id", p("strid.jsonl", `{"input_ids": ["a"]}`), &byteTok{}, Options{}, `strid.jsonl:1: input_ids[0] = "a" is not an integer id`},
		{"input_ids not an array", p("ids-obj.jsonl", `{"input_ids": {"a": 1}}`), &byteTok{}, Options{}, `ids-obj.jsonl:1: "input_ids" is not an array`},
		{"empty input_ids", p("empty.jsonl", `{"input_ids": []}`), &byteTok{}, Options{}, "empty.jsonl:1: empty input_ids"},
		{"empty text without BOS", p("emptytext.jsonl", `{"text": ""}`), &byteTok{}, Options{NoBOS: true}, "emptytext.jsonl:1: empty text"},
		{"null input_ids and no text", p("nullids.jsonl", `{"input_ids": null}`), &byteTok{}, Options{}, `nullids.jsonl:1: "input_ids" is null`},
		{"null input_ids forced", p("nullids2.jsonl", `{"input_ids": null, "text": "x"}`), &byteTok{}, Options{Field: FieldInputIDs}, `nullids2.jsonl:1: "input_ids" is null`},
		{"null text", p("nulltext.jsonl", `{"text": null}`), &byteTok{}, Options{}, `nulltext.jsonl:1: "text" is null`},
		{"text not a string", p("numtext.jsonl", `{"text": 5}`), &byteTok{}, Options{}, `numtext.jsonl:1: "text" is not a string`},
		{"field=input_ids missing", p("noids.jsonl", good), &byteTok{}, Options{Field: FieldInputIDs}, `noids.jsonl:1: no "input_ids"`},
		{"text without tokenizer", p("notok.jsonl", good), nil, Options{}, "notok.jsonl:1: text row needs a tokenizer"},
		{"tokenizer error", p("tokfail.jsonl", `{"text": "FAIL"}`), &failTok{}, Options{}, "tokfail.jsonl:1: tokenize: cannot tokenize"},
		{"unknown extension", p("data.csv", "a,b"), &byteTok{}, Options{}, "data.csv: unknown source type"},
		{"unknown field option", p("field.jsonl", good), &byteTok{}, Options{Field: "tokens"}, `unknown field "tokens"`},
		{"parquet without column", writeParquet(t, filepath.Join(dir, "other.parquet"), []pqOther{{"a"}}), &byteTok{}, Options{}, `other.parquet: no "text" or "input_ids" column (columns: foo)`},
		{"parquet id >= vocab", writeParquet(t, filepath.Join(dir, "vocab.parquet"), []pqIDs{{"x", []int32{1}}, {"x", []int32{2, 300}}}), &byteTok{}, Options{}, "vocab.parquet: row 1: input_ids[1] = 300 ≥ vocab size 257"},
		{"parquet empty list", writeParquet(t, filepath.Join(dir, "emptylist.parquet"), []pqIDs{{"x", []int32{1}}, {"x", []int32{1}}, {"x", nil}}), &byteTok{}, Options{}, "emptylist.parquet: row 2: empty or null input_ids"},
		{"parquet null text", writeParquet(t, filepath.Join(dir, "nulltext.parquet"), []pqOptText{{strPtr("a")}, {nil}}), &byteTok{}, Options{}, "nulltext.parquet: row 1: text is null"},
		{"parquet text column of wrong type", writeParquet(t, filepath.Join(dir, "wrongtype.parquet"), []pqRepeated{{[]int64{1}}}), &byteTok{}, Options{Field: FieldText}, `wrongtype.parquet: no "text" column`},
		{"not parquet", p("junk.parquet", "definitely not parquet"), &byteTok{}, Options{}, "junk.parquet:"},
		{"arrow without column", writeArrow(t, filepath.Join(dir, "other.arrow"), false, 2, arrowColumn{"foo", []string{"a"}}), &byteTok{}, Options{}, `other.arrow: no "text" or "input_ids" column (columns: foo)`},
		{"arrow null text", writeArrow(t, filepath.Join(dir, "null.arrow"), false, 1, arrowColumn{"text", []*string{strPtr("a"), strPtr("b"), nil}}), &byteTok{}, Options{}, "null.arrow: row 2: text is null"},
		{"arrow null list", writeArrow(t, filepath.Join(dir, "nulllist.arrow"), false, 5, arrowColumn{"input_ids", [][]int32{{1}, nil}}), &byteTok{}, Options{}, "nulllist.arrow: row 1: input_ids is null"},
		{"arrow empty list", writeArrow(t, filepath.Join(dir, "emptylist.arrow"), false, 5, arrowColumn{"input_ids", [][]int32{{1}, {}}}), &byteTok{}, Options{}, "emptylist.arrow: row 1: empty input_ids"},
		{"arrow negative id", writeArrow(t, filepath.Join(dir, "neg.arrow"), false, 5, arrowColumn{"input_ids", [][]int32{{-1}}}), &byteTok{}, Options{}, "neg.arrow: row 0: input_ids[0] = -1 is negative"},
		{"arrow text column of wrong type", writeArrow(t, filepath.Join(dir, "wrong.arrow"), false, 5, arrowColumn{"text", [][]int32{{1}}}), &byteTok{}, Options{}, "wrong.arrow: column text has type list<item: int32, nullable>, want a string"},
		{"not arrow", p("junk.arrow", "definitely not arrow at all"), &byteTok{}, Options{}, "junk.arrow: not an Arrow IPC file"},
		{"hf without data files", filepath.Dir(p("hfempty/state.json", `{}`)), &byteTok{}, Options{}, "no data-*.arrow files"},
		{"hf DatasetDict", filepath.Dir(p("dd/dataset_dict.json", `{"splits": ["train"]}`)), &byteTok{}, Options{}, "DatasetDict; name one split directory"},
		{"txt dir without txt", filepath.Dir(p("notxt/a.md", "x")), &byteTok{}, Options{}, "no .txt files"},
		{"tokens dir with text field", filepath.Dir(p("tok/meta.json", "{}")), &byteTok{}, Options{Field: FieldText}, "has no text"},
		{"tokens dir with bad meta", filepath.Dir(p("tok2/meta.json", `{"format": "other"}`)), &byteTok{}, Options{}, `format "other" version 0`},
		{"missing file", filepath.Join(dir, "nope.jsonl"), &byteTok{}, Options{}, "nope.jsonl: no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(t, c.path, c.tok, c.opts)
			if err == nil {
				t.Fatalf("no error, want %q", c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q, want %q", err, c.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestAtomicOutput(t *testing.T) {
	dir := t.TempDir()
	src := write(t, filepath.Join(dir, "src.jsonl"), jsonlText(testDocs)+`{"input_ids": [-1]}`+"\n")
	out := filepath.Join(dir, "out", "ds")
	_, err := Build(context.Background(), out, []string{src}, &byteTok{}, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "src.jsonl:6: input_ids[0] = -1 is negative") {
		t.Fatalf("error %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "out"))
	if len(entries) != 0 {
		t.Fatalf("left behind after a failed build: %v", entries)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, out, []string{src}, &byteTok{}, BuildOptions{}); err != context.Canceled {
		t.Fatalf("cancelled build: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "out")); len(entries) != 0 {
		t.Fatalf("left behind after cancel: %v", entries)
	}

	good := write(t, filepath.Join(dir, "good.jsonl"), jsonlText(testDocs[:2]))
	if _, err := Build(context.Background(), out, []string{good}, &byteTok{}, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), out, []string{good}, &byteTok{}, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second build over existing output: %v", err)
	}
	// A failed overwrite keeps the old data set intact.
	if _, err := Build(context.Background(), out, []string{src}, &byteTok{}, BuildOptions{Overwrite: true}); err == nil {
		t.Fatal("bad source overwrote")
	}
	ts, err := OpenTokens(out)
	if err != nil || ts.Len() != 2 {
		t.Fatalf("old data set after failed overwrite: %v", err)
	}
	ts.Close()
	meta, err := Build(context.Background(), out, []string{good, good}, &byteTok{}, BuildOptions{Overwrite: true, Tokenizer: TokenizerInfo{Model: "m.gguf"}, Version: "test"})
	if err != nil || meta.NRows != 4 || meta.Tokenizer.Model != "m.gguf" || meta.WcosVersion != "test" {
		t.Fatalf("overwrite: %+v %v", meta, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "out")); len(entries) != 1 {
		t.Fatalf("out has %v, want only ds", entries)
	}
}

func TestRandomAccess(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var rows [][]int32
	var b strings.Builder
	for range 500 {
		r := make([]int32, 1+rng.IntN(50))
		for j := range r {
			r[j] = int32(rng.IntN(257))
		}
		rows = append(rows, r)
	}
	b.WriteString(jsonlIDs(rows))
	dir := t.TempDir()
	src := write(t, filepath.Join(dir, "src.jsonl"), b.String())
	out := filepath.Join(dir, "ds")
	if _, err := Build(context.Background(), out, []string{src}, &byteTok{}, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	ts, err := OpenTokens(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	for range 200 {
		i := rng.IntN(len(rows))
		got, err := ts.Row(i)
		if err != nil || !slices.Equal(got, rows[i]) || ts.RowLen(i) != len(rows[i]) {
			t.Fatalf("row %d: %v %v, want %v", i, got, err, rows[i])
		}
	}
	if _, err := ts.Row(len(rows)); err == nil {
		t.Fatal("row past the end")
	}
	// Shards cover every row once, in order, with global indices.
	for _, n := range []int{1, 3, 7, 500, 501} {
		next := 0
		for i := range n {
			lo, hi := ShardRange(ts.Len(), i, n)
			if lo != next {
				t.Fatalf("shard %d/%d starts at %d, want %d", i, n, lo, next)
			}
			r, err := ts.Rows(lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			for k := lo; k < hi; k++ {
				row, err := r.Next()
				if err != nil || row.Index != k || !slices.Equal(row.IDs, rows[k]) {
					t.Fatalf("shard %d/%d row %d: %+v %v", i, n, k, row, err)
				}
			}
			if _, err := r.Next(); err == nil {
				t.Fatal("shard reader ran past its end")
			}
			next = hi
		}
		if next != len(rows) {
			t.Fatalf("%d shards end at %d", n, next)
		}
	}
	if _, err := ts.Rows(10, 5); err == nil {
		t.Fatal("inverted range accepted")
	}
}

func TestCorruptTokens(t *testing.T) {
	src := write(t, filepath.Join(t.TempDir(), "s.jsonl"), jsonlIDs(testIDs))
	build := func(t *testing.T) string {
		out := filepath.Join(t.TempDir(), "ds")
		if _, err := Build(context.Background(), out, []string{src}, nil, BuildOptions{}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		name      string
		corrupt   func(dir string)
		openErr   string
		verifyErr string
	}{
		{"truncated tokens.bin", func(d string) { os.Truncate(filepath.Join(d, tokensName), 8) }, "tokens.bin has 8 bytes", ""},
		{"truncated offsets.bin", func(d string) { os.Truncate(filepath.Join(d, offsetsName), 16) }, "offsets.bin: 16 bytes", ""},
		{"decreasing offsets", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, offsetsName))
			b[8] = 99
			os.WriteFile(filepath.Join(d, offsetsName), b, 0o644)
		}, "offset 2 (4) < offset 1 (99)", ""},
		{"flipped token", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, tokensName))
			b[0] ^= 1
			os.WriteFile(filepath.Join(d, tokensName), b, 0o644)
		}, "", "tokens.bin sha256"},
		{"missing meta", func(d string) { os.Remove(filepath.Join(d, metaName)) }, "meta.json", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := build(t)
			c.corrupt(d)
			ts, err := OpenTokens(d)
			if c.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.openErr) {
					t.Fatalf("open error %v, want %q", err, c.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			if err := ts.Verify(); err == nil || !strings.Contains(err.Error(), c.verifyErr) {
				t.Fatalf("verify error %v, want %q", err, c.verifyErr)
			}
		})
	}
}

func TestMetaProvenance(t *testing.T) {
	dir := t.TempDir()
	src := write(t, filepath.Join(dir, "s.jsonl"), jsonlText(testDocs))
	hf := writeHF(t, filepath.Join(dir, "hf"), func(lo, hi int) []arrowColumn { return []arrowColumn{{"text", testDocs[lo:hi]}} }, len(testDocs))
	fp, err := Fingerprint(&byteTok{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ds")
	meta, err := Build(context.Background(), out, []string{src, hf}, &byteTok{}, BuildOptions{Tokenizer: TokenizerInfo{Model: "x.gguf", Fingerprint: fp}})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := OpenTokens(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	m := ts.Meta()
	want, _ := FileSHA256(src)
	switch {
	case m.Format != FormatName || m.FormatVersion != 1 || m.TokensDtype != "<i4" || m.OffsetsDtype != "<i8":
		t.Fatalf("format fields: %+v", m)
	case m.MaxLength != 1024 || m.BOSID == nil || *m.BOSID != 256 || *m.EOSID != 256 || m.VocabSize != 257:
		t.Fatalf("options: %+v", m)
	case m.Sources[0].Files[0].SHA256 != want || m.Sources[0].Rows != len(testDocs) || m.Sources[0].Kind != KindJSONL:
		t.Fatalf("jsonl source: %+v", m.Sources[0])
	case m.Sources[1].Kind != KindHF || len(m.Sources[1].Files) != 4 || m.Sources[1].Files[2].Name != "data-00000-of-00002.arrow":
		t.Fatalf("hf source: %+v", m.Sources[1])
	case m.Tokenizer.Fingerprint != fp || !strings.HasPrefix(fp, "sha256:") || m.Created == "" || m.WcosVersion == "":
		t.Fatalf("provenance: %+v", m)
	case m.NRows != 2*len(testDocs) || meta.NTokens != m.NTokens || m.MaxRowLength != 1024:
		t.Fatalf("counts: %+v", m)
	}
}

// TestTokenizerMismatch: a token data set recording a tokenizer's fingerprint opens for that tokenizer
// and without one, and is refused, naming it and the folder, for another (the ids would mean other
// tokens); one without a fingerprint opens for any.
func TestTokenizerMismatch(t *testing.T) {
	dir := t.TempDir()
	src := write(t, filepath.Join(dir, "s.jsonl"), jsonlText(testDocs))
	fp, err := Fingerprint(&byteTok{})
	if err != nil {
		t.Fatal(err)
	}
	marked, plain := filepath.Join(dir, "marked"), filepath.Join(dir, "plain")
	for _, c := range []struct {
		out string
		fp  string
	}{{marked, fp}, {plain, ""}} {
		if _, err := Build(context.Background(), c.out, []string{src}, &byteTok{}, BuildOptions{Tokenizer: TokenizerInfo{Model: "bytes.gguf", Fingerprint: c.fp}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		path string
		tok  Tokenizer
		want string // "" = opens
	}{
		{"same tokenizer", marked, &byteTok{}, ""},
		{"no tokenizer", marked, nil, ""},
		{"other tokenizer", marked, wordTok{}, "tokenised by another tokenizer (bytes.gguf)"},
		{"no fingerprint", plain, wordTok{}, ""},
	} {
		r, err := Open(c.path, c.tok, Options{})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else {
				r.Close()
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", c.name, err, c.path, c.want)
		}
	}
}

// wordTok is a BPE-like tokenizer with GPT-2-style pre-tokens (" word", "word", runs of spaces) split
// into ≤3-byte pieces; it checks that prefix tokenisation equals full tokenisation then truncation.
type wordTok struct{}

func (wordTok) Tokenize(s string) ([]int32, error) {
	var ids []int32
	for i := 0; i < len(s); {
		j := i
		if s[j] == ' ' {
			j++
		}
		for j < len(s) && s[j] != ' ' {
			j++
		}
		if j == i+1 && s[i] == ' ' { // a run of spaces
			for j < len(s) && s[j] == ' ' && (j+1 >= len(s) || s[j+1] == ' ') {
				j++
			}
		}
		for k := i; k < j; k += 3 {
			piece := s[k:min(k+3, j)]
			h := int32(7)
			for _, c := range []byte(piece) {
				h = (h*31 + int32(c)) % 50000
			}
			ids = append(ids, h)
		}
		i = j
	}
	return ids, nil
}
func (wordTok) EOS() int32     { return 50000 }
func (wordTok) BOS() int32     { return 50000 }
func (wordTok) VocabSize() int { return 50001 }

func TestPrefixTokenizeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"the", "whale", "  ", "Ahab", "1825", "état", "x", "supercalifragilistic", "\n\n", "—", ","}
	for trial := range 50 {
		var b strings.Builder
		for b.Len() < 20000+rng.IntN(40000) {
			b.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(4) > 0 {
				b.WriteByte(' ')
			}
		}
		text := b.String()
		for _, limit := range []int{1, 100, 1023, 5000} {
			full, _ := wordTok{}.Tokenize(text)
			full = full[:min(limit, len(full))]
			got, err := tokenizeLimited(wordTok{}, text, limit)
			if err != nil || !slices.Equal(got, full) {
				t.Fatalf("trial %d limit %d: prefix tokenisation differs (%d vs %d ids)", trial, limit, len(got), len(full))
			}
		}
	}
	// The prefix path is taken for long text: a byte tokenizer sees only the window.
	tok := &countTok{}
	long := strings.Repeat("word ", 100000)
	ids, _ := tokenizeLimited(tok, long, 1023)
	if len(ids) != 1023 || tok.maxLen > 1023*prefixBytesPerToken {
		t.Fatalf("tokenised %d bytes for 1023 ids", tok.maxLen)
	}
}

type countTok struct {
	byteTok
	maxLen int
}

func (t *countTok) Tokenize(s string) ([]int32, error) {
	t.maxLen = max(t.maxLen, len(s))
	return t.byteTok.Tokenize(s)
}
