package freqs

import (
	"crypto/sha256"
	"encoding/hex"
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
	// Out+".partial/checkpoint.safetensors" after that many rows or that much time, whichever is first.
	CheckpointRows  int
	CheckpointEvery time.Duration
	Exact           bool
	Threads         int
	GPULayers       int
	Progress        io.Writer
	// stopAfter aborts the run after that many rows of this shard, as a kill would (tests).
	stopAfter int
}

var errStopped = errors.New("stopped (test)")

// key identifies a run for resuming: a checkpoint of any other configuration is not reused.
func (c Config) key() string {
	h := sha256.New()
	fmt.Fprintln(h, c.ModelSHA256, c.Dataset, c.Refactor, c.K, c.MaxLength, c.MaxTokens, c.Shard, c.NShards)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Run streams the data set through the model and writes Out/summary.safetensors. A checkpoint left by
// an interrupted run of the same configuration is resumed.
func Run(cfg Config) (*Summary, error) {
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
	m, err := bindings.LoadModel(cfg.Model, bindings.ModelOptions{GPULayers: cfg.GPULayers})
	if err != nil {
		return nil, err
	}
	defer m.Close()
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

	partial := filepath.Clean(cfg.Out) + ".partial"
	ckpt := filepath.Join(partial, "checkpoint.safetensors")
	resumeRows := int64(0)
	if prev, err := Read(ckpt); err == nil && prev.Meta["run_key"] == cfg.key() {
		if err := st.Import(prev.State); err != nil {
			return nil, fmt.Errorf("%s: %v", ckpt, err)
		}
		sum.Tokens, sum.Rows, resumeRows = prev.Tokens, prev.Rows, prev.Rows
		fmt.Fprintf(progressOr(cfg.Progress), "resuming from %s: %d rows, %d tokens done\n", ckpt, prev.Rows, prev.Tokens)
	}
	// The checkpoint folder is made at the first save, so a run that fails on its input (empty data
	// set, bad row) leaves nothing behind.
	save := func(path string) error {
		if err := os.MkdirAll(partial, 0o755); err != nil {
			return err
		}
		sum.State = st.Export()
		sum.Meta["run_key"] = cfg.key()
		return sum.Write(path)
	}

	r, err := dataset.Open(cfg.Dataset, m, dataset.Options{MaxLength: cfg.MaxLength, MaxTokens: cfg.MaxTokens})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ctx, err := m.NewContext(bindings.ContextOptions{MaxTokens: cfg.BatchSize * cfg.MaxLength, MaxRows: cfg.BatchSize, Threads: cfg.Threads, Exact: cfg.Exact,
		// Row by row on the CPU: one KV stream shared by the batch's rows makes attention cost 20-35 %
		// more (bindings.ContextOptions.PerRow); a GPU keeps the whole batch in one decode.
		PerRow: !m.OnGPU()})
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
			if err := save(ckpt); err != nil {
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
		if shardRows <= resumeRows {
			continue
		}
		if cfg.stopAfter > 0 && shardRows > int64(cfg.stopAfter) {
			return nil, errStopped
		}
		batch = append(batch, row.IDs)
		ids = append(ids, int64(row.Index))
		if len(batch) == cfg.BatchSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	bar.Finish()
	if sum.Tokens == 0 {
		return nil, fmt.Errorf("%s: no rows in shard %d/%d", cfg.Dataset, cfg.Shard, cfg.NShards)
	}
	sum.State = st.Export()
	delete(sum.Meta, "run_key")

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
	os.RemoveAll(partial)
	return sum, nil
}

func progressOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
