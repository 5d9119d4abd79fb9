package convert

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hf"
	"github.com/wcos-dev/wcos/internal/atomicfile"
)

// Types lists the accepted Options.Type values.
var Types = []string{"f32", "f16", "bf16", "q8_0", "q4_k_m"}

// Options configures Convert.
type Options struct {
	// Type is the output type: f32, f16, bf16, q8_0 or q4_k_m; "" keeps the checkpoint's own dtype
	// (F32, F16 or BF16), so nothing is rounded.
	Type string
	// Threads used by llama.cpp's quantiser; ≤ 0 means every CPU.
	Threads int
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Report describes a finished conversion.
type Report struct {
	Path        string // the GGUF written
	Type        string // output type (f32, f16, bf16, q8_0, q4_k_m)
	SourceDType string // F32, F16 or BF16
	Layers      int
	VocabSize   int // tokens in the GGUF (config vocab_size, padded with [PAD{i}])
	Tied        bool
	Tensors     int
	Params      int64
	Bytes       int64          // size of the GGUF
	TypeCounts  map[string]int // output tensors per ggml type
	// KeptF16 names the tensors left in F16 because their rows are not a whole number of quantisation
	// blocks (e.g. tiny-olmo's ffn_down, rows of 688, for q8_0's 32 and q4_k_m's 256).
	KeptF16 []string
	Elapsed time.Duration
}

// outTypes maps Options.Type to the ggml type written directly and, for quantised types, the block
// size every quantised row must be a multiple of (K-quants use 256, Q8_0 32).
var outTypes = map[string]struct {
	ggml     uint32
	fileType uint32 // llama_ftype for general.file_type
	block    int64
}{
	"f32":    {typeF32, 0, 1},
	"f16":    {typeF16, 1, 1},
	"bf16":   {typeBF16, 32, 1},
	"q8_0":   {typeQ8_0, 7, 32},
	"q4_k_m": {typeQ4_K, 15, 256},
}

var dtypeToGGML = map[string]uint32{"F32": typeF32, "F16": typeF16, "BF16": typeBF16}

// torchDTypes maps config.json torch_dtype to the safetensors dtype it implies.
var torchDTypes = map[string]string{"float32": "F32", "float16": "F16", "bfloat16": "BF16"}

// keepSuffix replaces "weight" in the temporary name of a tensor that must stay F16 when quantising:
// llama_model_quantize copies tensors whose names do not end in "weight" unchanged, and a suffix of
// the same length lets the real name be written back in place.
const keepSuffix = "kept16"

// tensorPlan is one GGUF tensor and where its data comes from.
type tensorPlan struct {
	hfName, name string
	rows, cols   int64 // HF shape
	permuteHeads int   // > 0: Q/K row permutation with this many heads
	dtype        string
}

// Convert converts the OLMo-1 checkpoint in hfDir to the GGUF outPath. On error no file is left at
// outPath (an existing file there is only replaced on success).
func Convert(hfDir, outPath string, opts Options) (Report, error) {
	start := time.Now()
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	logf := func(format string, a ...any) { fmt.Fprintf(logw, format+"\n", a...) }

	if _, ok := outTypes[opts.Type]; !ok && opts.Type != "" {
		return Report{}, fmt.Errorf("unknown output type %q (want one of %s)", opts.Type, strings.Join(Types, ", "))
	}
	ck, err := hf.Open(hfDir)
	if err != nil {
		return Report{}, err
	}
	defer ck.Close()
	cfgPath := filepath.Join(hfDir, "config.json")
	cfg := &ck.Config
	if !cfg.IsOLMo() {
		return Report{}, fmt.Errorf("%s: unsupported architecture %q (wcos converts OlmoForCausalLM, OLMo-1; convert other models with llama.cpp's convert_hf_to_gguf.py and give the GGUF)", cfgPath, cfg.Architecture())
	}
	if err := checkConfig(cfg); err != nil {
		return Report{}, fmt.Errorf("%s: %v", cfgPath, err)
	}
	tok, err := hf.LoadTokenizer(hfDir)
	if err != nil {
		return Report{}, err
	}
	plan, srcDType, err := planTensors(ck)
	if err != nil {
		return Report{}, err
	}
	typ := opts.Type
	if typ == "" {
		typ = strings.ToLower(srcDType)
	}
	ot := outTypes[typ]
	kvs, err := metadata(cfg, tok, filepath.Base(filepath.Clean(hfDir)), ot.fileType)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Type: typ, SourceDType: srcDType, Layers: cfg.NumHiddenLayers, VocabSize: cfg.VocabSize,
		Tied: cfg.TieWordEmbeddings, Tensors: len(plan)}
	for _, p := range plan {
		rep.Params += p.rows * p.cols
	}
	logf("convert: %s: %s, %d layers, d_model %d, d_mlp %d, vocab %d, %s, %.1fM parameters → %s",
		hfDir, cfg.Architecture(), cfg.NumHiddenLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize, srcDType,
		float64(rep.Params)/1e6, typ)
	if rep.Tied {
		logf("convert: tied embeddings: no output.weight (llama.cpp reuses token_embd.weight)")
	}

	out, err := atomicfile.Create(outPath)
	if err != nil {
		return Report{}, err
	}
	defer out.Abort()
	if ot.block == 1 {
		err = writeModel(ck, out, kvs, plan, func(tensorPlan) uint32 { return ot.ggml }, nil)
	} else {
		rep.KeptF16, err = quantize(ck, out, kvs, plan, typ, ot.block, opts.Threads, logf)
	}
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", outPath, err)
	}
	g, err := readGGUFFile(out.Name())
	if err != nil {
		return Report{}, err
	}
	rep.TypeCounts = map[string]int{}
	for _, t := range g.Tensors {
		rep.TypeCounts[typeName(t.Type)]++
	}
	if st, err := out.Stat(); err == nil {
		rep.Bytes = st.Size()
	}
	if err := out.Commit(); err != nil {
		return Report{}, err
	}
	rep.Path, rep.Elapsed = outPath, time.Since(start)
	logf("convert: wrote %s: %d tensors %v, %.1f MiB in %.2fs", outPath, len(g.Tensors), rep.TypeCounts,
		float64(rep.Bytes)/(1<<20), rep.Elapsed.Seconds())
	return rep, nil
}

// checkConfig rejects OLMo configurations the olmo graph of llama.cpp cannot run.
func checkConfig(c *hf.Config) error {
	switch {
	case c.NumHiddenLayers <= 0 || c.HiddenSize <= 0 || c.IntermediateSize <= 0 || c.NumAttentionHeads <= 0 || c.VocabSize <= 0:
		return fmt.Errorf("num_hidden_layers, hidden_size, intermediate_size, num_attention_heads and vocab_size must be positive")
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("max_position_embeddings must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0 || (c.HiddenSize/c.NumAttentionHeads)%2 != 0:
		return fmt.Errorf("hidden_size %d is not num_attention_heads %d times an even head size", c.HiddenSize, c.NumAttentionHeads)
	case c.NumKeyValueHeads < 0 || (c.NumKeyValueHeads > 0 && c.NumAttentionHeads%c.NumKeyValueHeads != 0):
		return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	case c.RopeScaling != nil:
		return fmt.Errorf("rope_scaling is not supported")
	case c.AttentionBias:
		return fmt.Errorf("attention_bias is not supported by llama.cpp's olmo architecture")
	case c.HiddenAct != "" && c.HiddenAct != "silu":
		return fmt.Errorf("hidden_act %q is not silu", c.HiddenAct)
	case c.ClipQKV != nil && *c.ClipQKV <= 0:
		return fmt.Errorf("clip_qkv %v is not positive", *c.ClipQKV)
	}
	return nil
}

func kvHeads(c *hf.Config) int {
	if c.NumKeyValueHeads > 0 {
		return c.NumKeyValueHeads
	}
	return c.NumAttentionHeads
}

// planTensors maps every HF tensor to its GGUF name and checks presence, dtype and shape against the
// config. It returns the tensors in GGUF order and the checkpoint's dtype.
func planTensors(ck *hf.Checkpoint) ([]tensorPlan, string, error) {
	c := &ck.Config
	d, ff, v := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	kv := int64(kvHeads(c)) * (d / int64(c.NumAttentionHeads))
	plan := []tensorPlan{{hfName: "model.embed_tokens.weight", name: "token_embd.weight", rows: v, cols: d}}
	if !c.TieWordEmbeddings {
		plan = append(plan, tensorPlan{hfName: "lm_head.weight", name: "output.weight", rows: v, cols: d})
	}
	for l := range c.NumHiddenLayers {
		hp, gp := fmt.Sprintf("model.layers.%d.", l), fmt.Sprintf("blk.%d.", l)
		plan = append(plan,
			tensorPlan{hfName: hp + "self_attn.q_proj.weight", name: gp + "attn_q.weight", rows: d, cols: d, permuteHeads: c.NumAttentionHeads},
			tensorPlan{hfName: hp + "self_attn.k_proj.weight", name: gp + "attn_k.weight", rows: kv, cols: d, permuteHeads: kvHeads(c)},
			tensorPlan{hfName: hp + "self_attn.v_proj.weight", name: gp + "attn_v.weight", rows: kv, cols: d},
			tensorPlan{hfName: hp + "self_attn.o_proj.weight", name: gp + "attn_output.weight", rows: d, cols: d},
			tensorPlan{hfName: hp + "mlp.gate_proj.weight", name: gp + "ffn_gate.weight", rows: ff, cols: d},
			tensorPlan{hfName: hp + "mlp.up_proj.weight", name: gp + "ffn_up.weight", rows: ff, cols: d},
			tensorPlan{hfName: hp + "mlp.down_proj.weight", name: gp + "ffn_down.weight", rows: d, cols: ff},
		)
	}
	wantDType := torchDTypes[c.TorchDType]
	srcDType := ""
	used := map[string]bool{}
	for i := range plan {
		p := &plan[i]
		used[p.hfName] = true
		info, err := ck.Info(p.hfName)
		if err != nil {
			return nil, "", fmt.Errorf("%s: tensor %s is missing (config.json: %d layers, tie_word_embeddings %v)",
				weightsFile(ck), p.hfName, c.NumHiddenLayers, c.TieWordEmbeddings)
		}
		shard := ck.Shard(p.hfName)
		if _, ok := dtypeToGGML[info.DType]; !ok {
			return nil, "", fmt.Errorf("%s: tensor %s has dtype %s (want F32, F16 or BF16)", shard, p.hfName, info.DType)
		}
		if wantDType != "" && info.DType != wantDType {
			return nil, "", fmt.Errorf("%s: tensor %s has dtype %s but config.json torch_dtype is %s", shard, p.hfName, info.DType, c.TorchDType)
		}
		if srcDType == "" {
			srcDType = info.DType
		} else if info.DType != srcDType {
			return nil, "", fmt.Errorf("%s: tensor %s has dtype %s, earlier tensors %s", shard, p.hfName, info.DType, srcDType)
		}
		if !slices.Equal(info.Shape, []int64{p.rows, p.cols}) {
			return nil, "", fmt.Errorf("%s: tensor %s has shape %v, config.json implies [%d %d]", shard, p.hfName, info.Shape, p.rows, p.cols)
		}
		p.dtype = info.DType
	}
	for _, n := range ck.Names() {
		switch {
		case used[n]:
		case n == "lm_head.weight" && c.TieWordEmbeddings:
			// Some tied checkpoints still store the shared matrix; llama.cpp reuses token_embd.
		case strings.HasSuffix(n, ".rotary_emb.inv_freq"):
			// A non-persistent buffer older exports saved; RoPE is recomputed from rope_theta.
		default:
			return nil, "", fmt.Errorf("%s: unexpected tensor %s (not part of OlmoForCausalLM with this config)", ck.Shard(n), n)
		}
	}
	return plan, srcDType, nil
}

// weightsFile names the checkpoint's index, or its only shard.
func weightsFile(ck *hf.Checkpoint) string {
	idx := filepath.Join(ck.Dir, "model.safetensors.index.json")
	if _, err := os.Stat(idx); err == nil {
		return idx
	}
	if names := ck.Names(); len(names) > 0 {
		return ck.Shard(names[0])
	}
	return ck.Dir
}

// Token types of tokenizer.ggml.token_type (llama.h enum llama_token_type).
const (
	tokenNormal      int32 = 1
	tokenControl     int32 = 3
	tokenUserDefined int32 = 4
	tokenUnused      int32 = 5
)

// vocabulary lists the n tokens by id with their types, as convert_hf_to_gguf.py's get_vocab_base does:
// ids without a token become "[PAD{i}]" (UNUSED); added tokens are CONTROL if special or shaped like
// <|…|>, else USER_DEFINED (the whitespace runs 50254–50276 of OLMo's tokenizer must be: engine.md §11);
// everything else is NORMAL.
func vocabulary(t *hf.Tokenizer, n int) ([]string, []int32, error) {
	if m := t.MaxID(); m >= n {
		return nil, nil, fmt.Errorf("%s: token id %d does not fit vocab_size %d of config.json", t.Path, m, n)
	}
	tokens := make([]string, n)
	types := make([]int32, n)
	for s, id := range t.Vocab {
		if types[id] != 0 && tokens[id] != s {
			return nil, nil, fmt.Errorf("%s: tokens %q and %q share id %d", t.Path, tokens[id], s, id)
		}
		tokens[id], types[id] = s, tokenNormal
	}
	for _, a := range t.AddedTokens {
		tokens[a.ID] = a.Content
		if a.Special || (strings.HasPrefix(a.Content, "<|") && strings.HasSuffix(a.Content, "|>")) {
			types[a.ID] = tokenControl
		} else {
			types[a.ID] = tokenUserDefined
		}
	}
	for i := range tokens {
		if types[i] == 0 {
			tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), tokenUnused
		}
	}
	return tokens, types, nil
}

// metadata builds the key table of engine.md §5.2, every value in the GGUF type llama.cpp expects.
func metadata(c *hf.Config, t *hf.Tokenizer, name string, fileType uint32) ([]kv, error) {
	tokens, types, err := vocabulary(t, c.VocabSize)
	if err != nil {
		return nil, err
	}
	kvs := []kv{
		{"general.architecture", "olmo"},
		{"general.name", name},
		{"general.file_type", fileType},
		{"general.quantization_version", uint32(2)},
		{"olmo.context_length", uint32(c.MaxPositionEmbeddings)},
		{"olmo.embedding_length", uint32(c.HiddenSize)},
		{"olmo.feed_forward_length", uint32(c.IntermediateSize)},
		{"olmo.block_count", uint32(c.NumHiddenLayers)},
		{"olmo.attention.head_count", uint32(c.NumAttentionHeads)},
	}
	if c.NumKeyValueHeads > 0 {
		kvs = append(kvs, kv{"olmo.attention.head_count_kv", uint32(c.NumKeyValueHeads)})
	}
	if c.RopeTheta > 0 {
		kvs = append(kvs, kv{"olmo.rope.freq_base", float32(c.RopeTheta)})
	}
	// OLMo-1's non-parametric LayerNorm uses 1e-5; llama.cpp requires the key (engine.md §11).
	kvs = append(kvs, kv{"olmo.attention.layer_norm_epsilon", float32(1e-5)})
	if c.ClipQKV != nil {
		kvs = append(kvs, kv{"olmo.attention.clamp_kqv", float32(*c.ClipQKV)})
	}
	kvs = append(kvs,
		kv{"tokenizer.ggml.model", "gpt2"},
		kv{"tokenizer.ggml.pre", "olmo"},
		kv{"tokenizer.ggml.tokens", tokens},
		kv{"tokenizer.ggml.token_type", types},
		kv{"tokenizer.ggml.merges", t.Merges},
	)
	id := func(cfgID *int, token string) (int, bool) {
		if cfgID != nil {
			return *cfgID, true
		}
		if token != "" {
			return t.ID(token)
		}
		return 0, false
	}
	eos, hasEOS := id(c.EOSTokenID, t.Config.EOSToken)
	bos, hasBOS := id(c.BOSTokenID, t.Config.BOSToken)
	if !hasBOS && hasEOS {
		// Without a bos key llama.cpp's gpt2 default is id 11; OLMo marks document starts with EOS
		// (engine.md §11).
		bos, hasBOS = eos, true
	}
	pad, hasPad := id(c.PadTokenID, t.Config.PadToken)
	unk, hasUnk := id(nil, t.Config.UnkToken)
	for _, x := range []struct {
		key string
		id  int
		ok  bool
	}{{"bos", bos, hasBOS}, {"eos", eos, hasEOS}, {"unknown", unk, hasUnk}, {"padding", pad, hasPad}} {
		if !x.ok {
			continue
		}
		if x.id < 0 || x.id >= c.VocabSize {
			return nil, fmt.Errorf("%s token id %d outside the vocabulary of %d", x.key, x.id, c.VocabSize)
		}
		kvs = append(kvs, kv{"tokenizer.ggml." + x.key + "_token_id", uint32(x.id)})
	}
	flag := func(p *bool) bool { return p != nil && *p }
	kvs = append(kvs,
		kv{"tokenizer.ggml.add_bos_token", flag(t.Config.AddBOSToken)},
		kv{"tokenizer.ggml.add_eos_token", flag(t.Config.AddEOSToken)},
	)
	if t.Config.ChatTemplate != "" {
		kvs = append(kvs, kv{"tokenizer.chat_template", t.Config.ChatTemplate})
	}
	return kvs, nil
}

// writeModel writes the GGUF with each tensor in typeOf(p), named rename(p) when rename is set.
func writeModel(ck *hf.Checkpoint, w io.Writer, kvs []kv, plan []tensorPlan, typeOf func(tensorPlan) uint32, rename func(tensorPlan) string) error {
	ts := make([]tensorOut, len(plan))
	for i, p := range plan {
		typ := typeOf(p)
		dims := []uint64{uint64(p.cols), uint64(p.rows)}
		size, _ := tensorBytes(typ, dims)
		name := p.name
		if rename != nil {
			name = rename(p)
		}
		ts[i] = tensorOut{Name: name, Type: typ, Dims: dims, Size: size, Write: func(w io.Writer) error {
			raw, info, err := ck.Raw(p.hfName)
			if err != nil {
				return err
			}
			if p.permuteHeads > 0 {
				raw = permuteRows(raw, p.rows, p.permuteHeads)
			}
			data, err := convertData(info.DType, raw, typ)
			if err != nil {
				return err
			}
			_, err = w.Write(data)
			return err
		}}
	}
	return writeGGUF(w, kvs, ts)
}

// permuteRows reorders the rows of a Q or K projection from HF's rotate-half RoPE layout to the
// adjacent-pair layout of llama.cpp's LLAMA_ROPE_TYPE_NORM: within each head of hd rows, output row
// 2i+j is input row j·hd/2+i (convert_hf_to_gguf.py LlamaModel.permute).
func permuteRows(raw []byte, rows int64, heads int) []byte {
	rowBytes := int64(len(raw)) / rows
	hd := rows / int64(heads)
	out := make([]byte, len(raw))
	for h := range int64(heads) {
		for i := range hd / 2 {
			for j := range int64(2) {
				dst := h*hd + 2*i + j
				src := h*hd + j*(hd/2) + i
				copy(out[dst*rowBytes:(dst+1)*rowBytes], raw[src*rowBytes:(src+1)*rowBytes])
			}
		}
	}
	return out
}

// quantize writes a temporary GGUF in the source dtype beside out, with the tensors whose rows do not
// fit the quantisation block already in F16 and renamed so llama_model_quantize copies them, runs the
// quantiser into out and restores their names. It returns the kept tensors.
func quantize(ck *hf.Checkpoint, out *atomicfile.File, kvs []kv, plan []tensorPlan, typ string, block int64, threads int, logf func(string, ...any)) ([]string, error) {
	var kept []string
	keep := map[string]bool{}
	for _, p := range plan {
		if p.cols%block != 0 {
			kept = append(kept, p.name)
			keep[p.name] = true
		}
	}
	if len(kept) > 0 {
		logf("convert: keeping %d tensor(s) in F16, their rows are not a multiple of the %s block of %d: %s",
			len(kept), typ, block, strings.Join(kept, ", "))
	}
	dir, base := filepath.Split(out.Name())
	src, err := os.CreateTemp(dir, base+".src-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(src.Name())
	typeOf := func(p tensorPlan) uint32 {
		if keep[p.name] {
			return typeF16
		}
		return dtypeToGGML[p.dtype] // the quantiser reads F32, F16 and BF16 losslessly
	}
	rename := func(p tensorPlan) string {
		if keep[p.name] {
			return strings.TrimSuffix(p.name, "weight") + keepSuffix
		}
		return p.name
	}
	err = writeModel(ck, src, kvs, plan, typeOf, rename)
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if err := bindings.Quantize(src.Name(), out.Name(), typ, threads); err != nil {
		return nil, err
	}
	logf("convert: llama_model_quantize to %s with %d threads: %.2fs", typ, threads, time.Since(t0).Seconds())

	// llama.cpp wrote out.Name() afresh (same inode), so out's descriptor reaches the new bytes.
	g, err := readGGUFFile(out.Name())
	if err != nil {
		return nil, err
	}
	restored := 0
	for _, t := range g.Tensors {
		if !strings.HasSuffix(t.Name, keepSuffix) {
			if t.Type == typeF32 || t.Type == typeF16 || t.Type == typeBF16 {
				return nil, fmt.Errorf("llama_model_quantize left %s in %s", t.Name, typeName(t.Type))
			}
			continue
		}
		real := strings.TrimSuffix(t.Name, keepSuffix) + "weight"
		if !keep[real] || t.Type != typeF16 {
			return nil, fmt.Errorf("unexpected tensor %s (%s) after quantisation", t.Name, typeName(t.Type))
		}
		if _, err := out.WriteAt([]byte(real), t.NameAt); err != nil {
			return nil, err
		}
		restored++
	}
	if restored != len(kept) {
		return nil, errors.New("quantised file lacks some of the tensors kept in F16")
	}
	return kept, nil
}
