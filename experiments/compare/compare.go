package compare

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/internal/table"
	"github.com/wcos-dev/wcos/plots"
)

// DefaultBins is the histograms' bin count: matplotlib's default, as the paper's figures.
const DefaultBins = 10

// Options are one comparison's inputs.
type Options struct {
	Clean       string   // clean run's folder
	Runs        []string // ablated runs' folders
	Names       []string // set names (default: the folders' base names)
	Metrics     []string // default: entropy, loss, rank, log_scale
	ChangedOnly bool     // statistics and histograms over tokens with diff ≠ 0 only (the paper's tables)
	// F16 rounds entropy, loss and scale, their log and the differences to float16, as the reference
	// stored and subtracted them: with ChangedOnly, the tokens the paper's tables count.
	F16      bool
	Truncate bool     // a run with other rows than the clean run is compared over their common rows
	Bins     int      // histogram bins (default DefaultBins), shared by all sets of a metric
	LogY     bool     // log-scaled counts
	Formats  []string // figure formats (nil: png and svg; empty: no figures)
	Out      string
	RunInfo  *runinfo.Info // written as run.json, with every input's hash added
	Progress io.Writer
}

// MetricResult is one metric's statistics and histograms.
type MetricResult struct {
	Metric string    `json:"metric"`
	XLabel string    `json:"x_label"`
	Stats  []Stats   `json:"stats"`
	Edges  []float64 `json:"bin_edges"`
	Counts [][]int64 `json:"bin_counts"` // per set
}

// Result describes a finished comparison (summary.json).
type Result struct {
	Clean       string         `json:"clean"`
	CleanSum    map[string]any `json:"clean_entropy_summary,omitempty"` // the clean run's summary.json
	Sets        []SetInfo      `json:"sets"`
	ChangedOnly bool           `json:"changed_only"`
	F16         bool           `json:"float16"`
	Over        string         `json:"statistics_over"`
	Results     []MetricResult `json:"metrics"`
}

// SetInfo is one ablated run.
type SetInfo struct {
	Name    string         `json:"name"`
	Dir     string         `json:"dir"`
	Rows    int            `json:"rows"`                      // rows compared (fewer than the clean run's when truncated)
	Summary map[string]any `json:"entropy_summary,omitempty"` // the run's summary.json
}

// Compare checks the runs, computes every metric's statistics and histograms and writes
// <metric>.csv, <metric>.md, <metric>[_log].<format>, summary.json and run.json into o.Out, which is
// created complete or not at all. Every input is checked before anything is computed or written.
func Compare(o Options) (*Result, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	o.Progress = &lockedWriter{w: o.Progress}
	if o.Bins <= 0 {
		o.Bins = DefaultBins
	}
	if o.Formats == nil {
		o.Formats = []string{"png", "svg"}
	}
	if len(o.Runs) == 0 {
		return nil, fmt.Errorf("no ablated runs to compare with the clean run %s", o.Clean)
	}
	names := o.Names
	if len(names) == 0 {
		for _, d := range o.Runs {
			names = append(names, filepath.Base(filepath.Clean(d)))
		}
	} else if len(names) != len(o.Runs) {
		return nil, fmt.Errorf("--names has %d names for %d runs", len(names), len(o.Runs))
	}
	seen := map[string]string{}
	for i, n := range names {
		if n == "" || strings.ContainsAny(n, ",|\n\r") {
			return nil, fmt.Errorf("set name %q of %s: empty or holds ',', '|' or a line break (give --names)", n, o.Runs[i])
		}
		if d, ok := seen[n]; ok {
			return nil, fmt.Errorf("set name %q is given to both %s and %s (give --names)", n, d, o.Runs[i])
		}
		seen[n] = o.Runs[i]
	}
	if len(o.Metrics) == 0 {
		for _, m := range Metrics {
			o.Metrics = append(o.Metrics, m.Name)
		}
	}
	var metrics []Metric
	for _, name := range o.Metrics {
		m, err := MetricByName(name)
		if err != nil {
			return nil, fmt.Errorf("--metrics: %v", err)
		}
		if slices.ContainsFunc(metrics, func(x Metric) bool { return x.Name == m.Name }) {
			return nil, fmt.Errorf("--metrics: %s given twice", m.Name)
		}
		metrics = append(metrics, m)
	}

	// --out replaces its folder as a whole: never one holding an input.
	outAbs, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, err
	}
	for _, d := range append([]string{o.Clean}, o.Runs...) {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(outAbs, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("--out %s holds the input %s, and would replace it: give another --out", o.Out, d)
		}
	}

	clean, err := openRun("clean", o.Clean, metrics)
	if err != nil {
		return nil, err
	}
	runs := make([]*run, len(o.Runs))
	res := &Result{Clean: o.Clean, CleanSum: clean.summary, ChangedOnly: o.ChangedOnly, F16: o.F16, Over: "all tokens (padding masked by the rows' lengths)"}
	if o.ChangedOnly {
		res.Over = "changed tokens only (diff ≠ 0), as the paper's tables"
	}
	if o.F16 {
		res.Over += "; values and differences rounded to float16, as the reference stored them"
	}
	for i, d := range o.Runs {
		if runs[i], err = openRun(names[i], d, metrics); err != nil {
			return nil, err
		}
		if err := runs[i].matches(clean, o.Truncate); err != nil {
			return nil, err
		}
		res.Sets = append(res.Sets, SetInfo{Name: names[i], Dir: d, Rows: min(runs[i].rows, clean.rows), Summary: runs[i].summary})
	}

	for _, m := range metrics {
		mr, err := compareMetric(clean, runs, m, o)
		if err != nil {
			return nil, err
		}
		res.Results = append(res.Results, *mr)
	}

	tmp, err := atomicfile.TempDir(o.Out)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, mr := range res.Results {
		if err := mr.write(tmp, o); err != nil {
			return nil, err
		}
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, "summary.json"), append(js, '\n')); err != nil {
		return nil, err
	}
	if o.RunInfo != nil {
		for _, r := range append([]*run{clean}, runs...) {
			fi, err := runinfo.Hash(r.path)
			if err != nil {
				return nil, err
			}
			o.RunInfo.Inputs = append(o.RunInfo.Inputs, fi)
		}
		if clean.info != nil && clean.info.Model != nil {
			o.RunInfo.Model = clean.info.Model
		}
		if err := o.RunInfo.Write(tmp); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.ReplaceDir(tmp, o.Out); err != nil {
		return nil, err
	}
	return res, nil
}

// compareMetric computes one metric's statistics set by set, then bins every set over their common
// range: the files are read again for each pass, so memory does not grow with the data. Sets run in
// parallel, one per CPU.
func compareMetric(clean *run, runs []*run, m Metric, o Options) (*MetricResult, error) {
	mr := &MetricResult{Metric: m.Name, XLabel: fmt.Sprintf("%s(clean) - %s(ablated)", m.Name, m.Name)}
	mr.Stats = make([]Stats, len(runs))
	err := parallel(len(runs), func(i int) error {
		fmt.Fprintf(o.Progress, "compare: %s %s\n", m.Name, runs[i].Name)
		st, err := describe(func(fn func(float64)) error { return each(clean, runs[i], m, o.F16, fn) }, o.ChangedOnly)
		st.Name = runs[i].Name
		mr.Stats[i] = st
		return err
	})
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, st := range mr.Stats {
		if st.N > 0 {
			lo, hi = math.Min(lo, st.Min), math.Max(hi, st.Max)
		}
	}
	if lo > hi { // no values anywhere
		lo, hi = -0.5, 0.5
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	mr.Edges = make([]float64, o.Bins+1)
	wd := (hi - lo) / float64(o.Bins)
	for i := range mr.Edges {
		mr.Edges[i] = lo + float64(i)*wd
	}
	mr.Edges[o.Bins] = hi
	ok := keep(o.ChangedOnly)
	mr.Counts = make([][]int64, len(runs))
	err = parallel(len(runs), func(i int) error {
		counts := make([]int64, o.Bins)
		mr.Counts[i] = counts
		return each(clean, runs[i], m, o.F16, func(d float64) {
			if math.IsNaN(d) || math.IsInf(d, 0) || !ok(d) {
				return
			}
			// As plots.HistGrid bins values: equal bins from lo, the maximum in the last.
			counts[max(0, min(o.Bins-1, int((d-lo)/wd)))]++
		})
	})
	if err != nil {
		return nil, err
	}
	return mr, nil
}

// parallel runs f(0…n-1) on up to GOMAXPROCS goroutines and returns the first error (by index).
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// lockedWriter serialises the parallel sets' progress lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

var columns = []string{"name", "tokens", "changed", "mean", "min", "quartile1", "median", "quartile3", "max"}

func (s Stats) cells(format func(float64) string) []string {
	return []string{s.Name, strconv.FormatInt(s.Tokens, 10), strconv.FormatInt(s.Changed, 10),
		format(s.Mean), format(s.Min), format(s.Q1), format(s.Median), format(s.Q3), format(s.Max)}
}

// full is a CSV value (shortest exact form); short a table value with 4 significant digits.
func full(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
func short(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Markdown writes the metric's table as the paper's <metric>.md (tables.quartile_df), with the token
// counts added.
func (mr *MetricResult) Markdown(w io.StringWriter) {
	var rows [][]string
	for _, s := range mr.Stats {
		rows = append(rows, s.cells(short))
	}
	table.Markdown(w, columns, append([]string{"---"}, slices.Repeat([]string{"---:"}, len(columns)-1)...), rows...)
}

func (mr *MetricResult) write(dir string, o Options) error {
	base := filepath.Join(dir, mr.Metric)
	err := table.Create(base+".csv", func(w *bufio.Writer) error {
		table.CSV(w, columns)
		for _, s := range mr.Stats {
			table.CSV(w, s.cells(full))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = table.Create(base+".md", func(w *bufio.Writer) error {
		over := "all tokens"
		if o.ChangedOnly {
			over = "changed tokens only (diff ≠ 0)"
		}
		if o.F16 {
			over += ", values rounded to float16 as the reference stored them"
		}
		fmt.Fprintf(w, "`%s` per token, statistics over %s.\n\n", mr.XLabel, over)
		mr.Markdown(w)
		return nil
	})
	if err != nil {
		return err
	}
	if len(o.Formats) == 0 {
		return nil
	}
	panels := make([]plots.HistPanel, len(mr.Stats))
	for i, s := range mr.Stats {
		counts := make([]float64, len(mr.Counts[i]))
		for j, c := range mr.Counts[i] {
			counts[j] = float64(c)
		}
		panels[i] = plots.HistPanel{Title: strings.ReplaceAll(s.Name, "_", "\n"), Counts: counts}
	}
	name := mr.Metric
	if o.LogY {
		name += "_log"
	}
	over := "all tokens"
	if o.ChangedOnly {
		over = "changed tokens only"
	}
	g := plots.HistGrid{Title: fmt.Sprintf("%s per token (%s)", mr.XLabel, over), XLabel: mr.XLabel, YLabel: "number of model predictions", Panels: panels, Cols: 2,
		XRange: [2]float64{mr.Edges[0], mr.Edges[len(mr.Edges)-1]}, LogY: o.LogY}
	_, err = g.Figure().Save(filepath.Join(dir, name), o.Formats...)
	return err
}
