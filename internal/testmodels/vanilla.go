package testmodels

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
)

// The shape of the vanilla (GPT-2) test model.
const (
	VanillaDModel, VanillaFF, VanillaLayers, vanillaHeads = 64, 256, 2, 4
	VanillaEps                                            = 1e-5
)

// VanillaModel writes a random GPT-2 GGUF (llama.cpp's architecture gpt2: LayerNorms with weights and
// biases, fused QKV, a GELU MLP with biases, learnt positions) with tiny-olmo's tokenizer, F32: a
// non-gated MLP model llama.cpp runs. zero lists, per layer, neurons whose ffn_down column is 0 — the
// network a zero ablation of those neurons must equal. The weights do not depend on zero.
func VanillaModel(t testing.TB, zero map[int][]int) string {
	t.Helper()
	// tiny-olmo's tokenizer keys, as wcos's converter writes them.
	f, err := os.Open(GGUF(t, TinyDir(), "f32"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	const V, ctx = 50304, 256
	d, ff := VanillaDModel, VanillaFF
	kv := ggml.KV{"general.architecture": "gpt2", "general.name": "vanilla-test", "gpt2.context_length": uint32(ctx),
		"gpt2.embedding_length": uint32(d), "gpt2.feed_forward_length": uint32(ff), "gpt2.block_count": uint32(VanillaLayers),
		"gpt2.attention.head_count": uint32(vanillaHeads), "gpt2.attention.layer_norm_epsilon": float32(VanillaEps)}
	for k, v := range g.KV() {
		if strings.HasPrefix(k, "tokenizer.") {
			kv[k] = v
		}
	}
	rng := rand.New(rand.NewPCG(13, 7))
	var ts []*ggml.Tensor
	// add appends a tensor of ggml shape ne (ne[0] fastest) with normal values of scale s around off.
	add := func(name string, s, off float64, ne ...uint64) []float32 {
		n := uint64(1)
		for _, x := range ne {
			n *= x
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64()*s + off)
		}
		ts = append(ts, F32Tensor(name, ne, v))
		return v
	}
	D, FF := uint64(d), uint64(ff)
	add("token_embd.weight", 0.5, 0, D, V)
	add("position_embd.weight", 0.1, 0, D, ctx)
	add("output_norm.weight", 0.2, 1, D)
	add("output_norm.bias", 0, 0, D) // 0: at the last layer the attributes lens reads the model's own logits
	add("output.weight", 0.2, 0, D, V)
	for l := range VanillaLayers {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", 0.1, 1, D)
		add(p+"attn_norm.bias", 0.1, 0, D)
		add(p+"attn_qkv.weight", 0.1, 0, D, 3*D)
		add(p+"attn_qkv.bias", 0.05, 0, 3*D)
		add(p+"attn_output.weight", 0.1, 0, D, D)
		add(p+"attn_output.bias", 0.05, 0, D)
		add(p+"ffn_norm.weight", 0.1, 1, D)
		add(p+"ffn_norm.bias", 0.1, 0, D)
		add(p+"ffn_up.weight", 0.15, 0, D, FF)
		add(p+"ffn_up.bias", 0.3, 0, FF)
		// ffn_down has ne [n_ff, d_model]: row k (an output dimension) holds every neuron's weight.
		down := add(p+"ffn_down.weight", 0.1, 0.02, FF, D)
		for _, n := range zero[l] {
			for k := range d {
				down[k*ff+n] = 0
			}
		}
		add(p+"ffn_down.bias", 0.05, 0, D)
	}
	path := filepath.Join(t.TempDir(), "gpt2.gguf")
	WriteGGUF(t, path, kv, ts)
	return path
}

// F32Tensor is an F32 tensor of ggml shape ne (ne[0] fastest) for WriteGGUF. The values are encoded
// when it is written, so edits of v until then count.
func F32Tensor(name string, ne []uint64, v []float32) *ggml.Tensor {
	return &ggml.Tensor{Name: name, Kind: 0, Shape: ne, WriterTo: f32Writer(v)}
}

type f32Writer []float32

func (v f32Writer) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, []float32(v))
	return b.WriteTo(w)
}

// WriteGGUF writes kv and ts to path with ollama's Go writer.
func WriteGGUF(tb testing.TB, path string, kv ggml.KV, ts []*ggml.Tensor) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		tb.Fatal(err)
	}
}
