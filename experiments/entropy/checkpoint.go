package entropy

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/hooks"
	ckpt "github.com/wcos-dev/wcos/internal/checkpoint"
	"github.com/wcos-dev/wcos/safetensors"
)

// checkpointFormat marks an entropy checkpoint (a freqs checkpoint in the same place is refused).
const checkpointFormat = "wcos entropy checkpoint v1"

// checkpoint is the state of an interrupted run, in OUT.partial/checkpoint.safetensors (where and how
// wcos freqs keeps its state): the metrics of the rows done so far, [rows_done, max_len], and every
// input they depend on, which a resuming run must match exactly (internal/checkpoint compares them).
// It is written atomically (a temporary file renamed into place, by safetensors.Write) after whole
// batches only.
type checkpoint struct {
	*ckpt.File // Inputs compared in order; "tokens" is added once the rows are read
}

func newCheckpoint(cfg Config, spec hooks.Spec) *checkpoint {
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
	return &checkpoint{ckpt.New(cfg.Out, checkpointFormat, "wcos entropy checkpoint", []ckpt.Input{
		{Key: "model_sha256", Name: "model sha256", Value: cfg.ModelSHA256},
		{Key: "neurons", Name: "--neurons", Value: describeNeurons(cfg.Neurons)},
		{Key: "ablation", Name: "--ablation", Value: ablation},
		{Key: "means", Name: "--means values", Value: values},
		{Key: "gate", Name: "--gate", Value: sign(cfg.Gate)},
		{Key: "post", Name: "--post", Value: sign(cfg.Post)},
		{Key: "refactor", Name: "--refactor", Value: strconv.FormatBool(cfg.Refactor)},
		{Key: "exact", Name: "--exact", Value: strconv.FormatBool(cfg.Exact)},
		{Key: "batch_size", Name: "--batch-size", Value: strconv.Itoa(cfg.BatchSize)},
		{Key: "max_length", Name: "--max-length", Value: strconv.Itoa(cfg.MaxLength)},
		{Key: "max_tokens", Name: "--max-tokens", Value: strconv.FormatInt(cfg.MaxTokens, 10)},
		{Key: "gpu_layers", Name: "--gpu-layers", Value: strconv.Itoa(cfg.GPULayers)},
		{Key: "per_row", Name: "--per-row", Value: cmp.Or(cfg.PerRow, "auto")},
	})}
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
	var d ckpt.Rows
	for _, r := range rows {
		d.Add(r)
	}
	c.Inputs = append(c.Inputs, d.Input())
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
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
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	meta := map[string]string{"rows_done": strconv.Itoa(m.rows), "tokens_done": strconv.FormatInt(m.tokens, 10)}
	c.Record(meta)
	return safetensors.Write(c.Path, m.tensors(m.rows), meta)
}

// restore copies a checkpoint's rows into m, which holds the run's lengths. The rows done are whole
// batches, so the rest of the run decodes exactly the batches an uninterrupted run would.
func (c *checkpoint) restore(f *safetensors.File, m *metrics, batchSize int) error {
	if err := c.Check(f.Metadata); err != nil { // now with the rows
		return err
	}
	rows, err := strconv.Atoi(f.Metadata["rows_done"])
	if err != nil || rows < 0 || rows > len(m.lengths) || rows%batchSize != 0 {
		return c.Damaged(fmt.Errorf("bad rows_done %q for %d rows in batches of %d", f.Metadata["rows_done"], len(m.lengths), batchSize))
	}
	bad := c.Damaged
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
