package freqs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/dataset"
	"github.com/wcos-dev/wcos/experiments/classes"
	"github.com/wcos-dev/wcos/internal/atomicfile"
	"github.com/wcos-dev/wcos/internal/progress"
	"github.com/wcos-dev/wcos/internal/runinfo"
)

// Config is one statistics pass.
type Config struct {
	Model          string
	ModelSHA256    string
	Dataset        string
	Out            string // summary.safetensors goes into this folder
	Refactor       bool   // quadrants by s_n·up (paper default); false: raw up
	K              int    // top-k examples per (layer, quadrant, neuron)
	BatchSize      int
	MaxLength      int
	MaxTokens      int64
	Shard, NShards int // process rows with index % NShards == Shard
	// CheckpointRows and CheckpointEvery bound the work lost to a kill: the state is saved to
	// Out+".partial/checkpoint.safetensors" after that many rows or that much time, whichever is first
	// (after whole batches). A run resumes it only with the same inputs: ModelSHA256 (computed when
	// empty), the data set's rows done, Refactor, K, Exact, BatchSize, MaxLength, MaxTokens, the shard,
	// GPULayers and PerRow.
	CheckpointRows  int
	CheckpointEvery time.Duration
	Exact           bool
	Threads         int
	GPULayers       int
	// PerRow: "on" decodes a batch's rows one after the other (one KV stream per row), "off" in one
	// decode, "auto" (or "") row by row unless the model is on a GPU (bindings.Model.PerRow).
	PerRow   string
	Progress io.Writer
	// stopAfter aborts the run after that many rows of this shard, as a kill would (tests).
	stopAfter int
}

var errStopped = errors.New("stopped (test)")

// Run streams the data set through the model and writes Out/summary.safetensors. A checkpoint left by
// an interrupted run with the same inputs is resumed, to a summary byte-identical to an uninterrupted
// run's; one made with other inputs (or unreadable) is refused with a one-line error naming the file
// and the first difference, and left as it is.
func Run(cfg Config) (*Summary, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 4
	}
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = 1024
	}
	if cfg.NShards <= 0 {
		cfg.NShards = 1
	}
	if cfg.Shard < 0 || cfg.Shard >= cfg.NShards {
		return nil, fmt.Errorf("--shard %d/%d: want 0 ≤ i < n", cfg.Shard, cfg.NShards)
	}
	if cfg.K < 0 {
		cfg.K = 16
	}
	if cfg.CheckpointRows <= 0 {
		cfg.CheckpointRows = 1000
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 5 * time.Minute
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.ModelSHA256 == "" { // the checkpoint must know the model by its content
		fi, err := runinfo.Hash(cfg.Model)
		if err != nil {
			return nil, err
		}
		cfg.ModelSHA256 = fi.SHA256
	}
	// A checkpoint of other inputs is refused before the model is loaded; the rows it has done are
	// compared once they are read again, before anything is decoded or saved.
	ck := newCheckpoint(cfg)
	prev, legacy, err := ck.open()
	if err != nil {
		return nil, err
	}

	m, err := bindings.LoadModel(cfg.Model, bindings.ModelOptions{GPULayers: cfg.GPULayers})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	perRow, err := m.PerRow(cfg.PerRow)
	if err != nil {
		return nil, err
	}
	nl, nff := m.NLayer(), m.NFF()

	st, err := bindings.NewStats(nl, nff, cfg.K)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	signs := make([]int8, nl*nff)
	var refactored map[int][]int8
	if cfg.Refactor {
		layers := make([]int, nl)
		for l := range layers {
			layers[l] = l
		}
		if refactored, err = classes.RefactorSigns(cfg.Model, layers); err != nil {
			return nil, err
		}
	}
	for l := 0; l < nl; l++ {
		s := refactored[l]
		if s == nil {
			s = make([]int8, nff)
			for i := range s {
				s[i] = 1
			}
		}
		copy(signs[l*nff:], s)
		if err := st.SetSigns(l, s); err != nil {
			return nil, err
		}
	}
	sum := &Summary{NLayer: nl, NFF: nff, K: cfg.K, Signs: signs, Meta: map[string]string{
		"model": filepath.Base(cfg.Model), "model_sha256": cfg.ModelSHA256, "dataset": filepath.Base(cfg.Dataset),
		"refactor": strconv.FormatBool(cfg.Refactor), "max_length": strconv.Itoa(cfg.MaxLength),
		"max_tokens": strconv.FormatInt(cfg.MaxTokens, 10), "shard": fmt.Sprintf("%d/%d", cfg.Shard, cfg.NShards),
	}}

	resumeRows := int64(0)
	rowsChecked := prev == nil || legacy // legacy checkpoints recorded no digest of their rows
	if prev != nil {
		if err := st.Import(prev.State); err != nil {
			return nil, ck.Damaged(err)
		}
		sum.Tokens, sum.Rows, resumeRows = prev.Tokens, prev.Rows, prev.Rows
		fmt.Fprintf(cfg.Progress, "resuming from %s: %d rows, %d tokens done\n", ck.Path, prev.Rows, prev.Tokens)
	}
	checkRows := func() error {
		if rowsChecked {
			return nil
		}
		rowsChecked = true
		return ck.checkRows(prev)
	}
	save := func() error {
		sum.State = st.Export()
		return ck.save(sum)
	}

	r, err := dataset.Open(cfg.Dataset, m, dataset.Options{MaxLength: cfg.MaxLength, MaxTokens: cfg.MaxTokens})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: cfg.BatchSize * cfg.MaxLength, MaxRows: cfg.BatchSize, Threads: cfg.Threads, Exact: cfg.Exact,
		PerRow: perRow, MaxRowLength: cfg.MaxLength})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	ctx.AttachStats(st)

	bar := progress.New(cfg.Progress, "freqs", "tok", cfg.MaxTokens/int64(cfg.NShards))
	var batch [][]int32
	var ids []int64
	var shardRows int64 // rows of this shard seen, resumed ones included
	lastSave, sinceSave := time.Now(), 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ctx.SetRowIDs(ids)
		if err := ctx.Decode(batch); err != nil {
			return fmt.Errorf("rows %d–%d: %w", ids[0], ids[len(ids)-1], err)
		}
		var n int64
		for _, b := range batch {
			n += int64(len(b))
		}
		sum.Tokens += n
		sum.Rows += int64(len(batch))
		sinceSave += len(batch)
		bar.Add(n)
		batch, ids = batch[:0], ids[:0]
		if sinceSave >= cfg.CheckpointRows || time.Since(lastSave) >= cfg.CheckpointEvery {
			if err := save(); err != nil {
				return err
			}
			lastSave, sinceSave = time.Now(), 0
		}
		return nil
	}
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if row.Index%cfg.NShards != cfg.Shard {
			continue
		}
		shardRows++
		if shardRows <= resumeRows { // done: read again only to check them
			ck.rows.Add(row.IDs)
			if shardRows == resumeRows {
				if err := checkRows(); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := checkRows(); err != nil { // when resumeRows is 0
			return nil, err
		}
		if cfg.stopAfter > 0 && shardRows > int64(cfg.stopAfter) {
			return nil, errStopped
		}
		ck.rows.Add(row.IDs)
		batch = append(batch, row.IDs)
		ids = append(ids, int64(row.Index))
		if len(batch) == cfg.BatchSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := checkRows(); err != nil { // the data set ended before the rows done
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	bar.Finish()
	if sum.Tokens == 0 {
		return nil, fmt.Errorf("%s: no rows in shard %d/%d", cfg.Dataset, cfg.Shard, cfg.NShards)
	}
	sum.State = st.Export()

	tmp, err := atomicfile.TempDir(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := sum.Write(filepath.Join(tmp, "summary.safetensors")); err != nil {
		return nil, err
	}
	if err := atomicfile.ReplaceDir(tmp, cfg.Out); err != nil {
		return nil, err
	}
	os.RemoveAll(ck.Dir)
	return sum, nil
}
