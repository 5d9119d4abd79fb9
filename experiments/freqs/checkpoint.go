package freqs

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"

	ckpt "github.com/wcos-dev/wcos/internal/checkpoint"
	"github.com/wcos-dev/wcos/safetensors"
)

// checkpointFormat marks a freqs checkpoint (an entropy checkpoint in the same place is refused).
const checkpointFormat = "wcos freqs checkpoint v1"

// checkpoint is the state of an interrupted run, in OUT.partial/checkpoint.safetensors: a Summary of
// the rows of the shard done so far (always whole batches), plus every input it depends on, which a
// resuming run must match exactly (internal/checkpoint compares them, as for wcos entropy). The data
// set is streamed, so its rows are checked as they are read again: "tokens" is the digest of the rows
// done, recorded at each save and compared once a resuming run has read as many rows, before it
// decodes or saves anything.
type checkpoint struct {
	*ckpt.File // the inputs known before the data set is read
	legacyKey  string
	rows       ckpt.Rows // the shard's rows read so far
}

func newCheckpoint(cfg Config) *checkpoint {
	return &checkpoint{File: ckpt.New(cfg.Out, checkpointFormat, "wcos freqs checkpoint", []ckpt.Input{
		{Key: "model_sha256", Name: "model sha256", Value: cfg.ModelSHA256},
		{Key: "refactor", Name: "--refactor", Value: strconv.FormatBool(cfg.Refactor)},
		{Key: "k", Name: "--k", Value: strconv.Itoa(cfg.K)},
		{Key: "exact", Name: "--exact", Value: strconv.FormatBool(cfg.Exact)},
		{Key: "batch_size", Name: "--batch-size", Value: strconv.Itoa(cfg.BatchSize)},
		{Key: "max_length", Name: "--max-length", Value: strconv.Itoa(cfg.MaxLength)},
		{Key: "max_tokens", Name: "--max-tokens", Value: strconv.FormatInt(cfg.MaxTokens, 10)},
		{Key: "shard", Name: "--shard", Value: fmt.Sprintf("%d/%d", cfg.Shard, cfg.NShards)},
		{Key: "gpu_layers", Name: "--gpu-layers", Value: strconv.Itoa(cfg.GPULayers)},
		{Key: "per_row", Name: "--per-row", Value: cmp.Or(cfg.PerRow, "auto")},
	}), legacyKey: legacyKey(cfg)}
}

// legacyKey is how checkpoints of wcos freqs before this format identified their run (metadata
// "run_key"): a digest of some inputs, the data set by its path. A checkpoint with the run's key is
// still resumed; one with another key is refused.
func legacyKey(c Config) string {
	h := sha256.New()
	fmt.Fprintln(h, c.ModelSHA256, c.Dataset, c.Refactor, c.K, c.MaxLength, c.MaxTokens, c.Shard, c.NShards)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// withRows is the checkpoint's inputs with the digest of the rows read so far.
func (c *checkpoint) withRows() *ckpt.File {
	f := *c.File
	f.Inputs = append(slices.Clip(f.Inputs), c.rows.Input())
	return &f
}

// open returns the checkpoint left by an interrupted run (nil when there is none) after checking the
// inputs known before the data set is read, and whether it is of the legacy format (whose rows cannot
// be checked). A checkpoint that cannot be read or is of other inputs is an error, never a fresh start,
// so that it is not overwritten unseen.
func (c *checkpoint) open() (prev *Summary, legacy bool, err error) {
	f, err := safetensors.Open(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.Unreadable(err)
	}
	defer f.Close()
	if key, ok := f.Metadata["run_key"]; ok && f.Metadata["format"] == summaryFormat {
		if key != c.legacyKey {
			return nil, false, fmt.Errorf("%s: made by an earlier wcos freqs with other inputs (model, --dataset path, --refactor, --k, --max-length, --max-tokens or --shard); rerun with the inputs it was made with, or delete %s to start over", c.Path, c.Dir)
		}
		legacy = true
	} else if err := c.Check(f.Metadata); err != nil {
		return nil, false, err
	}
	if prev, err = read(f); err != nil {
		return nil, false, c.Unreadable(err)
	}
	if prev.Rows < 0 || prev.Tokens < 0 {
		return nil, false, c.Damaged(fmt.Errorf("%d rows, %d tokens done", prev.Rows, prev.Tokens))
	}
	return prev, legacy, nil
}

// checkRows compares the rows of the shard read so far (as many as prev has done, or all there are)
// with those the checkpoint was made from.
func (c *checkpoint) checkRows(prev *Summary) error {
	return c.withRows().Check(prev.Meta)
}

// save writes sum, whose state and counts are the rows read so far, as the checkpoint. The folder is
// made at the first save, so a run that fails on its input leaves nothing behind.
func (c *checkpoint) save(sum *Summary) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	s := *sum
	s.Meta = maps.Clone(sum.Meta)
	f := c.withRows()
	f.Record(s.Meta)
	return s.write(c.Path, f.Format)
}
