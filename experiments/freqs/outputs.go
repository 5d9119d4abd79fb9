package freqs

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot/vg"

	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/table"
	"github.com/wcos-dev/wcos/neuronsets"
	"github.com/wcos-dev/wcos/plots"
)

// BaselineSeed seeds the random same-layer baselines: the reference's random.seed(2512800) (paper-spec
// §3), drawn with Python's generator (internal/pyrandom), so the baselines are the reference's.
const BaselineSeed = neuronsets.Seed

// OutputOptions control WriteOutputs.
type OutputOptions struct {
	Formats []string // figure formats; nil = png, svg; empty non-nil = no figures
	LogY    bool     // log-scaled histogram y axes (freqs.py --log; file names get "_log")
	Seed    int64    // baseline seed; 0 = BaselineSeed
	// ModelSHA256, if set, must equal the summary's model_sha256: classes of another model would be
	// silently wrong.
	ModelSHA256 string
}

// ClassFreq is one row of the frequencies-by-class table (paper-spec §6.2, §8.3).
type ClassFreq struct {
	Class    classes.Class
	Neurons  int     // class size
	True     float64 // mean freq_gate_pos over the class (NaN when empty)
	Baseline float64 // mean over the class's random same-layer baseline (NaN when empty)
	// Idx and BaselineIdx are the neurons as layer·d_mlp + neuron, ascending.
	Idx, BaselineIdx []int
}

// Outputs is what WriteOutputs found.
type Outputs struct {
	Model   string
	ByClass []ClassFreq
	Seed    int64
	Files   []string // relative to the output folder
}

// outNeuronRow is neurons.parquet: the GLUScope dataset's layout (one row per neuron, its summary keys
// joined with "_" and sums reported as means: gate+_in+_hook_post_mean, hook_pre = gate,
// hook_pre_linear = in) plus the RW class; the top-k lists stay in summary.safetensors. Quadrant means
// are in the summary's sign convention (in = s_n·up when refactored).
type outNeuronRow struct {
	Layer       int32   `parquet:"layer"`
	Neuron      int32   `parquet:"neuron"`
	Class       string  `parquet:"class,dict"`
	FreqGatePos float64 `parquet:"freq_gate_pos"`
	PPFreq      float64 `parquet:"gate+_in+_freq"`
	PPPost      float64 `parquet:"gate+_in+_hook_post_mean"`
	PPGate      float64 `parquet:"gate+_in+_hook_pre_mean"`
	PPIn        float64 `parquet:"gate+_in+_hook_pre_linear_mean"`
	PPSwish     float64 `parquet:"gate+_in+_swish_mean"`
	PMFreq      float64 `parquet:"gate+_in-_freq"`
	PMPost      float64 `parquet:"gate+_in-_hook_post_mean"`
	PMGate      float64 `parquet:"gate+_in-_hook_pre_mean"`
	PMIn        float64 `parquet:"gate+_in-_hook_pre_linear_mean"`
	PMSwish     float64 `parquet:"gate+_in-_swish_mean"`
	MPFreq      float64 `parquet:"gate-_in+_freq"`
	MPPost      float64 `parquet:"gate-_in+_hook_post_mean"`
	MPGate      float64 `parquet:"gate-_in+_hook_pre_mean"`
	MPIn        float64 `parquet:"gate-_in+_hook_pre_linear_mean"`
	MPSwish     float64 `parquet:"gate-_in+_swish_mean"`
	MMFreq      float64 `parquet:"gate-_in-_freq"`
	MMPost      float64 `parquet:"gate-_in-_hook_post_mean"`
	MMGate      float64 `parquet:"gate-_in-_hook_pre_mean"`
	MMIn        float64 `parquet:"gate-_in-_hook_pre_linear_mean"`
	MMSwish     float64 `parquet:"gate-_in-_swish_mean"`
}

// quadrantValues are [freq, post, gate, in, swish] per quadrant, in outNeuronRow's field order.
func (r *outNeuronRow) quadrantValues() [4][5]*float64 {
	return [4][5]*float64{
		{&r.PPFreq, &r.PPPost, &r.PPGate, &r.PPIn, &r.PPSwish},
		{&r.PMFreq, &r.PMPost, &r.PMGate, &r.PMIn, &r.PMSwish},
		{&r.MPFreq, &r.MPPost, &r.MPGate, &r.MPIn, &r.MPSwish},
		{&r.MMFreq, &r.MMPost, &r.MMGate, &r.MMIn, &r.MMSwish},
	}
}

func outNeuronColumns() []string {
	cols := []string{"layer", "neuron", "class", "freq_gate_pos"}
	for _, q := range Quadrants {
		cols = append(cols, q+"_freq", q+"_hook_post_mean", q+"_hook_pre_mean", q+"_hook_pre_linear_mean", q+"_swish_mean")
	}
	return cols
}

// FreqGatePos is the paper's activation frequency per neuron, [layer·d_mlp + neuron]:
// freq(gate+_in+) + freq(gate+_in-), the fraction of tokens with gate pre-activation > 0.
func (s *Summary) FreqGatePos() []float64 {
	N := s.NFF
	out := make([]float64, s.NLayer*N)
	if s.Tokens == 0 {
		return out
	}
	for l := 0; l < s.NLayer; l++ {
		for n := 0; n < N; n++ {
			// Summed as frequencies, like the summary's freq_gate_pos tensor, so the two agree bit for bit.
			out[l*N+n] = float64(s.State.Count[(l*4+0)*N+n])/float64(s.Tokens) + float64(s.State.Count[(l*4+1)*N+n])/float64(s.Tokens)
		}
	}
	return out
}

// ByClass computes the frequencies-by-class table: per class the mean of freq over its neurons and
// over its random same-layer baseline, drawn as the reference's freqs.py draws it — neuron_choice of
// the whole class, i.e. random_baseline after random.seed(seed) with Python's generator
// (neuronsets.Select), re-seeded for every class — so with the reference's seed the baseline neurons
// are the reference's. A class whose baseline cannot be drawn keeps an empty one.
func ByClass(freq []float64, cls []classes.Class, nLayer, nff int, seed int64) []ClassFreq {
	grid := make(neuronsets.Grid, nLayer)
	for l := range grid {
		grid[l] = cls[l*nff : (l+1)*nff]
	}
	flat := func(ns []hooks.Neuron) []int {
		out := make([]int, len(ns))
		for i, n := range ns {
			out[i] = n.Layer*nff + n.Index
		}
		slices.Sort(out)
		return out
	}
	var out []ClassFreq
	for _, c := range classes.AllClasses() {
		row := ClassFreq{Class: c}
		for i, k := range cls {
			if k == c {
				row.Idx = append(row.Idx, i)
			}
		}
		row.Neurons = len(row.Idx)
		if sel, err := neuronsets.Select(grid, neuronsets.Spec{Class: c, Baseline: true, Seed: seed}); err == nil {
			row.BaselineIdx = flat(sel.Baseline)
		}
		row.True, row.Baseline = meanAt(freq, row.Idx), meanAt(freq, row.BaselineIdx)
		out = append(out, row)
	}
	return out
}

func meanAt(v []float64, idx []int) float64 {
	if len(idx) == 0 {
		return math.NaN()
	}
	var s float64
	for _, i := range idx {
		s += v[i]
	}
	return s / float64(len(idx))
}

// OLS fits y = a + b·x by least squares; NaN when x is constant or there are fewer than 2 points.
func OLS(x, y []float64) (a, b float64) {
	mx, my, sxx, sxy, _, n := moments(x, y)
	if n < 2 || sxx == 0 {
		return math.NaN(), math.NaN()
	}
	b = sxy / sxx
	return my - b*mx, b
}

// Pearson returns the correlation coefficient and its two-sided p-value (t test with n−2 degrees of
// freedom, what scipy.stats.pearsonr reports); NaN pairs are skipped.
func Pearson(x, y []float64) (r, p float64) {
	_, _, sxx, sxy, syy, n := moments(x, y)
	if n < 3 || sxx == 0 || syy == 0 {
		return math.NaN(), math.NaN()
	}
	r = max(-1, min(1, sxy/math.Sqrt(sxx*syy)))
	if math.Abs(r) == 1 {
		return r, 0
	}
	df := float64(n - 2)
	t := math.Abs(r) * math.Sqrt(df/(1-r*r))
	return r, 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(t)
}

// moments returns means and centred sums of squares/products over the pairs with neither value NaN,
// in two passes for accuracy.
func moments(x, y []float64) (mx, my, sxx, sxy, syy float64, n int) {
	for i := range x {
		if !math.IsNaN(x[i]) && !math.IsNaN(y[i]) {
			mx += x[i]
			my += y[i]
			n++
		}
	}
	if n == 0 {
		return
	}
	mx /= float64(n)
	my /= float64(n)
	for i := range x {
		if !math.IsNaN(x[i]) && !math.IsNaN(y[i]) {
			dx, dy := x[i]-mx, y[i]-my
			sxx += dx * dx
			sxy += dx * dy
			syy += dy * dy
		}
	}
	return
}

// WriteOutputs adds the per-neuron table, the frequencies-by-class table and the figures of
// freqs.py to dir, which holds s's summary.safetensors. RW classes come from modelPath's weights (TL
// processing, refactored; paper-spec §1–§2). The new files are written into a temporary sibling
// together with hard links to dir's files, which then replaces dir: readers see the folder without
// the outputs or with all of them, and on error dir is unchanged.
func WriteOutputs(dir string, s *Summary, modelPath string, opts OutputOptions) (*Outputs, error) {
	if opts.ModelSHA256 != "" && s.Meta["model_sha256"] != "" && s.Meta["model_sha256"] != opts.ModelSHA256 {
		return nil, fmt.Errorf("%s: summary of model %s (sha256 %.12s…), not of %s", filepath.Join(dir, "summary.safetensors"),
			s.Meta["model"], s.Meta["model_sha256"], modelPath)
	}
	src, err := classes.Open(modelPath)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if d := src.Dims(); d.NLayers != s.NLayer || d.DMLP != s.NFF {
		return nil, fmt.Errorf("%s: model has %d layers × %d neurons, the summary in %s %d × %d", modelPath, d.NLayers, d.DMLP, dir, s.NLayer, s.NFF)
	}
	co := classes.DefaultOptions()
	co.Region = classes.RegionNone // classes do not depend on the randomness regions
	res, err := classes.Compute(src, co)
	if err != nil {
		return nil, err
	}
	o := &Outputs{Model: s.Meta["model"], Seed: opts.Seed}
	if o.Model == "" {
		o.Model = filepath.Base(modelPath)
	}
	if o.Seed == 0 {
		o.Seed = BaselineSeed
	}
	cls := make([]classes.Class, len(res.Neurons))
	for i, n := range res.Neurons {
		cls[i] = n.Class
	}
	freq := s.FreqGatePos()
	o.ByClass = ByClass(freq, cls, s.NLayer, s.NFF, o.Seed)

	dir = filepath.Clean(dir)
	tmp, err := atomicfile.TempDir(dir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	means, err := meansOf(s)
	if err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		f    func(string) error
	}{
		{"neurons.parquet", func(p string) error { return table.Parquet(p, neuronRows(s, freq, cls, means)) }},
		{"neurons.csv", func(p string) error { return writeNeuronsCSV(p, s, freq, cls, means) }},
		{"freqs_by_class.csv", o.writeByClassCSV},
		{"freqs_by_class.md", o.writeByClassMD},
	}
	for _, st := range steps {
		if err := st.f(filepath.Join(tmp, st.name)); err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Join(dir, st.name), err)
		}
		o.Files = append(o.Files, st.name)
	}
	formats := opts.Formats
	if formats == nil {
		formats = []string{"png", "svg"}
	}
	if len(formats) > 0 {
		figs, err := o.writeFigures(tmp, s, freq, res, opts.LogY, formats)
		if err != nil {
			return nil, fmt.Errorf("%s: figures: %v", dir, err)
		}
		o.Files = append(o.Files, figs...)
	}
	if err := swapIn(dir, tmp); err != nil {
		return nil, err
	}
	return o, nil
}

// swapIn hard-links dir's files that tmp does not replace into tmp, then replaces dir by tmp.
func swapIn(dir, tmp string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		dst := filepath.Join(tmp, e.Name())
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s: unexpected non-file %s in the output folder", dir, e.Name())
		}
		if err := os.Link(filepath.Join(dir, e.Name()), dst); err != nil {
			return err
		}
	}
	return atomicfile.ReplaceDir(tmp, dir)
}

// neuronRows yields the neurons table; means is meansOf(s).
func neuronRows(s *Summary, freq []float64, cls []classes.Class, means []float64) iter.Seq[outNeuronRow] {
	return func(yield func(outNeuronRow) bool) {
		N := s.NFF
		for l := 0; l < s.NLayer; l++ {
			for n := 0; n < N; n++ {
				row := outNeuronRow{Layer: int32(l), Neuron: int32(n), Class: cls[l*N+n].String(), FreqGatePos: freq[l*N+n]}
				for q, vals := range row.quadrantValues() {
					if s.Tokens > 0 {
						*vals[0] = float64(s.State.Count[(l*4+q)*N+n]) / float64(s.Tokens)
					}
					for v := 0; v < 4; v++ {
						*vals[v+1] = means[((l*4+q)*4+v)*N+n]
					}
				}
				if !yield(row) {
					return
				}
			}
		}
	}
}

func ff(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func writeNeuronsCSV(path string, s *Summary, freq []float64, cls []classes.Class, means []float64) error {
	return table.Create(path, func(w *bufio.Writer) error {
		table.CSV(w, outNeuronColumns())
		for r := range neuronRows(s, freq, cls, means) {
			fmt.Fprintf(w, "%d,%d,%s,%s", r.Layer, r.Neuron, r.Class, ff(r.FreqGatePos))
			for _, vals := range r.quadrantValues() {
				for _, v := range vals {
					w.WriteString("," + ff(*v))
				}
			}
			if err := w.WriteByte('\n'); err != nil {
				return err
			}
		}
		return nil
	})
}

// f3 prints a table value with the paper's precision 3 (§8.3); "-" for an empty class.
func f3(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func (o *Outputs) writeByClassCSV(path string) error {
	return table.Create(path, func(w *bufio.Writer) error {
		table.CSV(w, []string{"class", "neurons", "true", "baseline", "baseline_neurons"})
		for _, r := range o.ByClass {
			table.CSV(w, []string{r.Class.String(), strconv.Itoa(r.Neurons), ff(r.True), ff(r.Baseline), strconv.Itoa(len(r.BaselineIdx))})
		}
		return nil
	})
}

func (o *Outputs) writeByClassMD(path string) error {
	return table.Create(path, func(w *bufio.Writer) error {
		fmt.Fprintf(w, "Activation frequency P(gate > 0) by RW class of `%s`: mean over the class (true) and over random\n"+
			"non-class neurons of the same layers (baseline; c per layer, all when c ≥ d_mlp/2; seed %d).\n\n", o.Model, o.Seed)
		var rows [][]string
		for _, r := range o.ByClass {
			rows = append(rows, []string{r.Class.String(), strconv.Itoa(r.Neurons), f3(r.True), f3(r.Baseline)})
		}
		table.Markdown(w, []string{"class", "neurons", "true", "baseline"}, []string{"---", "---:", "---:", "---:"}, rows...)
		return nil
	})
}

// Table is the frequencies-by-class table as printed by `wcos freqs`.
func (o *Outputs) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "activation frequency P(gate>0) by RW class (baseline: random same-layer non-class neurons, seed %d)\n", o.Seed)
	fmt.Fprintf(&b, "%-36s %8s %7s %9s\n", "class", "neurons", "true", "baseline")
	for _, r := range o.ByClass {
		fmt.Fprintf(&b, "%-36s %8d %7s %9s\n", r.Class, r.Neurons, f3(r.True), f3(r.Baseline))
	}
	return b.String()
}

// Print writes Table to w.
func (o *Outputs) Print(w io.Writer) { io.WriteString(w, o.Table()) }

const freqLabel = "Frequency of gate>0"

// freqBins are the frequency histograms' bins over [0, 1]: matplotlib's default 10, as the paper's
// figures.
const freqBins = 10

// writeFigures draws freqs.py's figures: layers, categories and one 2-D histogram grid per cosine or
// norm against the frequency.
func (o *Outputs) writeFigures(dir string, s *Summary, freq []float64, res *classes.Result, logY bool, formats []string) ([]string, error) {
	N := s.NFF
	suffix, yl := "", "proportion of neurons"
	if logY {
		suffix, yl = "_log", "proportion of neurons (log)"
	}
	var files []string
	save := func(f *plots.Figure, name string) error {
		paths, err := f.Save(filepath.Join(dir, name), formats...)
		for _, p := range paths {
			files = append(files, filepath.Base(p))
		}
		return err
	}
	layerPanels := make([]plots.HistPanel, s.NLayer)
	for l := range layerPanels {
		layerPanels[l] = plots.HistPanel{Title: fmt.Sprintf("Layer %d", l), Values: freq[l*N : (l+1)*N]}
	}
	if err := save(plots.FracHistGrid{Title: fmt.Sprintf("%s by layer in %s (%d tokens)", freqLabel, o.Model, s.Tokens),
		XLabel: freqLabel, YLabel: yl, Panels: layerPanels, Cols: 4, XRange: [2]float64{0, 1}, LogY: logY, Bins: freqBins}.Figure(), "layers"+suffix); err != nil {
		return files, err
	}

	var catPanels []plots.HistPanel
	var empty []string
	for _, r := range o.ByClass {
		if r.Neurons == 0 {
			empty = append(empty, r.Class.Abbrev())
			continue
		}
		catPanels = append(catPanels,
			plots.HistPanel{Title: fmt.Sprintf("%s (%d)", r.Class, r.Neurons), Values: pick(freq, r.Idx)},
			plots.HistPanel{Title: fmt.Sprintf("baseline (%d)", len(r.BaselineIdx)), Values: pick(freq, r.BaselineIdx)})
	}
	title := fmt.Sprintf("%s by RW class (left) and its random\nsame-layer baseline (right) in %s", freqLabel, o.Model)
	if len(empty) > 0 {
		title += "\nno neurons: " + strings.Join(empty, ", ")
	}
	if err := save(plots.FracHistGrid{Title: title, XLabel: freqLabel, YLabel: yl, Panels: catPanels, Cols: 2,
		XRange: [2]float64{0, 1}, LogY: logY, Bins: freqBins, PanelSize: 2.8 * vg.Inch}.Figure(), "categories"+suffix); err != nil {
		return files, err
	}

	metrics := []struct {
		name, label string
		f           func(*classes.Neuron) float64
	}{
		{"linout", "cos(w_in, w_out)", func(n *classes.Neuron) float64 { return n.LinOut }},
		{"gateout", "cos(w_gate, w_out)", func(n *classes.Neuron) float64 { return n.GateOut }},
		{"gatelin", "cos(w_gate, w_in)", func(n *classes.Neuron) float64 { return n.GateLin }},
		{"norm_gate", "‖w_gate‖", func(n *classes.Neuron) float64 { return n.NormGate }},
		{"norm_in_out", "‖w_in‖·‖w_out‖", func(n *classes.Neuron) float64 { return n.NormIn * n.NormOut }},
	}
	for _, m := range metrics {
		ys := make([]float64, len(res.Neurons))
		for i := range res.Neurons {
			ys[i] = m.f(&res.Neurons[i])
		}
		yr := [2]float64{-1, 1}
		if strings.HasPrefix(m.name, "norm") {
			yr = paddedRange(ys)
		}
		panel := func(title string, x, y []float64) plots.Hist2DPanel {
			a, b := OLS(x, y)
			r, p := Pearson(x, y)
			ps := fmt.Sprintf("p=%.2g", p)
			if p < 0.01 {
				ps = "p<0.01"
			}
			return plots.Hist2DPanel{Title: title, X: x, Y: y, Fit: &[2]float64{a, b}, Legend: []string{fmt.Sprintf("r = %.2f", r), ps}}
		}
		grid := func(name string, panels []plots.Hist2DPanel, cols int) error {
			g := plots.Hist2DGrid{Title: fmt.Sprintf("%s vs. %s in %s", freqLabel, m.label, o.Model), XLabel: freqLabel, YLabel: m.label,
				CLabel: "neurons per cell", Panels: panels, Cols: cols, XRange: [2]float64{0, 1}, YRange: yr,
				FitName: "OLS fit; r: Pearson correlation, p: two-sided p-value"}
			return save(g.Figure(), name)
		}
		panels := make([]plots.Hist2DPanel, s.NLayer)
		for l := range panels {
			panels[l] = panel(fmt.Sprintf("Layer %d", l), freq[l*N:(l+1)*N], ys[l*N:(l+1)*N])
		}
		// Per layer, every layer pooled (freqs.py's _all_layers), and for linout the first, middle and
		// last layer side by side (its --layer_list, 0 15 31 for OLMo-7B).
		if err := grid(m.name, panels, 4); err != nil {
			return files, err
		}
		if err := grid(m.name+"_all_layers", []plots.Hist2DPanel{panel("All layers", freq, ys)}, 1); err != nil {
			return files, err
		}
		if m.name == "linout" {
			sel := slices.Compact([]int{0, (s.NLayer - 1) / 2, s.NLayer - 1})
			var sp []plots.Hist2DPanel
			var names []string
			for _, l := range sel {
				sp, names = append(sp, panels[l]), append(names, strconv.Itoa(l))
			}
			if err := grid("linout_"+strings.Join(names, "_"), sp, len(sp)); err != nil {
				return files, err
			}
		}
	}
	return files, nil
}

func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, k := range idx {
		out[i] = v[k]
	}
	return out
}

// paddedRange is [min, max] of the finite values widened by 2 % on each side.
func paddedRange(v []float64) [2]float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if lo > hi {
		return [2]float64{0, 1}
	}
	pad := math.Max((hi-lo)*0.02, 1e-9)
	return [2]float64{lo - pad, hi + pad}
}
