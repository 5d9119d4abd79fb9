package bindings

// #include "bindings.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wcos-dev/wcos/internal/pystr"
)

// Model is a GGUF model loaded by llama.cpp.
type Model struct {
	m         *C.struct_llama_model
	vocab     *C.struct_llama_vocab
	gpuLayers int
	gated     bool
	Path      string
}

// OnGPU reports whether layers of the model were offloaded to a GPU.
func (m *Model) OnGPU() bool { return m.gpuLayers > 0 }

// PerRow resolves a --per-row setting for ContextOptions.PerRow: "on", "off", or "auto" (or "") = row
// by row unless the model is on a GPU (measured on the CPU: docs/benchmarks.md).
func (m *Model) PerRow(mode string) (bool, error) {
	switch mode {
	case "", "auto":
		return !m.OnGPU(), nil
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, fmt.Errorf("--per-row %q: want auto, on or off", mode)
}

// ModelOptions configures loading. GPULayers is the number of layers offloaded: ignored by the
// static (CPU) build; in the wcos_dynamic build > 0 requires a GPU backend and < 0 means all layers
// if one is loaded.
type ModelOptions struct {
	GPULayers int
	NoMmap    bool
}

// LoadModel loads a GGUF file.
func LoadModel(path string, opt ModelOptions) (*Model, error) {
	initBackend()
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	p := C.llama_model_default_params()
	p.use_mmap = C.bool(!opt.NoMmap)
	release, err := selectDevices(&p, opt.GPULayers) // backend_static.go / backend_dynamic.go
	if err != nil {
		return nil, err
	}
	defer release()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	m := C.llama_model_load_from_file(cpath, p)
	if m == nil {
		return nil, fmt.Errorf("%s: llama.cpp could not load the model (run with WCOS_VERBOSE=1 for its log)", path)
	}
	model := &Model{m: m, vocab: C.llama_model_get_vocab(m), gpuLayers: int(p.n_gpu_layers), Path: path, gated: true}
	if g, err := OpenGGUF(path); err == nil {
		model.gated = g.Has("blk.0.ffn_gate.weight") || !g.Has("blk.0.ffn_up.weight")
		g.Close()
	}
	return model, nil
}

// Gated reports whether the model's MLP is gated (ffn_gate): GPT-2-like models' is not.
func (m *Model) Gated() bool { return m.gated }

// Close frees the model.
func (m *Model) Close() {
	if m.m != nil {
		C.llama_model_free(m.m)
		m.m = nil
	}
}

// Meta returns a GGUF metadata value as a string.
func (m *Model) Meta(key string) (string, bool) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	buf := make([]byte, 512)
	n := C.llama_model_meta_val_str(m.m, ck, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n < 0 {
		return "", false
	}
	if int(n) >= len(buf) {
		buf = make([]byte, int(n)+1)
		C.llama_model_meta_val_str(m.m, ck, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	}
	return string(buf[:n]), true
}

// Arch is general.architecture.
func (m *Model) Arch() string { s, _ := m.Meta("general.architecture"); return s }

func (m *Model) NLayer() int { return int(C.llama_model_n_layer(m.m)) }
func (m *Model) NEmbd() int  { return int(C.llama_model_n_embd(m.m)) }

// NFF is the MLP width (neurons per layer).
func (m *Model) NFF() int {
	s, _ := m.Meta(m.Arch() + ".feed_forward_length")
	n, _ := strconv.Atoi(s)
	return n
}

// RMSNorm reports whether the model's norms are RMSNorms (llama.cpp's layer_norm_rms_epsilon key, as
// Llama, Mistral, Qwen and Gemma have) rather than LayerNorms (OLMo).
func (m *Model) RMSNorm() bool {
	_, ok := m.Meta(m.Arch() + ".attention.layer_norm_rms_epsilon")
	return ok
}

// NormEps is the epsilon of the model's LayerNorms or RMSNorms.
func (m *Model) NormEps() float32 {
	key := ".attention.layer_norm_epsilon"
	if m.RMSNorm() {
		key = ".attention.layer_norm_rms_epsilon"
	}
	s, _ := m.Meta(m.Arch() + key)
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return 1e-5
	}
	return float32(f)
}

// VocabSize is the number of tokens (rows of the output matrix).
func (m *Model) VocabSize() int { return int(C.llama_vocab_n_tokens(m.vocab)) }

// EOS is the end-of-text token id (OLMo's BOS too: see BOS).
func (m *Model) EOS() int32 { return int32(C.llama_vocab_eos(m.vocab)) }

// BOS is the id prepended to every text, as TransformerLens's prepend_bos and HF's add_bos_token do:
// OLMo has no BOS and marks a document's start with EOS (paper-spec §7), so an "olmo" GGUF gets EOS
// whatever its bos key says (llama.cpp's converter leaves it at the gpt2 default); other models get
// their vocabulary's BOS (Llama's <|begin_of_text|>, Gemma's <bos>), or EOS if they have none.
func (m *Model) BOS() int32 {
	if m.Arch() != "olmo" {
		if b := C.llama_vocab_bos(m.vocab); b >= 0 {
			return int32(b)
		}
	}
	return m.EOS()
}

// NParams is the number of parameters.
func (m *Model) NParams() uint64 { return uint64(C.llama_model_n_params(m.m)) }

// Desc is llama.cpp's one-line description (type, size, quantisation), with the size counted from
// the parameters where llama.cpp has no name for it ("?B": tiny and synthetic models).
func (m *Model) Desc() string {
	buf := make([]byte, 256)
	n := C.llama_model_desc(m.m, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n < 0 {
		return ""
	}
	return strings.Replace(string(buf[:n]), "?B", paramSize(m.NParams()), 1)
}

// paramSize writes a parameter count the way llama.cpp names model sizes: 19M, 6.9B.
func paramSize(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%dM", n/1e6)
	}
	return fmt.Sprint(n)
}

// Tokenize converts text to token ids with the model's tokenizer: no BOS is added and special-token
// text is not parsed (like HF tokenizers with add_special_tokens=False).
func (m *Model) Tokenize(text string) ([]int32, error) {
	if len(text) == 0 {
		return nil, nil
	}
	if len(text) > 1<<30 {
		return nil, errors.New("text too long to tokenize")
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	n := len(text) + 8
	for {
		buf := make([]C.llama_token, n)
		got := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)), &buf[0], C.int32_t(n), false, false)
		if got >= 0 {
			out := make([]int32, got)
			for i := range out {
				out[i] = int32(buf[i])
			}
			return out, nil
		}
		if int(-got) <= n {
			return nil, fmt.Errorf("llama_tokenize failed (%d)", got)
		}
		n = int(-got)
	}
}

// Detokenize is the text of tokens as Hugging Face's decode gives it: the pieces joined, special
// tokens written out, each ill-formed piece of UTF-8 (a character cut between tokens) as one U+FFFD
// (Rust's from_utf8_lossy, which Hugging Face's tokenizers use).
func (m *Model) Detokenize(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(m.TokenText(id))
	}
	return pystr.DecodeUTF8(b.String())
}

// TokenText is the piece of text of a token (special tokens rendered).
func (m *Model) TokenText(id int32) string {
	buf := make([]byte, 64)
	for {
		n := C.llama_token_to_piece(m.vocab, C.llama_token(id), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, true)
		if n >= 0 {
			return string(buf[:n])
		}
		buf = make([]byte, -n)
	}
}
