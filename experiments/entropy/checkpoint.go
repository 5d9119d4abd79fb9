package entropy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/hooks"
	"github.com/wcos-dev/wcos/safetensors"
)

// checkpointFormat marks an entropy checkpoint (a freqs checkpoint in the same place is refused).
const checkpointFormat = "wcos entropy checkpoint v1"

// checkpoint is the state of an interrupted run, in OUT.partial/checkpoint.safetensors (where and how
// wcos freqs keeps its state): the metrics of the rows done so far, [rows_done, max_len], and every
// input they depend on, which a resuming run must match exactly. It is written atomically (a
// temporary file renamed into place, by safetensors.Write) after whole batches only.
type checkpoint struct {
	dir, path string
	inputs    []input // compared in this order; "tokens" is added once the rows are read
}

// input is one thing the metrics depend on: key in the checkpoint's metadata ("input."+key), how the
// one-line refusal names it, and its canonical value.
type input struct{ key, name, value string }

func newCheckpoint(cfg Config, spec hooks.Spec) *checkpoint {
	dir := filepath.Clean(cfg.Out) + ".partial"
	ablation, values := "none", "none"
	if a := spec.Ablation; a != nil {
		ablation = cfg.Ablation
		if ablation == "" {
			ablation = "zero"
		}
		if a.Values != nil {
			b := make([]byte, 4*len(a.Values))
			for i, v := range a.Values {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
			values = fmt.Sprintf("%d values, sha256 %s", len(a.Values), digest(b))
		}
	}
	sign := func(s hooks.Sign) string {
		if s == 0 {
			return "none"
		}
		return s.String()
	}
	return &checkpoint{dir: dir, path: filepath.Join(dir, "checkpoint.safetensors"), inputs: []input{
		{"model_sha256", "model sha256", cfg.ModelSHA256},
		{"neurons", "--neurons", describeNeurons(cfg.Neurons)},
		{"ablation", "--ablation", ablation},
		{"means", "--means values", values},
		{"gate", "--gate", sign(cfg.Gate)},
		{"post", "--post", sign(cfg.Post)},
		{"refactor", "--refactor", strconv.FormatBool(cfg.Refactor)},
		{"exact", "--exact", strconv.FormatBool(cfg.Exact)},
		{"batch_size", "--batch-size", strconv.Itoa(cfg.BatchSize)},
		{"max_length", "--max-length", strconv.Itoa(cfg.MaxLength)},
		{"max_tokens", "--max-tokens", strconv.FormatInt(cfg.MaxTokens, 10)},
		{"gpu_layers", "--gpu-layers", strconv.Itoa(cfg.GPULayers)},
	}}
}

// describeNeurons is a neuron list's canonical value: the list itself when short, else its count and
// digest (the list is sorted and free of duplicates).
func describeNeurons(ns []hooks.Neuron) string {
	if len(ns) == 0 {
		return "none"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	list := strings.Join(s, ",")
	if len(ns) <= 8 {
		return list
	}
	return fmt.Sprintf("%d neurons, sha256 %s", len(ns), digest([]byte(list)))
}

// addRows adds the data set's rows, as tokenised and truncated (which covers the data set's content,
// --max-length, --max-tokens and the tokenizer), to the inputs.
func (c *checkpoint) addRows(rows [][]int32) {
	h := sha256.New()
	var tokens int64
	var b []byte
	for _, r := range rows {
		b = binary.LittleEndian.AppendUint32(b[:0], uint32(len(r)))
		for _, t := range r {
			b = binary.LittleEndian.AppendUint32(b, uint32(t))
		}
		h.Write(b)
		tokens += int64(len(r))
	}
	c.inputs = append(c.inputs, input{"tokens", "--dataset rows",
		fmt.Sprintf("%d rows, %d tokens, sha256 %s", len(rows), tokens, hex.EncodeToString(h.Sum(nil))[:16])})
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
}

// open returns the checkpoint left by an interrupted run (nil when there is none) after checking that
// the inputs known so far match; a checkpoint that cannot be read is an error, not a fresh start, so
// that it is never overwritten unseen.
func (c *checkpoint) open() (*safetensors.File, error) {
	f, err := safetensors.Open(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%v (delete %s to start over)", err, c.dir)
	}
	if err := c.check(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// check compares the checkpoint's inputs with the run's, naming the first that differs.
func (c *checkpoint) check(f *safetensors.File) error {
	if got := f.Metadata["format"]; got != checkpointFormat {
		return fmt.Errorf("%s: not a wcos entropy checkpoint (format %q); delete %s to start over", c.path, got, c.dir)
	}
	for _, in := range c.inputs {
		if got, ok := f.Metadata["input."+in.key]; !ok || got != in.value {
			return fmt.Errorf("%s: made with %s %s, this run has %s %s; rerun with the inputs it was made with, or delete %s to start over",
				c.path, in.name, orMissing(got, ok), in.name, in.value, c.dir)
		}
	}
	return nil
}

func orMissing(v string, ok bool) string {
	if !ok {
		return "(not recorded)"
	}
	return v
}

// metrics are the per-token outputs, [rows, width] row-major and zero-padded.
type metrics struct {
	width            int
	ent, loss, scale []float32
	rank             []int32
	lengths          []int32
	rows             int   // rows done
	tokens           int64 // tokens done
}

func (m *metrics) tensors(rows int) []safetensors.Tensor {
	n := rows * m.width
	shape := []int64{int64(rows), int64(m.width)}
	return []safetensors.Tensor{
		safetensors.F32("entropy", shape, m.ent[:n]), safetensors.F32("loss", shape, m.loss[:n]),
		safetensors.I32("rank", shape, m.rank[:n]), safetensors.F32("scale", shape, m.scale[:n]),
		safetensors.I32("lengths", []int64{int64(rows)}, m.lengths[:rows]),
	}
}

// save writes the rows done so far. The folder is made at the first save, so a run that fails on its
// input leaves nothing behind.
func (c *checkpoint) save(m *metrics) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	meta := map[string]string{"format": checkpointFormat, "rows_done": strconv.Itoa(m.rows), "tokens_done": strconv.FormatInt(m.tokens, 10)}
	for _, in := range c.inputs {
		meta["input."+in.key] = in.value
	}
	return safetensors.Write(c.path, m.tensors(m.rows), meta)
}

// restore copies a checkpoint's rows into m, which holds the run's lengths. The rows done are whole
// batches, so the rest of the run decodes exactly the batches an uninterrupted run would.
func (c *checkpoint) restore(f *safetensors.File, m *metrics, batchSize int) error {
	if err := c.check(f); err != nil { // now with the rows
		return err
	}
	rows, err := strconv.Atoi(f.Metadata["rows_done"])
	if err != nil || rows < 0 || rows > len(m.lengths) || rows%batchSize != 0 {
		return fmt.Errorf("%s: bad rows_done %q for %d rows in batches of %d; delete %s to start over", c.path, f.Metadata["rows_done"], len(m.lengths), batchSize, c.dir)
	}
	bad := func(err error) error {
		return fmt.Errorf("%s: %v; delete %s to start over", c.path, err, c.dir)
	}
	n := rows * m.width
	for _, t := range []struct {
		name string
		f32  []float32
		i32  []int32
	}{{"entropy", m.ent, nil}, {"loss", m.loss, nil}, {"scale", m.scale, nil}, {"rank", nil, m.rank}, {"lengths", nil, nil}} {
		info, err := f.Info(t.name)
		if err != nil {
			return bad(err)
		}
		want := []int64{int64(rows), int64(m.width)}
		if t.name == "lengths" {
			want = want[:1]
		}
		if fmt.Sprint(info.Shape) != fmt.Sprint(want) {
			return bad(fmt.Errorf("%s has shape %v, want %v", t.name, info.Shape, want))
		}
		switch {
		case t.f32 != nil:
			v, err := f.Float32(t.name)
			if err != nil {
				return bad(err)
			}
			copy(t.f32[:n], v)
		case t.i32 != nil:
			v, err := f.Int32(t.name)
			if err != nil {
				return bad(err)
			}
			copy(t.i32[:n], v)
		default:
			v, err := f.Int32(t.name)
			if err != nil {
				return bad(err)
			}
			for i := range v {
				if v[i] != m.lengths[i] {
					return bad(fmt.Errorf("row %d has %d tokens, the data set's %d", i, v[i], m.lengths[i]))
				}
			}
		}
	}
	m.rows = rows
	m.tokens = 0
	for _, l := range m.lengths[:rows] {
		m.tokens += int64(l)
	}
	return nil
}
