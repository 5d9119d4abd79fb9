package attributes

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/data"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/testmodels"
)

func TestMain(m *testing.M) { testmodels.Main(m) }

// embedded extracts the embedded facts and their attribute names into dir.
func embedded(tb testing.TB, dir string) (facts, attrs string) {
	tb.Helper()
	var err error
	if facts, err = data.Extract(dir, "facts/facts.jsonl"); err != nil {
		tb.Fatal(err)
	}
	if attrs, err = data.Extract(dir, "facts/subject_attributes.json"); err != nil {
		tb.Fatal(err)
	}
	return facts, attrs
}

func TestFindSubject(t *testing.T) {
	cases := []struct {
		name       string
		pieces     []string
		subject    string
		start, end int
		err        bool
	}{
		{"one token", []string{"The", " capital", " of", " Afghanistan", " is"}, "Afghanistan", 3, 4, false},
		{"multi-token", []string{"Af", "ghan", "istan", " is", " located"}, "Afghanistan", 0, 3, false},
		{"multi-word", []string{"The", " capital", " of", " American", " Sam", "oa", " is"}, "American Samoa", 3, 6, false},
		{"match starts inside a token", []string{"The", " capital", " of", " Afghanistan"}, "ghanistan", 3, 4, false},
		{"match ends inside a token", []string{"The", " Afghanistans"}, "Afghanistan", 1, 2, false},
		{"first occurrence", []string{"Chad", " borders", " Chad"}, "Chad", 0, 1, false},
		{"capitalised fallback", []string{"Iron", " is", " a"}, "iron", 0, 1, false},
		{"exact case preferred over capitalised", []string{"Iron", " and", " iron"}, "iron", 2, 3, false},
		{"capitalised multi-byte first letter", []string{"É", "cole", " is"}, "école", 0, 2, false},
		{"not found", []string{"The", " capital", " of", " France"}, "Germany", 0, 0, true},
		{"empty subject", []string{"The"}, "", 0, 0, true},
		{"no tokens", nil, "France", 0, 0, true},
	}
	for _, c := range cases {
		s, e, err := FindSubject(c.pieces, c.subject)
		if (err != nil) != c.err || s != c.start || e != c.end {
			t.Errorf("%s: FindSubject(%q, %q) = %d, %d, %v; want %d, %d, error %v", c.name, c.pieces, c.subject, s, e, err, c.start, c.end, c.err)
		}
	}
}

func TestRate(t *testing.T) {
	attrs := map[string]bool{" Kabul": true, " Asia": true, "Islam": true, " Pashto": true}
	cases := []struct {
		name      string
		top       []string
		attrs     map[string]bool
		k         int
		wantClean []string
		want      float64
	}{
		{"stopwords and short tokens removed", []string{" the", " Kabul", " of", "'s", " an", " Asia", " city"}, attrs, 50,
			[]string{" Kabul", " Asia", " city"}, 100 * 2.0 / 3},
		{"stopwords case-insensitively", []string{" The", " THE", " Will", " Kabul"}, attrs, 50, []string{" Kabul"}, 100},
		{"whitespace stripped before the length test", []string{"   ab  ", "\nabc", " Kabul"}, attrs, 50, []string{"\nabc", " Kabul"}, 50},
		{"characters, not bytes", []string{" éé", " ééé"}, attrs, 50, []string{" ééé"}, 0},
		{"duplicates count once above, every time below", []string{" Kabul", " Kabul", " town", " Asia"}, attrs, 50,
			[]string{" Kabul", " Kabul", " town", " Asia"}, 100 * 2.0 / 4},
		{"exact strings: leading space matters", []string{"Kabul", " Islam"}, attrs, 50, []string{"Kabul", " Islam"}, 0},
		{"only the first k clean tokens", []string{" Kabul", " town", " Asia", " Pashto"}, attrs, 2, []string{" Kabul", " town", " Asia", " Pashto"}, 50},
		{"empty clean list is excluded", []string{" the", " of", "ab", " "}, attrs, 50, []string{}, -1},
		{"no top-k at all", nil, attrs, 50, []string{}, -1},
		{"subject without attributes is excluded", []string{" Kabul"}, nil, 50, []string{" Kabul"}, -1},
		{"attributes that left no token rate 0", []string{" Kabul"}, map[string]bool{}, 50, []string{" Kabul"}, 0},
	}
	for _, c := range cases {
		clean := CleanTokens(c.top, nil)
		if !reflect.DeepEqual(clean, c.wantClean) {
			t.Errorf("%s: CleanTokens(%q) = %q, want %q", c.name, c.top, clean, c.wantClean)
		}
		if got := Rate(clean, c.attrs, c.k); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: Rate(%q, k=%d) = %v, want %v", c.name, clean, c.k, got, c.want)
		}
	}
}

// nltk179 is nltk_data's corpora/stopwords/english before 2025-02-20, in its order then.
const nltk179 = `i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
yourselves he him his himself she she's her hers herself it it's its itself they them their theirs
themselves what which who whom this that that'll these those am is are was were be been being have has
had having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over under
again further then once here there when where why how all any both each few more most other some such
no nor not only own same so than too very s t can will just don don't should should've now d ll m o re
ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't
isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't`

// contractions19 are the pronoun contractions nltk_data added on 2025-02-20 (PR #228).
var contractions19 = strings.Fields(`they've i'll i'd they'll he's i'm he'd it'd i've it'll she'd they'd we'd
we're we'll we've he'll they're she'll`)

func TestStopwords(t *testing.T) {
	cases := []struct {
		name         string
		n            int
		contractions bool
	}{
		{"nltk", 198, true},
		{"nltk-179", 179, false},
	}
	if len(contractions19) != 19 || len(strings.Fields(nltk179)) != 179 {
		t.Fatalf("test lists: %d contractions, %d old words", len(contractions19), len(strings.Fields(nltk179)))
	}
	for _, c := range cases {
		list, err := LoadStopwords(c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(list) != c.n {
			t.Errorf("%s: %d words, want %d", c.name, len(list), c.n)
		}
		for _, w := range strings.Fields(nltk179) {
			if !list[w] {
				t.Errorf("%s: %q of the 179-word list is missing", c.name, w)
			}
		}
		for _, w := range contractions19 {
			if list[w] != c.contractions {
				t.Errorf("%s: has %q: %v, want %v", c.name, w, list[w], c.contractions)
			}
		}
	}
	if len(NLTKEnglish) != 198 || len(NLTKEnglish179) != 179 || len(StopwordLists[DefaultStopwords]) != 198 {
		t.Errorf("NLTKEnglish %d, NLTKEnglish179 %d, default %q %d words; want 198, 179, 198",
			len(NLTKEnglish), len(NLTKEnglish179), DefaultStopwords, len(StopwordLists[DefaultStopwords]))
	}
}

// TestStopwordChoice: CleanTokens (lower-cased) and AttributeTokens (case-sensitive) drop the words of
// the list they are given, nil meaning the 198-word default; tokens of ≤ 2 characters go whatever the list.
// " I'm" is dropped from the predictions by the 198-word list (as "i'm") but "I'm" stays an attribute token.
func TestStopwordChoice(t *testing.T) {
	top := []string{" I'm", "he's", " They're", " Kabul", " we", " the"}
	attrs := []string{"I'm near Kabul", "he's home", "they're"}
	cases := []struct {
		name      string
		stop      map[string]bool
		wantClean []string
		wantAttrs []string
	}{
		{"nil: default", nil, []string{" Kabul"}, []string{"I'm", "near", "Kabul", "home"}},
		{"nltk", NLTKEnglish, []string{" Kabul"}, []string{"I'm", "near", "Kabul", "home"}},
		{"nltk-179", NLTKEnglish179, []string{" I'm", "he's", " They're", " Kabul"}, []string{"I'm", "near", "Kabul", "he's", "home", "they're"}},
		{"custom", map[string]bool{"kabul": true, "Kabul": true, "home": true}, []string{" I'm", "he's", " They're", " the"},
			[]string{"I'm", "near", "he's", "they're"}},
		{"empty list", map[string]bool{}, []string{" I'm", "he's", " They're", " Kabul", " the"}, []string{"I'm", "near", "Kabul", "he's", "home", "they're"}},
	}
	for _, c := range cases {
		if got := CleanTokens(top, c.stop); !reflect.DeepEqual(got, c.wantClean) {
			t.Errorf("%s: CleanTokens(%q) = %q, want %q", c.name, top, got, c.wantClean)
		}
		got, err := AttributeTokens(&fakeTok{ids: map[string]int32{}}, attrs, c.stop)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := map[string]bool{}
		for _, w := range c.wantAttrs {
			want[w] = true
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: AttributeTokens(%q) = %v, want %v", c.name, attrs, got, want)
		}
	}
}

func TestReadStopwords(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          []string // nil: an error naming the file
	}{
		{"NLTK format", "i\nme\ni'm\n", []string{"i", "me", "i'm"}},
		{"no final newline, duplicates", "i\nme\ni", []string{"i", "me"}},
		{"blank lines, spaces and CRLF", "\n  the \r\n\n\tof\r\n   \n", []string{"the", "of"}},
		{"case kept", "The\nthe\n", []string{"The", "the"}},
		{"empty file", "", nil},
		{"only blank lines", "\n \r\n\t\n", nil},
		{"missing file", "-", nil},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("stop%d.txt", i))
		if c.content != "-" {
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := LoadStopwords(path)
		if c.want == nil {
			if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line naming %s", c.name, err, path)
			}
			continue
		}
		want := map[string]bool{}
		for _, w := range c.want {
			want[w] = true
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: LoadStopwords(%q) = %v, %v; want %v", c.name, c.content, got, err, want)
		}
	}
}

func TestTopK(t *testing.T) {
	cases := []struct {
		name   string
		scores []float32
		k      int
		want   []int32
	}{
		{"order", []float32{1, 5, 3, 4, 2}, 3, []int32{1, 3, 2}},
		{"ties by lower id", []float32{2, 7, 7, 1, 7}, 4, []int32{1, 2, 4, 0}},
		{"k larger than n", []float32{0.5, -1}, 5, []int32{0, 1}},
		{"negative scores", []float32{-3, -1, -2}, 1, []int32{1}},
	}
	for _, c := range cases {
		if got := TopK(c.scores, c.k); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: TopK(%v, %d) = %v, want %v", c.name, c.scores, c.k, got, c.want)
		}
	}
}

// TestLensCentres: for a LayerNorm model the lens reads the residual stream in TransformerLens's
// centred coordinates, so a row and the same row shifted by a constant along d_model give the same
// top-k, and that top-k is the centred row's, not the raw row's. An RMSNorm model's rows are read raw.
func TestLensCentres(t *testing.T) {
	const d, vocab = 4, 3
	// Token 0 scores the raw row's sum; tokens 1 and 2 read its first coordinate.
	wu := []float32{1, 1, 1, 1, 1, 0, 0, 0, 0.5, 0, 0, 0}
	tok := &fakeTok{ids: map[string]int32{"sum": 0, "first": 1, "half": 2}}
	x := []float32{1, 0, 0, 0, 11, 10, 10, 10} // the second row is the first plus 10
	for _, c := range []struct {
		centre bool
		want   [2]string
	}{
		// Centred, both rows are (0.75, -0.25, -0.25, -0.25): sum 0, first 0.75, half 0.375.
		{true, [2]string{"first", "first"}},
		// Raw: row 1 scores sum 1, first 1, half 0.5 (tie: lower id); row 2 sum 41, first 11.
		{false, [2]string{"sum", "sum"}},
	} {
		l := &lens{wu: wu, vocab: vocab, d: d, k: 1, threads: 1, tok: tok, centre: c.centre}
		got, err := l.top(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		for r, top := range got {
			if len(top) != 1 || top[0] != c.want[r] {
				t.Errorf("centre %v, row %d: top-1 %v, want [%s]", c.centre, r, top, c.want[r])
			}
		}
	}
}

// fakeTok splits on spaces (dropping them) and maps words to ids.
type fakeTok struct{ ids map[string]int32 }

func (f *fakeTok) Tokenize(text string) ([]int32, error) {
	var out []int32
	for _, w := range strings.Split(text, " ") {
		if w != "" {
			out = append(out, f.id(w))
		}
	}
	return out, nil
}

func (f *fakeTok) id(s string) int32 {
	if id, ok := f.ids[s]; ok {
		return id
	}
	f.ids[s] = int32(len(f.ids))
	return f.ids[s]
}

func (f *fakeTok) TokenText(id int32) string {
	for s, i := range f.ids {
		if i == id {
			return s
		}
	}
	return ""
}

func TestAttributeTokens(t *testing.T) {
	// The fake tokenizer gives "The", "Valley" for both " The Valley" and "The Valley": enough to see
	// the filters (stopwords case-sensitively, at most 2 characters) and the deduplication.
	tok := &fakeTok{ids: map[string]int32{}}
	got, err := AttributeTokens(tok, []string{"The Valley", "of Asia", "UK"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"The": true, "Valley": true, "Asia": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AttributeTokens = %v, want %v", got, want)
	}
}

// TestRunEndToEnd runs the experiment on the embedded tiny-olmo over a handful of facts: clean alone,
// then clean + a set ablated at layer 4 + an empty baseline set, and checks the outputs against each
// other: the clean records do not depend on the sets run with them, ablating no neurons gives the
// clean records exactly, ablating at layer 4 leaves layers 0–3 as they were and changes later layers,
// the files hold what Run returned, a fact whose subject is not in its prompt is skipped and counted,
// and a subject without attributes rates -1.
func TestRunEndToEnd(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	factsPath, attrPath := embedded(t, dir)
	all, err := ReadFacts(factsPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1580 {
		t.Fatalf("embedded facts: %d, want 1580", len(all))
	}
	var lines []string
	for _, f := range all[:5] {
		b, _ := json.Marshal(f)
		lines = append(lines, string(b))
	}
	lines = append(lines,
		`{"id": 9001, "subject": "Atlantis", "relation": "capital", "prompt": "The capital of Atlantis is", "attribute": "Poseidonia"}`,
		`{"id": 9002, "subject": "Narnia", "relation": "capital", "prompt": "The capital of Atlantis is", "attribute": "Cair Paravel"}`)
	facts := filepath.Join(dir, "facts.jsonl")
	if err := os.WriteFile(facts, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ablated []hooks.Neuron
	for n := 0; n < 688; n += 4 {
		ablated = append(ablated, hooks.Neuron{Layer: 4, Index: n})
	}
	base := Config{Model: model, Facts: facts, Attributes: attrPath, Threads: 1}
	cleanOnly := base
	cleanOnly.Out = filepath.Join(dir, "clean")
	a, err := Run(cleanOnly)
	if err != nil {
		t.Fatal(err)
	}
	withSets := base
	withSets.Out = filepath.Join(dir, "sets")
	withSets.Set = &Set{Name: "layer4", Neurons: ablated}
	withSets.Baseline = &Set{Neurons: nil}
	b, err := Run(withSets)
	if err != nil {
		t.Fatal(err)
	}
	const nl, used = 8, 6
	if s := b.Summary; s.Facts != 7 || s.FactsUsed != used || s.Skipped != 1 || !reflect.DeepEqual(s.SkippedIDs, []int{9002}) ||
		s.NoAttributes != 1 || len(s.Sets) != 3 || s.Sets[2].Name != "layer4_baseline" || s.Stopwords != "nltk" || s.StopwordsN != 198 {
		t.Fatalf("summary: %+v", s)
	}
	bySet := map[string][]Record{}
	for _, r := range b.Records {
		bySet[r.Set] = append(bySet[r.Set], r)
	}
	if len(a.Records) != used*(nl+1) || len(bySet["clean"]) != used*(nl+1) || len(bySet["layer4"]) != used*nl || len(bySet["layer4_baseline"]) != used*nl {
		t.Fatalf("records: clean-only run %d, clean %d, set %d, baseline %d", len(a.Records), len(bySet["clean"]), len(bySet["layer4"]), len(bySet["layer4_baseline"]))
	}
	if !reflect.DeepEqual(a.Records, bySet["clean"]) {
		t.Error("clean records differ between a clean-only run and a run with sets")
	}
	cleanAt := map[string]Record{}
	for _, r := range bySet["clean"] {
		cleanAt[fmt.Sprint(r.FactID, "/", r.Layer)] = r
		if r.FactID == 9001 && r.Rate != -1 {
			t.Errorf("fact 9001 (no attributes) layer %s: rate %v, want -1", r.Layer, r.Rate)
		}
		if r.FactID != 9001 && r.Rate < 0 && r.NumClean > 0 {
			t.Errorf("fact %d layer %s: rate %v with %d clean tokens", r.FactID, r.Layer, r.Rate, r.NumClean)
		}
		if len(r.TopK) != DefaultTopK {
			t.Errorf("fact %d layer %s: %d top-k tokens", r.FactID, r.Layer, len(r.TopK))
		}
	}
	changed := 0
	for _, set := range []string{"layer4", "layer4_baseline"} {
		for _, r := range bySet[set] {
			c := cleanAt[fmt.Sprint(r.FactID, "/", r.Layer)]
			same := reflect.DeepEqual(r.TopK, c.TopK) && r.Rate == c.Rate && r.NumClean == c.NumClean && r.Position == c.Position
			layer, _ := strconv.Atoi(r.Layer)
			switch {
			case set == "layer4_baseline" && !same:
				t.Errorf("empty set, fact %d layer %s: records differ from clean", r.FactID, r.Layer)
			case set == "layer4" && layer < 4 && !same:
				t.Errorf("ablation at layer 4 changed fact %d layer %d", r.FactID, layer)
			case set == "layer4" && layer >= 4 && !same:
				changed++
			}
		}
	}
	if changed == 0 {
		t.Error("ablating 172 neurons of layer 4 changed no top-k list of layers 4–7")
	}
	t.Logf("ablation changed %d of %d records at layers 4–7", changed, used*4)

	// Files.
	out := withSets.Out
	for _, f := range []string{"records.parquet", "records.csv", "rates_by_layer.csv", "attributes_zero_ablation.png",
		"attributes_zero_ablation.svg", "summary.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cleanOnly.Out, "attributes_clean.png")); err != nil {
		t.Errorf("clean-only figure: %v", err)
	}
	pq, err := parquet.ReadFile[Record](filepath.Join(out, "records.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pq) != len(b.Records) {
		t.Fatalf("records.parquet: %d rows, want %d", len(pq), len(b.Records))
	}
	for i := range pq {
		if !reflect.DeepEqual(pq[i], b.Records[i]) {
			t.Fatalf("records.parquet row %d: %+v, want %+v", i, pq[i], b.Records[i])
		}
	}
	rows := readCSV(t, filepath.Join(out, "records.csv"))
	if len(rows) != len(b.Records)+1 || !reflect.DeepEqual(rows[0], RecordColumns) {
		t.Fatalf("records.csv: %d rows, header %v", len(rows), rows[0])
	}
	for i, r := range b.Records {
		var top []string
		if err := json.Unmarshal([]byte(rows[i+1][9]), &top); err != nil || !reflect.DeepEqual(top, r.TopK) {
			t.Fatalf("records.csv row %d top_k %q: %v", i+1, rows[i+1][9], err)
		}
		if rate, _ := strconv.ParseFloat(rows[i+1][12], 64); rate != r.Rate || rows[i+1][1] != r.Subject || rows[i+1][6] != r.Layer {
			t.Fatalf("records.csv row %d: %v, want %+v", i+1, rows[i+1], r)
		}
	}
	// rates_by_layer.csv: each mean is the mean of the records' rates > -1.
	sums := map[string][2]float64{}
	for _, r := range b.Records {
		if r.Rate >= 0 {
			k := r.Set + "/" + r.Layer
			sums[k] = [2]float64{sums[k][0] + r.Rate, sums[k][1] + 1}
		}
	}
	rl := readCSV(t, filepath.Join(out, "rates_by_layer.csv"))
	if len(rl) != 1+(nl+1)+2*nl {
		t.Fatalf("rates_by_layer.csv: %d rows, want %d", len(rl), 1+(nl+1)+2*nl)
	}
	for _, row := range rl[1:] {
		s := sums[row[0]+"/"+row[1]]
		mean, _ := strconv.ParseFloat(row[4], 64)
		lo, _ := strconv.ParseFloat(row[6], 64)
		hi, _ := strconv.ParseFloat(row[7], 64)
		if n, _ := strconv.Atoi(row[2]); n != int(s[1]) || math.Abs(mean-s[0]/s[1]) > 1e-9 || lo > mean+1e-9 || hi < mean-1e-9 {
			t.Errorf("rates_by_layer.csv %v: records give n %v, mean %v", row, s[1], s[0]/s[1])
		}
	}
	rateOf := map[string]LayerRate{}
	for _, lr := range b.Rates {
		rateOf[lr.Set+"/"+lr.Layer] = lr
	}
	for l := 0; l < nl; l++ {
		c, e := rateOf["clean/"+strconv.Itoa(l)], rateOf["layer4_baseline/"+strconv.Itoa(l)]
		if c.N != e.N || c.Mean != e.Mean || c.Low != e.Low || c.High != e.High {
			t.Errorf("layer %d: empty set's rate %+v differs from clean %+v", l, e, c)
		}
	}
	for _, lr := range b.Rates {
		t.Logf("%-16s layer %-3s mean rate %6.2f  95%% CI [%.2f, %.2f]  n %d", lr.Set, lr.Layer, lr.Mean, lr.Low, lr.High, lr.N)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// TestReadFactsLayouts: JSONL and JSON arrays (ROME's known_1000.json with known_id and relation_id)
// give the same facts; bad records are refused with their place.
func TestReadFactsLayouts(t *testing.T) {
	want := []Fact{
		{ID: 0, Subject: "Vinson Massif", Relation: "P30", Template: "{} is located in the continent of", Prompt: "Vinson Massif is located in the continent", Attribute: "Antarctica"},
		{ID: 1, Subject: "Beats Music", Relation: "P127", Template: "{} is owned by", Prompt: "Beats Music is owned by", Attribute: "Apple"},
	}
	rome := `[{"known_id": 0, "subject": "Vinson Massif", "attribute": "Antarctica", "template": "{} is located in the continent of", "prediction": " Antarctica", "prompt": "Vinson Massif is located in the continent", "relation_id": "P30"},
 {"known_id": 1, "subject": "Beats Music", "attribute": "Apple", "template": "{} is owned by", "prediction": " Apple", "prompt": "Beats Music is owned by", "relation_id": "P127"}]`
	var jsonl strings.Builder
	for _, f := range want {
		b, _ := json.Marshal(f)
		jsonl.Write(append(b, '\n', '\n'))
	}
	for _, c := range []struct{ name, data, err string }{
		{"jsonl", jsonl.String(), ""},
		{"rome array", rome, ""},
		{"array after a BOM and blank lines", "\ufeff\n\n " + rome, ""},
		{"id beats known_id", strings.Replace(rome, `"known_id": 1,`, `"known_id": 7, "id": 1,`, 1), ""},
		{"duplicate in an array", strings.Replace(rome, `"known_id": 1`, `"known_id": 0`, 1), "fact 1 of the array: fact id 0 is also at fact 0 of the array"},
		{"duplicate line", jsonl.String() + `{"id": 1, "subject": "x", "prompt": "x y"}`, ":5: fact id 1 is also at line 3"},
		{"no prompt in an array", `[{"subject": "x"}]`, "fact 0 of the array: a fact needs a subject and a prompt"},
		{"broken array", `[{"subject": "x"},`, "unexpected end of JSON input"},
		{"empty array", `[]`, "no facts"},
	} {
		path := filepath.Join(t.TempDir(), "facts.json")
		if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFacts(path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: error %v, want one naming %s with %q", c.name, err, path, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ReadFacts = %+v, %v; want %+v", c.name, got, err, want)
		}
	}
}

// TestBatchIndependent: facts decoded together (each its own sequence) give the records of facts
// decoded one at a time, top-k lists included, in exact and in the default mode.
func TestBatchIndependent(t *testing.T) {
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	dir := t.TempDir()
	facts, attrs := embedded(t, dir)
	var set []hooks.Neuron
	for n := 0; n < 688; n += 7 {
		set = append(set, hooks.Neuron{Layer: 3, Index: n})
	}
	for _, exact := range []bool{true, false} {
		var want []Record
		for _, batch := range []int{1, 7, 32} {
			res, err := Run(Config{Model: model, Facts: facts, Attributes: attrs, MaxFacts: 40, Threads: 1, Batch: batch, Exact: exact,
				Set: &Set{Name: "l3", Neurons: set}, Gate: -1, Out: filepath.Join(dir, fmt.Sprint(exact, batch))})
			if err != nil {
				t.Fatal(err)
			}
			if batch == 1 {
				want = res.Records
				continue
			}
			if len(res.Records) != len(want) {
				t.Fatalf("exact %v batch %d: %d records, batch 1: %d", exact, batch, len(res.Records), len(want))
			}
			diff := 0
			for i, r := range res.Records {
				if !reflect.DeepEqual(r, want[i]) {
					if diff++; diff <= 3 {
						t.Errorf("exact %v batch %d: fact %d layer %s set %s: top %q…, batch 1 %q…", exact, batch, r.FactID, r.Layer, r.Set, r.TopK[:3], want[i].TopK[:3])
					}
				}
			}
			if diff > 0 {
				t.Errorf("exact %v batch %d: %d of %d records differ from batch 1", exact, batch, diff, len(want))
			}
		}
	}
}

// BenchmarkRun runs the clean pass over 200 embedded facts, the facts decoded one at a time (as the
// reference) and together.
func BenchmarkRun(b *testing.B) {
	model := testmodels.GGUF(b, testmodels.TinyDir(), "f32")
	dir := b.TempDir()
	facts, attrs := embedded(b, dir)
	for _, batch := range []int{1, 4, 8, 16, 32} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(Config{Model: model, Facts: facts, Attributes: attrs, MaxFacts: 200, Threads: 2, Batch: batch, Out: filepath.Join(dir, "out")}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(200*float64(b.N)/b.Elapsed().Seconds(), "facts/s")
		})
	}
}

// TestLensKept: the lens with W_U kept in a backend's memory (bindings.MatMul, on a GPU when the model
// is) reads the same top-k as the product on the host's threads (here both on the CPU).
func TestLensKept(t *testing.T) {
	const d, vocab, rows = 16, 500, 12
	r := rand.New(rand.NewPCG(1, 1))
	wu := make([]float32, vocab*d)
	for i := range wu {
		wu[i] = float32(r.NormFloat64())
	}
	x := make([]float32, rows*d)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	tok := &fakeTok{ids: map[string]int32{}}
	for i := range vocab {
		tok.id(fmt.Sprint("t", i))
	}
	host := &lens{wu: wu, vocab: vocab, d: d, k: 50, threads: 1, tok: tok, centre: true}
	kept := *host
	var err error
	if kept.dev, err = bindings.NewMatMul(wu, vocab, d, rows, false, 1); err != nil {
		t.Fatal(err)
	}
	defer kept.dev.Close()
	for _, n := range []int{rows, 5} {
		a, err := host.top(x, n)
		if err != nil {
			t.Fatal(err)
		}
		host.buf = nil
		b, err := kept.top(x, n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%d rows: kept W_U reads %v…, the host product %v…", n, b[0][:5], a[0][:5])
		}
	}
}

// TestLensLastLayer: the lens reads the residual stream as TransformerLens's processed weights do —
// OLMo's (LayerNorm) rows centred, an RMSNorm model's (random Llama and Gemma-2) W_U with the final norm's
// weight g folded in, resid · (g ⊙ W_U), and a GPT-2's both, centred · (g ⊙ W_U). The final norm only
// subtracts the mean (LayerNorm), divides by a positive number and multiplies by g (the test GPT-2's
// final bias is 0), so at the last layer the lens's top-k must be the model's own logits'. The other
// readings are not.
func TestLensLastLayer(t *testing.T) {
	for _, c := range []struct {
		name, path string
		rms, fold  bool    // an RMSNorm; the final norm has a weight
		tol        float64 // two ranks may swap where their logits are this close, relative to the largest
	}{
		{"tiny-olmo", testmodels.GGUF(t, testmodels.TinyDir(), "f32"), false, false, 1e-5},
		// F16 products in llama.cpp against float32 ones in the lens, and Gemma's soft cap
		{"llama", testmodels.RMSModel(t, "llama", nil), true, true, 1e-3},
		{"gemma2", testmodels.RMSModel(t, "gemma2", nil), true, true, 1e-3}, // tied W_U, g = 1 + w
		{"gpt2", testmodels.VanillaModel(t, nil), false, true, 1e-5},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := bindings.LoadModel(c.path, bindings.ModelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.RMSNorm() != c.rms {
				t.Fatalf("%s: RMSNorm() = %v", c.name, m.RMSNorm())
			}
			const n, k = 24, 20
			ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: n, MaxRows: 1, Threads: 1, Exact: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ctx.Close()
			if err := ctx.SetHooks(hooks.Spec{Residual: true}); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 5))
			row := make([]int32, n)
			for i := range row {
				row[i] = int32(rng.IntN(50000))
			}
			if err := ctx.Decode([][]int32{row}); err != nil {
				t.Fatal(err)
			}
			vocab, d := m.VocabSize(), m.NEmbd()
			res := ctx.Residual(m.NLayer() - 1)
			stored, _, err := readUnembedding(c.path, vocab, d, false)
			if err != nil {
				t.Fatal(err)
			}
			right := &lens{wu: stored, vocab: vocab, d: d, k: k, threads: 1, tok: m, centre: true}
			wrong := map[string]*lens{"uncentred": {wu: stored, vocab: vocab, d: d, k: k, threads: 1, tok: m}}
			if fold, err := hasFinalNormWeight(c.path); err != nil || fold != c.fold {
				t.Fatalf("%s: hasFinalNormWeight %v, %v", c.name, fold, err)
			}
			if c.fold {
				folded, _, err := readUnembedding(c.path, vocab, d, true)
				if err != nil {
					t.Fatal(err)
				}
				right = &lens{wu: folded, vocab: vocab, d: d, k: k, threads: 1, tok: m, centre: !c.rms}
				wrong = map[string]*lens{
					"W_U as stored":                       {wu: stored, vocab: vocab, d: d, k: k, threads: 1, tok: m},
					"W_U as stored, centred":              {wu: stored, vocab: vocab, d: d, k: k, threads: 1, tok: m, centre: true},
					fmt.Sprint("folded, centred ", c.rms): {wu: folded, vocab: vocab, d: d, k: k, threads: 1, tok: m, centre: c.rms},
				}
			}
			agree := func(got, want []int32, logits []float32) bool {
				var big float64
				for _, v := range logits {
					big = max(big, math.Abs(float64(v)))
				}
				for i := range want {
					if got[i] != want[i] && math.Abs(float64(logits[got[i]]-logits[want[i]])) > c.tol*big {
						return false
					}
				}
				return true
			}
			differs := map[string]bool{}
			for p := range n {
				logits := ctx.Logits(p)
				want, err := bindings.TopKRows(logits, 1, vocab, k)
				if err != nil {
					t.Fatal(err)
				}
				x := res[p*d : (p+1)*d]
				got, err := right.topIDs(x, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !agree(got[0], want[0], logits) {
					t.Fatalf("%s token %d: lens top-%d %v, logits' %v", c.name, p, k, got[0], want[0])
				}
				for name, l := range wrong {
					if got, err := l.topIDs(x, 1); err != nil {
						t.Fatal(err)
					} else if !agree(got[0], want[0], logits) {
						differs[name] = true
					}
				}
			}
			for name := range wrong {
				if !differs[name] {
					t.Errorf("%s: the lens with %s gives the logits' top-%d at every token: the test cannot tell it apart", c.name, name, k)
				}
			}
		})
	}
}
