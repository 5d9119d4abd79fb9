package testmodels

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/convert"
	"github.com/wcos-dev/wcos/safetensors"
)

// The shape of the RMSNorm test models.
const (
	RMSDModel, RMSFF, RMSLayers, rmsHeads = 64, 128, 2, 4
	RMSEps                                = 1e-5
)

// RMSArchs are the architectures RMSModel writes: a SiLU-gated Llama and a GELU-gated Gemma-2 (tied
// embeddings, norms before and after attention and MLP, stored as Gemma's w of x·(1 + w)).
var RMSArchs = []string{"llama", "gemma2"}

// RMSModel writes a random checkpoint of arch (see RMSArchs) with tiny-olmo's tokenizer and converts
// it with ollama's converter (F16 matrices): a model with weighted RMSNorms that llama.cpp runs
// through that architecture's graph. zero lists, per layer, neurons whose down_proj column is set to
// 0 — the network a zero ablation of those neurons must equal. The weights do not depend on zero.
func RMSModel(t testing.TB, arch string, zero map[int][]int) string {
	t.Helper()
	const V = 50304
	d, ff := RMSDModel, RMSFF
	gemma := arch == "gemma2"
	normOff := 1.0
	if gemma {
		normOff = 0 // Gemma scales by 1 + w
	}
	rng := rand.New(rand.NewPCG(11, 5))
	mat := func(n int, s, off float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64()*s + off)
		}
		return v
	}
	dir := t.TempDir()
	ts := []safetensors.Tensor{
		safetensors.F32("model.embed_tokens.weight", []int64{V, int64(d)}, mat(V*d, 0.5, 0.1)),
		safetensors.F32("model.norm.weight", []int64{int64(d)}, mat(d, 0.3, normOff)),
	}
	if !gemma {
		ts = append(ts, safetensors.F32("lm_head.weight", []int64{V, int64(d)}, mat(V*d, 0.2, 0)))
	}
	for l := range RMSLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		down := mat(d*ff, 0.1, 0.02)
		for _, n := range zero[l] {
			for k := range d {
				down[k*ff+n] = 0
			}
		}
		ts = append(ts,
			safetensors.F32(p+"input_layernorm.weight", []int64{int64(d)}, mat(d, 0.1, normOff)),
			safetensors.F32(p+"post_attention_layernorm.weight", []int64{int64(d)}, mat(d, 0.1, normOff)),
			safetensors.F32(p+"self_attn.q_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"self_attn.k_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"self_attn.v_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"self_attn.o_proj.weight", []int64{int64(d), int64(d)}, mat(d*d, 0.1, 0)),
			safetensors.F32(p+"mlp.gate_proj.weight", []int64{int64(ff), int64(d)}, mat(ff*d, 0.15, 0)),
			safetensors.F32(p+"mlp.up_proj.weight", []int64{int64(ff), int64(d)}, mat(ff*d, 0.15, 0)),
			safetensors.F32(p+"mlp.down_proj.weight", []int64{int64(d), int64(ff)}, down))
		if gemma {
			ts = append(ts,
				safetensors.F32(p+"pre_feedforward_layernorm.weight", []int64{int64(d)}, mat(d, 0.1, 0)),
				safetensors.F32(p+"post_feedforward_layernorm.weight", []int64{int64(d)}, mat(d, 0.1, 0)))
		}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	config := map[string]any{"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"hidden_size": d, "intermediate_size": ff, "num_hidden_layers": RMSLayers, "num_attention_heads": rmsHeads,
		"num_key_value_heads": rmsHeads, "rms_norm_eps": RMSEps, "vocab_size": V, "max_position_embeddings": 256,
		"rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 0}
	if gemma {
		config["architectures"], config["model_type"] = []string{"Gemma2ForCausalLM"}, "gemma2"
		config["head_dim"], config["query_pre_attn_scalar"], config["sliding_window"] = d/rmsHeads, d/rmsHeads, 128
		config["attn_logit_softcapping"], config["final_logit_softcapping"] = 50.0, 30.0
		config["hidden_activation"], config["tie_word_embeddings"] = "gelu_pytorch_tanh", true
	}
	cfg, _ := json.Marshal(config)
	// tiny-olmo's tokenizer, with a BOS of its own as Llama has (ollama reads the special tokens from
	// tokenizer_config.json).
	tc, _ := json.Marshal(map[string]any{"bos_token": "<|padding|>", "eos_token": "<|endoftext|>", "add_bos_token": true})
	files := map[string][]byte{"config.json": cfg, "tokenizer_config.json": tc}
	tj, err := os.ReadFile(filepath.Join(TinyDir(), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	files["tokenizer.json"] = tj
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, arch+".gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := convert.ConvertModel(os.DirFS(dir), f); err != nil {
		t.Fatalf("ollama convert: %v", err)
	}
	return path
}
