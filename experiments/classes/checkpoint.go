package classes

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	ckpt "github.com/wcos-dev/wcos/internal/checkpoint"
	"github.com/wcos-dev/wcos/safetensors"
)

// checkpointFormat marks a classes checkpoint (another command's in the same place is refused).
const checkpointFormat = "wcos classes checkpoint v1"

// Checkpoint keeps the layers of a `wcos classes` run computed so far in
// OUT.partial/checkpoint.safetensors, so that an interrupted run (exact regions of a 7B model take
// most of an hour on a few cores) resumes at its next layer. It records every input a layer's
// numbers depend on; a run with other inputs is refused (internal/checkpoint). The threshold and the
// layer selection are not among them: classes are recomputed from the cosines, and a layer done is
// done whichever others are asked for.
type Checkpoint struct {
	*ckpt.File
	done map[int]LayerResult
}

// NewCheckpoint is the checkpoint of a run that writes out from the model with that sha256.
func NewCheckpoint(out, modelSHA256 string, o Options) *Checkpoint {
	return &Checkpoint{File: ckpt.New(out, checkpointFormat, "wcos classes checkpoint", []ckpt.Input{
		{Key: "model_sha256", Name: "model sha256", Value: modelSHA256},
		{Key: "weights", Name: "--weights", Value: string(o.Processing)},
		{Key: "refactor", Name: "--refactor", Value: strconv.FormatBool(o.Refactor)},
		{Key: "region", Name: "--region", Value: string(o.Region)},
		{Key: "p", Name: "--p", Value: strconv.FormatFloat(o.P, 'g', -1, 64)},
		{Key: "samples", Name: "--samples", Value: strconv.Itoa(o.Samples)},
		{Key: "seed", Name: "--seed", Value: strconv.FormatUint(o.Seed, 10)},
	}), done: map[int]LayerResult{}}
}

// Load returns the layers an interrupted run left (none without a checkpoint). A checkpoint that
// cannot be read, or was made with other inputs, is an error, never a fresh start.
func (c *Checkpoint) Load() (map[int]LayerResult, error) {
	f, err := c.Open()
	if f == nil || err != nil {
		return c.done, err
	}
	defer f.Close()
	for _, key := range strings.Fields(f.Metadata["layers"]) {
		l, err := strconv.Atoi(key)
		if err != nil || l < 0 {
			return nil, c.Damaged(fmt.Errorf("layer %q", key))
		}
		lr, err := readLayer(f, l)
		if err != nil {
			return nil, c.Damaged(err)
		}
		c.done[l] = lr
	}
	return c.done, nil
}

// statFields are a neuron's values in the checkpoint's stats.L tensor, in this order.
const statFields = 6

func readLayer(f *safetensors.File, l int) (LayerResult, error) {
	lr := LayerResult{Layer: l, Gated: f.Metadata[fmt.Sprintf("gated.%d", l)] == "true"}
	v, err := f.Float64(fmt.Sprintf("stats.%d", l))
	if err != nil {
		return lr, err
	}
	signs, err := f.Raw(fmt.Sprintf("sign.%d", l))
	if err != nil {
		return lr, err
	}
	if len(v) != statFields*len(signs) {
		return lr, fmt.Errorf("layer %d: %d values for %d neurons", l, len(v), len(signs))
	}
	if err := json.Unmarshal([]byte(f.Metadata[fmt.Sprintf("region.%d", l)]), &lr.Region); err != nil {
		return lr, fmt.Errorf("layer %d: region: %v", l, err)
	}
	lr.Stats = make([]NeuronStats, len(signs))
	for n := range lr.Stats {
		s := v[statFields*n:]
		lr.Stats[n] = NeuronStats{GateLin: s[0], GateOut: s[1], LinOut: s[2], NormGate: s[3], NormIn: s[4], NormOut: s[5], Sign: int8(signs[n])}
	}
	return lr, nil
}

// Add adds a layer computed to those done, for the next Save.
func (c *Checkpoint) Add(lr LayerResult) { c.done[lr.Layer] = lr }

// Save writes the layers done as the checkpoint (atomically; the folder is made at the first save, so
// a run that fails before it leaves nothing behind).
func (c *Checkpoint) Save() error {
	meta := map[string]string{}
	c.Record(meta)
	var ts []safetensors.Tensor
	var layers []string
	for _, l := range slices.Sorted(maps.Keys(c.done)) {
		key := strconv.Itoa(l)
		layers = append(layers, key)
		d := c.done[l]
		v := make([]float64, 0, statFields*len(d.Stats))
		s := make([]int8, len(d.Stats))
		for n, st := range d.Stats {
			v = append(v, st.GateLin, st.GateOut, st.LinOut, st.NormGate, st.NormIn, st.NormOut)
			s[n] = st.Sign
		}
		reg, _ := json.Marshal(d.Region)
		meta["region."+key], meta["gated."+key] = string(reg), strconv.FormatBool(d.Gated)
		ts = append(ts, safetensors.F64("stats."+key, []int64{int64(len(d.Stats)), statFields}, v),
			safetensors.I8("sign."+key, []int64{int64(len(d.Stats))}, s))
	}
	meta["layers"] = strings.Join(layers, " ")
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	return safetensors.Write(c.Path, ts, meta)
}

// Remove deletes the checkpoint's folder, once the run's outputs are in place.
func (c *Checkpoint) Remove() error { return os.RemoveAll(c.Dir) }
