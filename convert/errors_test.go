package convert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linkModel makes a folder whose files are symlinks to src's, so a case can replace just one.
func linkModel(t *testing.T, src string) string {
	t.Helper()
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ents, err := os.ReadDir(abs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Symlink(filepath.Join(abs, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editJSON replaces dir/name (a symlink or file) by an edited copy.
func editJSON(t *testing.T, dir, name string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	os.Remove(p)
	writeJSON(t, p, m)
}

func TestConvertBadInput(t *testing.T) {
	cases := []struct {
		name string
		typ  string
		make func(t *testing.T) string
		want []string // substrings of the error: the file it names and the problem
	}{
		{"truncated shard", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			b, err := os.ReadFile(filepath.Join(untied.dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, "model.safetensors"))
			os.WriteFile(filepath.Join(dir, "model.safetensors"), b[:len(b)/2], 0o644)
			return dir
		}, []string{"model.safetensors", "truncated"}},
		{"index names a missing shard", "", func(t *testing.T) string {
			dir := linkModel(t, tinyOLMo.dir)
			editJSON(t, dir, "model.safetensors.index.json", func(m map[string]any) {
				m["weight_map"].(map[string]any)["model.layers.0.mlp.down_proj.weight"] = "model-00004-of-00003.safetensors"
			})
			return dir
		}, []string{"model-00004-of-00003.safetensors"}},
		{"dtype differs from torch_dtype", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "config.json", func(m map[string]any) { m["torch_dtype"] = "bfloat16" })
			return dir
		}, []string{"model.safetensors", "dtype F16", "torch_dtype is bfloat16"}},
		{"unsupported dtype", "", func(t *testing.T) string {
			s := gqaSpec
			s.override = map[string]string{"model.layers.1.self_attn.q_proj.weight": "F64"}
			return synthDir(t, s)
		}, []string{"model.safetensors", "model.layers.1.self_attn.q_proj.weight", "dtype F64"}},
		{"mixed dtypes", "", func(t *testing.T) string {
			s := gqaSpec
			s.override = map[string]string{"model.layers.1.mlp.up_proj.weight": "F16"}
			return synthDir(t, s)
		}, []string{"model.safetensors", "model.layers.1.mlp.up_proj.weight", "dtype F16"}},
		{"shape mismatch", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "config.json", func(m map[string]any) { m["intermediate_size"] = 255 })
			return dir
		}, []string{"model.safetensors", "shape [256 64]", "implies [255 64]"}},
		{"unknown architecture", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "config.json", func(m map[string]any) { m["architectures"] = []string{"Olmo2ForCausalLM"} })
			return dir
		}, []string{"config.json", "Olmo2ForCausalLM"}},
		{"tokenizer without merges", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "tokenizer.json", func(m map[string]any) { delete(m["model"].(map[string]any), "merges") })
			return dir
		}, []string{"tokenizer.json", "no merges"}},
		{"tokenizer not BPE", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "tokenizer.json", func(m map[string]any) { m["model"].(map[string]any)["type"] = "Unigram" })
			return dir
		}, []string{"tokenizer.json", "not BPE"}},
		{"missing layer", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "config.json", func(m map[string]any) { m["num_hidden_layers"] = 3 })
			return dir
		}, []string{"model.safetensors", "model.layers.2.self_attn.q_proj.weight is missing"}},
		{"missing lm_head", "", func(t *testing.T) string {
			s := gqaSpec
			s.skip = "lm_head.weight"
			return synthDir(t, s)
		}, []string{"model.safetensors", "lm_head.weight is missing"}},
		{"unexpected tensor", "", func(t *testing.T) string {
			dir := linkModel(t, untied.dir)
			editJSON(t, dir, "config.json", func(m map[string]any) { m["tie_word_embeddings"] = true; m["num_hidden_layers"] = 1 })
			return dir
		}, []string{"model.safetensors", "unexpected tensor model.layers.1."}},
		{"token ids beyond vocab_size", "", func(t *testing.T) string {
			s := gqaSpec
			s.vocab = 200
			return synthDir(t, s)
		}, []string{"tokenizer.json", "token id 259", "vocab_size 200"}},
		{"NaN weight rejected by the quantiser", "q8_0", func(t *testing.T) string {
			s := gqaSpec
			s.nan = "model.layers.0.mlp.up_proj.weight"
			return synthDir(t, s)
		}, []string{"llama_model_quantize to q8_0 failed"}},
		{"unknown type", "q5_0", func(t *testing.T) string { return untied.dir }, []string{`unknown output type "q5_0"`}},
		{"not a directory", "", func(t *testing.T) string { return filepath.Join(untied.dir, "config.json") }, []string{"config.json", "not a Hugging Face model directory"}},
	}
	for _, c := range cases {
		for _, existing := range []bool{false, true} {
			dir := c.make(t)
			outDir := t.TempDir()
			out := filepath.Join(outDir, "out.gguf")
			old := []byte("previous model")
			if existing {
				os.WriteFile(out, old, 0o644)
			}
			_, err := Convert(dir, out, Options{Type: c.typ, Threads: 2})
			if err == nil {
				t.Errorf("%s: no error", c.name)
				continue
			}
			msg := err.Error()
			if !existing {
				t.Logf("%s: %s", c.name, msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: error %q does not contain %q", c.name, msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("%s: error spans lines: %q", c.name, msg)
			}
			ents, _ := os.ReadDir(outDir)
			switch {
			case !existing && len(ents) != 0:
				t.Errorf("%s: output folder holds %s after the error, want nothing", c.name, ents[0].Name())
			case existing && len(ents) != 1:
				t.Errorf("%s: output folder holds %d entries after the error, want the previous file only", c.name, len(ents))
			case existing:
				if b, _ := os.ReadFile(out); !bytes.Equal(b, old) {
					t.Errorf("%s: the previous output was changed", c.name)
				}
			}
		}
	}
}
