package compare

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/wcos-dev/wcos/internal/runinfo"
	"github.com/wcos-dev/wcos/safetensors"
)

// Metric is one compared quantity.
type Metric struct {
	Name   string // entropy, loss, rank, log_scale
	Tensor string // tensor in metrics.safetensors
	Log    bool   // compare log(value)
	Short  int    // valid positions per row: length − Short (loss and rank have no value at the last token)
}

// Metrics are the metrics compare knows, in the order of the paper's --metric all.
var Metrics = []Metric{
	{Name: "entropy", Tensor: "entropy"},
	{Name: "loss", Tensor: "loss", Short: 1},
	{Name: "rank", Tensor: "rank", Short: 1},
	{Name: "log_scale", Tensor: "scale", Log: true},
}

// MetricByName finds a metric; "scale" is log_scale (the paper's --metric scale reports log_scale).
func MetricByName(name string) (Metric, error) {
	if name == "scale" {
		name = "log_scale"
	}
	var names []string
	for _, m := range Metrics {
		if m.Name == name {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return Metric{}, fmt.Errorf("unknown metric %q: want one of %v", name, names)
}

// run is one `wcos entropy` output folder, its metrics file checked for the layout compare reads.
type run struct {
	Name, Dir string
	path      string // metrics.safetensors
	tensors   map[string]safetensors.TensorInfo
	rows      int
	width     int
	lengths   []int32
	info      *runinfo.Info  // run.json, if present
	summary   map[string]any // summary.json, if present
}

// openRun reads dir's metrics.safetensors header and lengths and checks that every tensor metrics need
// is [rows, width] of a supported dtype with width ≥ the longest row.
func openRun(name, dir string, metrics []Metric) (*run, error) {
	r := &run{Name: name, Dir: dir, path: filepath.Join(dir, "metrics.safetensors")}
	f, err := safetensors.Open(r.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no metrics.safetensors (not a wcos entropy output folder?)", dir)
		}
		return nil, err
	}
	defer f.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", r.path, fmt.Sprintf(format, args...))
	}
	li, err := f.Info("lengths")
	if err != nil {
		return nil, err
	}
	if len(li.Shape) != 1 {
		return nil, bad("lengths has shape %v, want [rows]", li.Shape)
	}
	lengths, err := f.Int64("lengths")
	if err != nil {
		return nil, err
	}
	r.rows = len(lengths)
	r.lengths = make([]int32, r.rows)
	maxLen := int64(0)
	for i, l := range lengths {
		if l < 0 || l > math.MaxInt32 {
			return nil, bad("row %d has length %d", i, l)
		}
		r.lengths[i] = int32(l)
		maxLen = max(maxLen, l)
	}
	r.tensors = map[string]safetensors.TensorInfo{}
	for _, m := range metrics {
		ti, err := f.Info(m.Tensor)
		if err != nil {
			return nil, err
		}
		if _, ok := decoders[ti.DType]; !ok {
			return nil, bad("tensor %q has dtype %s, want F32, F16, BF16, F64, I32 or I64", m.Tensor, ti.DType)
		}
		if len(ti.Shape) != 2 || ti.Shape[0] != int64(r.rows) || ti.Shape[1] < maxLen {
			return nil, bad("tensor %q has shape %v, want [%d rows, ≥ %d] (lengths)", m.Tensor, ti.Shape, r.rows, maxLen)
		}
		if r.width == 0 {
			r.width = int(ti.Shape[1])
		} else if int(ti.Shape[1]) != r.width {
			return nil, bad("tensor %q has %d columns, other tensors %d", m.Tensor, ti.Shape[1], r.width)
		}
		r.tensors[m.Tensor] = ti
	}
	if b, err := os.ReadFile(filepath.Join(dir, "run.json")); err == nil {
		var info runinfo.Info
		if err := json.Unmarshal(b, &info); err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "run.json"), err)
		}
		r.info = &info
	}
	if b, err := os.ReadFile(filepath.Join(dir, "summary.json")); err == nil {
		if err := json.Unmarshal(b, &r.summary); err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "summary.json"), err)
		}
	}
	return r, nil
}

// matches refuses a run that is not of the clean run's rows: other row count (unless truncate: then
// the common leading rows are compared, as the reference did) or lengths, or (where both have a
// run.json) another model or data set.
func (r *run) matches(clean *run, truncate bool) error {
	if r.rows != clean.rows && !truncate {
		return fmt.Errorf("%s: %d rows, the clean run %s has %d: not the same data set (--truncate compares the common rows, as the reference did)", r.Dir, r.rows, clean.Dir, clean.rows)
	}
	for i := range min(r.rows, clean.rows) {
		if r.lengths[i] != clean.lengths[i] {
			return fmt.Errorf("%s: row %d has %d tokens, the clean run %s's %d: not the same data set or --max-length", r.Dir, i, r.lengths[i], clean.Dir, clean.lengths[i])
		}
	}
	if r.info == nil || clean.info == nil {
		return nil
	}
	if a, b := r.info.Model, clean.info.Model; a != nil && b != nil && a.SHA256 != b.SHA256 {
		return fmt.Errorf("%s: model %s (sha256 %.12s), the clean run %s has model %s (sha256 %.12s)", r.Dir, a.Path, a.SHA256, clean.Dir, b.Path, b.SHA256)
	}
	a, b := r.dataset(), clean.dataset()
	if a != nil && b != nil && a.SHA256 != b.SHA256 {
		return fmt.Errorf("%s: data set %s (sha256 %.12s), the clean run %s has data set %s (sha256 %.12s)", r.Dir, a.Path, a.SHA256, clean.Dir, b.Path, b.SHA256)
	}
	return nil
}

// dataset is the data set file recorded in run.json (wcos entropy hashes it as its one input).
func (r *run) dataset() *runinfo.FileInfo {
	if r.info == nil {
		return nil
	}
	ds, _ := r.info.Options["dataset"].(string)
	for i, in := range r.info.Inputs {
		if abs, _ := filepath.Abs(ds); ds != "" && (in.Path == ds || in.Path == abs) {
			return &r.info.Inputs[i]
		}
	}
	if len(r.info.Inputs) == 1 {
		return &r.info.Inputs[0]
	}
	return nil
}

// decoders turn little-endian tensor data into float64.
var decoders = map[string]struct {
	size int
	get  func(b []byte) float64
}{
	"F32": {4, func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }},
	"F64": {8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }},
	"F16": {2, func(b []byte) float64 { return float64(safetensors.F16ToF32(binary.LittleEndian.Uint16(b))) }},
	"BF16": {2, func(b []byte) float64 {
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16))
	}},
	"I32": {4, func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) }},
	"I64": {8, func(b []byte) float64 { return float64(int64(binary.LittleEndian.Uint64(b))) }},
}

// blockElems bounds the elements read at once per file (8 MB of float64).
const blockElems = 1 << 20

// reader reads row blocks of one tensor.
type reader struct {
	f    *os.File
	path string
	ti   safetensors.TensorInfo
	dec  func([]byte) float64
	size int
	raw  []byte
}

func (r *run) open(tensor string) (*reader, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	ti := r.tensors[tensor]
	d := decoders[ti.DType]
	return &reader{f: f, path: r.path, ti: ti, dec: d.get, size: d.size}, nil
}

// read decodes rows [r0, r0+n) into dst (n×width values).
func (rd *reader) read(r0, n, width int, dst []float64) error {
	nb := n * width * rd.size
	if cap(rd.raw) < nb {
		rd.raw = make([]byte, nb)
	}
	raw := rd.raw[:nb]
	if _, err := rd.f.ReadAt(raw, rd.ti.Begin+int64(r0*width*rd.size)); err != nil {
		return fmt.Errorf("%s: tensor %q rows %d–%d: %v", rd.path, rd.ti.Name, r0, r0+n-1, err)
	}
	switch rd.ti.DType { // the dtypes wcos entropy writes, without a call per value
	case "F32":
		for i := range n * width {
			dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case "I32":
		for i := range n * width {
			dst[i] = float64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	default:
		for i := range n * width {
			dst[i] = rd.dec(raw[i*rd.size:])
		}
	}
	return nil
}

func (rd *reader) Close() error { return rd.f.Close() }

// f16 rounds to the nearest float16, through float32 as torch casts a float32 tensor.
func f16(x float64) float64 { return float64(safetensors.F16ToF32(safetensors.F32ToF16(float32(x)))) }

// each calls fn with diff = value(clean) − value(abl) at every valid position of metric m, in row order.
// With half, floating-point values are rounded to float16 first and so are their log and their
// difference, as the reference stored entropy, loss and scale in float16 and subtracted (and took
// the log of) those tensors; rank is an integer either way.
func each(clean, abl *run, m Metric, half bool, fn func(d float64)) error {
	r := func(x float64) float64 { return x }
	if half && m.Tensor != "rank" {
		r = f16
	}
	a, err := clean.open(m.Tensor)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := abl.open(m.Tensor)
	if err != nil {
		return err
	}
	defer b.Close()
	wa, wb := clean.width, abl.width // equal for runs of one data set, but padding may differ
	block := max(1, blockElems/max(1, wa, wb))
	va, vb := make([]float64, block*wa), make([]float64, block*wb)
	rows := min(clean.rows, abl.rows) // differ only when truncating
	for r0 := 0; r0 < rows; r0 += block {
		n := min(block, rows-r0)
		if err := a.read(r0, n, wa, va); err != nil {
			return err
		}
		if err := b.read(r0, n, wb, vb); err != nil {
			return err
		}
		for i := range n {
			valid := int(clean.lengths[r0+i]) - m.Short
			for t := range max(0, valid) {
				x, y := r(va[i*wa+t]), r(vb[i*wb+t])
				if m.Log {
					x, y = r(math.Log(x)), r(math.Log(y))
				}
				fn(r(x - y))
			}
		}
	}
	return nil
}
