package wiki

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/progress"
	"github.com/wcos-dev/wcos/internal/pystr"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

// DefaultK is the reference's number of paragraphs retrieved per subject.
const DefaultK = 100

// Config is one retrieval.
type Config struct {
	Paragraphs string   // paragraphs.txt: one paragraph a line (blank lines skipped), at most 2³² of them
	Titles     string   // titles.txt: the title path of each paragraph, line for line
	Subjects   []string // the queries, in order (duplicates are dropped)
	K          int      // paragraphs retrieved per subject (0: DefaultK)
	Out        string   // folder for wiki.csv, retrieval.jsonl, summary.json and run.json
	Progress   io.Writer
	RunInfo    *runinfo.Info
}

// Subject is one subject's retrieval.
type Subject struct {
	Subject string   `json:"subject"`
	Query   []string `json:"query"` // the words scored ("" for the empty token)
	Hits    []Hit    `json:"hits"`  // best first
	Kept    []uint32 `json:"kept"`  // the hits whose title or text contains the subject, in rank order
	// Paragraphs is what wiki.csv holds: " " + each kept paragraph, concatenated.
	Paragraphs string `json:"-"`
}

// Summary is what summary.json holds.
type Summary struct {
	Paragraphs      int     `json:"paragraphs"`
	EmptyParagraphs int     `json:"paragraphs_without_query_words"`
	AvgLength       float64 `json:"avg_length"` // bm25s's avg_doc_len: query words per paragraph
	Terms           int     `json:"terms"`      // the vocabulary, the empty token included
	Subjects        int     `json:"subjects"`
	WithParagraphs  int     `json:"subjects_with_paragraphs"`
	KeptMean        float64 `json:"kept_paragraphs_mean"`
	K               int     `json:"k"`
	K1              float64 `json:"k1"`
	B               float64 `json:"b"`
	Method          string  `json:"method"`
	Stopwords       string  `json:"stopwords"`
	Seconds         float64 `json:"seconds"`
}

// Result is what Run computed (also written to Out).
type Result struct {
	Summary  Summary
	Subjects []Subject
}

// Run retrieves each subject's paragraphs and writes Out/wiki.csv (the reference's layout: an unnamed
// index column, subject, paragraphs), Out/retrieval.jsonl (each subject's query, hits and kept
// paragraphs), Out/summary.json and Out/run.json, all at once at the end.
func Run(cfg Config) (*Result, error) {
	start := time.Now()
	k := cfg.K
	if k <= 0 {
		k = DefaultK
	}
	var subjects []string
	seen := map[string]bool{}
	for _, s := range cfg.Subjects {
		if !seen[s] {
			seen[s] = true
			subjects = append(subjects, s)
		}
	}
	if len(subjects) == 0 {
		return nil, fmt.Errorf("wiki: no subjects")
	}
	st, err := os.Stat(cfg.Paragraphs)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Titles); err != nil {
		return nil, err
	}
	ix := NewIndex(subjects)
	bar := progress.New(cfg.Progress, "index", "MB", (st.Size()+1<<20-1)>>20)
	if err := ix.build(cfg.Paragraphs, cfg.Titles, bar); err != nil {
		return nil, err
	}
	bar.Finish()
	if ix.Docs() == 0 {
		return nil, fmt.Errorf("%s: no paragraphs", cfg.Paragraphs)
	}
	queries := make([][]int32, len(subjects))
	for i, s := range subjects {
		queries[i] = ix.Query(s)
	}
	hits := ix.TopK(queries, k)
	wanted := map[uint32]*paragraph{}
	for _, hs := range hits {
		for _, h := range hs {
			wanted[h.Doc] = nil
		}
	}
	bar = progress.New(cfg.Progress, "collect", "MB", (st.Size()+1<<20-1)>>20)
	if err := readWanted(cfg.Paragraphs, cfg.Titles, wanted, bar); err != nil {
		return nil, err
	}
	bar.Finish()

	res := &Result{Summary: Summary{
		Paragraphs: ix.Docs(), EmptyParagraphs: ix.empty, AvgLength: ix.AvgLength(), Terms: ix.Terms(),
		Subjects: len(subjects), K: k, K1: K1, B: B, Method: "lucene",
		Stopwords: fmt.Sprintf("bm25s english (%d words)", len(Stopwords)),
	}}
	names := make(map[int32]string, len(ix.vocab))
	for w, id := range ix.vocab {
		names[id] = w
	}
	kept := 0
	for i, s := range subjects {
		sub := Subject{Subject: s, Hits: hits[i]}
		for _, id := range queries[i] {
			sub.Query = append(sub.Query, names[id])
		}
		capital := pystr.Capitalize(s)
		var b strings.Builder
		for _, h := range hits[i] {
			p := wanted[h.Doc]
			check := p.title + ". " + p.text
			if strings.Contains(check, s) || strings.Contains(check, capital) {
				sub.Kept = append(sub.Kept, h.Doc)
				b.WriteString(" ")
				b.WriteString(p.text)
			}
		}
		sub.Paragraphs = b.String()
		if len(sub.Kept) > 0 {
			res.Summary.WithParagraphs++
		}
		kept += len(sub.Kept)
		res.Subjects = append(res.Subjects, sub)
	}
	res.Summary.KeptMean = float64(kept) / float64(len(subjects))
	res.Summary.Seconds = time.Since(start).Seconds()
	if err := write(cfg, res); err != nil {
		return nil, err
	}
	return res, nil
}

// paragraph is a retrieved paragraph's text and title.
type paragraph struct{ text, title string }

// build indexes every non-blank line of paragraphs (bm25s tokenization in parallel workers) and checks
// that titles has as many non-blank lines.
func (ix *Index) build(paragraphs, titles string, bar *progress.Bar) error {
	titleCount := make(chan error, 1)
	var nTitles int
	go func() {
		n, err := eachLine(titles, func(string) error { return nil })
		nTitles = n
		titleCount <- err
	}()

	const chunkBytes = 1 << 20
	type chunk struct {
		first uint32
		lines []string
	}
	work := make(chan chunk, 4)
	done := make(chan chunkPostings, 4)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for c := range work {
				done <- ix.indexChunk(c.first, c.lines, &buf)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		var c chunk
		var bytesIn, reported int
		_, err := eachLine(paragraphs, func(line string) error {
			c.lines = append(c.lines, line)
			bytesIn += len(line) + 1
			if len(c.lines) == 1<<16 || bytesIn-reported >= chunkBytes {
				work <- c
				bar.Add(int64(bytesIn>>20 - reported>>20))
				c, reported = chunk{first: c.first + uint32(len(c.lines))}, bytesIn
			}
			return nil
		})
		if len(c.lines) > 0 {
			work <- c
		}
		bar.Add(int64((bytesIn+1<<20-1)>>20 - reported>>20))
		close(work)
		readErr <- err
	}()
	go func() {
		wg.Wait()
		close(done)
	}()
	for c := range done {
		ix.merge(c)
	}
	if err := <-readErr; err != nil {
		return err
	}
	if err := <-titleCount; err != nil {
		return err
	}
	if nTitles != ix.Docs() {
		return fmt.Errorf("%s has %d non-blank lines but %s has %d: want one title per paragraph", titles, nTitles, paragraphs, ix.Docs())
	}
	return nil
}

// readWanted fills wanted (paragraph index → nil) with the text and title of those paragraphs; bar
// counts the paragraphs' megabytes.
func readWanted(paragraphs, titles string, wanted map[uint32]*paragraph, bar *progress.Bar) error {
	texts := map[uint32]string{}
	var bytesIn, reported int
	if _, err := eachLineIndexed(paragraphs, func(i uint32, line string) {
		if _, ok := wanted[i]; ok {
			texts[i] = line
		}
		if bytesIn += len(line) + 1; bytesIn-reported >= 1<<20 {
			bar.Add(int64(bytesIn>>20 - reported>>20))
			reported = bytesIn
		}
	}); err != nil {
		return err
	}
	bar.Add(int64((bytesIn+1<<20-1)>>20 - reported>>20))
	_, err := eachLineIndexed(titles, func(i uint32, line string) {
		if _, ok := wanted[i]; ok {
			wanted[i] = &paragraph{text: texts[i], title: line}
		}
	})
	return err
}

func eachLineIndexed(path string, fn func(i uint32, line string)) (int, error) {
	var i uint32
	return eachLine(path, func(line string) error {
		fn(i, line)
		i++
		return nil
	})
}

// eachLine calls fn with every non-blank line of the file as the reference's nonblank_lines reads it:
// Python's universal newlines (\n, \r\n, \r), each line right-stripped (str.rstrip), blank ones
// skipped. It returns the number of lines given to fn.
func eachLine(path string, fn func(line string) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	sc.Split(splitUniversal)
	n, lineNo := 0, 0
	for sc.Scan() {
		lineNo++
		line := pystr.RStrip(sc.Text())
		if line == "" {
			continue
		}
		if err := fn(line); err != nil {
			return n, fmt.Errorf("%s:%d: %v", path, lineNo, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("%s: after line %d: %v", path, lineNo, err)
	}
	return n, nil
}

// splitUniversal splits at \n, \r\n and \r (Python's universal newlines).
func splitUniversal(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0:
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a \r at the end of the buffer: is a \n next?
}

func write(cfg Config, res *Result) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"", "subject", "paragraphs"})
	for i, s := range res.Subjects {
		w.Write([]string{strconv.Itoa(i), s.Subject, s.Paragraphs})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return atomicfile.BuildDir(cfg.Out, func(tmp string) error {
		if err := atomicfile.WriteFile(filepath.Join(tmp, "wiki.csv"), b.Bytes()); err != nil {
			return err
		}
		if err := atomicfile.WriteJSONL(filepath.Join(tmp, "retrieval.jsonl"), res.Subjects); err != nil {
			return err
		}
		if err := atomicfile.WriteJSON(filepath.Join(tmp, "summary.json"), res.Summary); err != nil {
			return err
		}
		return cfg.RunInfo.Write(tmp)
	})
}
