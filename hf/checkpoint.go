package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wcos-dev/wcos/safetensors"
)

// Config holds the config.json fields wcos uses. Optional ids are pointers (null in the file).
type Config struct {
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
	HiddenAct             string   `json:"hidden_act"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumKeyValueHeads      int      `json:"num_key_value_heads"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	VocabSize             int      `json:"vocab_size"`
	RopeTheta             float64  `json:"rope_theta"`
	RopeScaling           any      `json:"rope_scaling"`
	ClipQKV               *float64 `json:"clip_qkv"`
	AttentionBias         bool     `json:"attention_bias"`
	TieWordEmbeddings     bool     `json:"tie_word_embeddings"`
	BOSTokenID            *int     `json:"bos_token_id"`
	EOSTokenID            *int     `json:"eos_token_id"`
	PadTokenID            *int     `json:"pad_token_id"`
	TorchDType            string   `json:"torch_dtype"`
	DoLayerNormBefore     *bool    `json:"do_layer_norm_before"` // OPT: false for the post-LN OPT-350m
}

// Architecture is the first entry of architectures.
func (c *Config) Architecture() string {
	if len(c.Architectures) == 0 {
		return ""
	}
	return c.Architectures[0]
}

// Checkpoint is an opened HF model directory.
type Checkpoint struct {
	Dir    string
	Config Config
	shards []*safetensors.File
	where  map[string]*safetensors.File
}

// Open reads dir/config.json and opens every safetensors shard, checking that the index (if any)
// names existing shards and tensors.
func Open(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a Hugging Face model directory", dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, where: map[string]*safetensors.File{}}
	if err := json.Unmarshal(b, &ck.Config); err != nil {
		return nil, fmt.Errorf("%s: %v", cfgPath, err)
	}
	if err := ck.openShards(); err != nil {
		ck.Close()
		return nil, err
	}
	return ck, nil
}

func (ck *Checkpoint) openShards() error {
	var files []string
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	idxPath := filepath.Join(ck.Dir, "model.safetensors.index.json")
	if b, err := os.ReadFile(idxPath); err == nil {
		if err := json.Unmarshal(b, &index); err != nil {
			return fmt.Errorf("%s: %v", idxPath, err)
		}
		seen := map[string]bool{}
		for _, f := range index.WeightMap {
			if !seen[f] {
				seen[f] = true
				files = append(files, filepath.Join(ck.Dir, f))
			}
		}
		sort.Strings(files)
	} else {
		files, _ = filepath.Glob(filepath.Join(ck.Dir, "*.safetensors"))
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no safetensors files", ck.Dir)
	}
	for _, p := range files {
		f, err := safetensors.Open(p)
		if err != nil {
			return err
		}
		ck.shards = append(ck.shards, f)
		for name := range f.Tensors {
			if prev, dup := ck.where[name]; dup {
				return fmt.Errorf("%s: tensor %q also in %s", p, name, prev.Path)
			}
			ck.where[name] = f
		}
	}
	for name, shard := range index.WeightMap {
		f, ok := ck.where[name]
		if !ok || filepath.Base(f.Path) != shard {
			return fmt.Errorf("%s: tensor %q listed in %s is missing", filepath.Join(ck.Dir, shard), name, idxPath)
		}
	}
	return nil
}

// Close closes all shards.
func (ck *Checkpoint) Close() error {
	for _, f := range ck.shards {
		f.Close()
	}
	ck.shards = nil
	return nil
}

// Names lists every tensor name, sorted.
func (ck *Checkpoint) Names() []string {
	names := make([]string, 0, len(ck.where))
	for n := range ck.where {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether the checkpoint holds the tensor.
func (ck *Checkpoint) Has(name string) bool { _, ok := ck.where[name]; return ok }

// Info returns a tensor's dtype, shape and location.
func (ck *Checkpoint) Info(name string) (safetensors.TensorInfo, error) {
	f, ok := ck.where[name]
	if !ok {
		return safetensors.TensorInfo{}, fmt.Errorf("%s: no tensor %q", ck.Dir, name)
	}
	return f.Info(name)
}

// Float32 reads a tensor as float32 (row-major, HF shape).
func (ck *Checkpoint) Float32(name string) ([]float32, []int64, error) {
	f, ok := ck.where[name]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no tensor %q", ck.Dir, name)
	}
	v, err := f.Float32(name)
	return v, f.Tensors[name].Shape, err
}

// Raw reads a tensor's stored bytes.
func (ck *Checkpoint) Raw(name string) ([]byte, safetensors.TensorInfo, error) {
	f, ok := ck.where[name]
	if !ok {
		return nil, safetensors.TensorInfo{}, fmt.Errorf("%s: no tensor %q", ck.Dir, name)
	}
	b, err := f.Raw(name)
	return b, f.Tensors[name], err
}

// IsOLMo reports whether the config describes an OLMo-1 model (OlmoForCausalLM / OLMoForCausalLM).
func (c *Config) IsOLMo() bool {
	a := c.Architecture()
	return strings.EqualFold(a, "OlmoForCausalLM")
}

// Shard is the path of the safetensors file holding the tensor ("" if none does).
func (ck *Checkpoint) Shard(name string) string {
	if f, ok := ck.where[name]; ok {
		return f.Path
	}
	return ""
}
