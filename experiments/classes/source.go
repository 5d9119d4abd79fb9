package classes

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/hf"
	"github.com/wcos-dev/wcos/torchpt"
)

// Dims are a model's MLP sizes, its architecture (HF model_type or GGUF general.architecture) and the
// norm before its MLP.
type Dims struct {
	NLayers, DModel, DMLP int
	Arch                  string
	Norm                  Norm
	Decoder               int  // T5: the first decoder layer, after the encoder's; 0 for one stack
	Vanilla               bool // a non-gated MLP
}

// CheckProcessing refuses TL processing for an architecture whose norm wcos does not know; the error
// ends with what to do instead (the caller's flag).
func (d Dims) CheckProcessing(path string, proc Processing, instead string) error {
	if proc == TL && d.Norm == UnknownNorm {
		return fmt.Errorf("%s: TransformerLens processing is known for model types %s and GGUF architectures %s, not %q; %s",
			path, sortedNames(slices.Concat(known(hfNorms, normOf), known(hfLayouts, func(ls []hfLayout) Norm { return ls[0].norm.norm }))),
			sortedNames(slices.Concat(known(ggufNorms, normOf), known(ggufVanillaNorms, normOf))), d.Arch, instead)
	}
	return nil
}

// archNorm is where an architecture keeps the weight of the norm before the MLP.
type archNorm struct {
	norm    Norm
	name    string // tensor name format with the layer's %d; "" for a LayerNorm without a weight
	plusOne bool   // the stored weight is w of Gemma's x·(1 + w)
}

// hfNorms are the HF model types wcos knows (spec §1.3): OLMo-1's LayerNorm has no parameters; Gemma
// scales by 1 + w; Gemma-2 and -3 have a norm before and after the MLP, and the one before is folded.
var hfNorms = map[string]archNorm{
	"olmo":        {norm: LayerNorm},
	"llama":       {RMSNorm, "model.layers.%d.post_attention_layernorm.weight", false},
	"mistral":     {RMSNorm, "model.layers.%d.post_attention_layernorm.weight", false},
	"qwen2":       {RMSNorm, "model.layers.%d.post_attention_layernorm.weight", false},
	"qwen3":       {RMSNorm, "model.layers.%d.post_attention_layernorm.weight", false},
	"gemma":       {RMSNorm, "model.layers.%d.post_attention_layernorm.weight", true},
	"gemma2":      {RMSNorm, "model.layers.%d.pre_feedforward_layernorm.weight", true},
	"gemma3_text": {RMSNorm, "model.layers.%d.pre_feedforward_layernorm.weight", true},
}

// ggufNorms are the GGUF architectures wcos knows. llama.cpp's and ollama's converters store Gemma's
// norm weights as 1 + w already (ggml multiplies by the weight), so none is shifted here.
var ggufNorms = map[string]archNorm{
	"olmo":   {norm: LayerNorm},
	"llama":  {RMSNorm, "blk.%d.ffn_norm.weight", false},
	"qwen2":  {RMSNorm, "blk.%d.ffn_norm.weight", false},
	"qwen3":  {RMSNorm, "blk.%d.ffn_norm.weight", false},
	"gemma":  {RMSNorm, "blk.%d.ffn_norm.weight", false},
	"gemma2": {RMSNorm, "blk.%d.ffn_norm.weight", false},
	"gemma3": {RMSNorm, "blk.%d.ffn_norm.weight", false},
}

// ggufVanillaNorms are the vanilla architectures of hfLayouts as llama.cpp's converter names them: the
// LayerNorm before the MLP is ffn_norm, GPT-J's (parallel attention and MLP) attn_norm; BERT
// normalises after the MLP. OPT and minGPT have no llama.cpp architecture; T5's layers are enc.blk
// and dec.blk, which wcos does not read.
var ggufVanillaNorms = map[string]archNorm{
	"gpt2":    {LayerNorm, "blk.%d.ffn_norm.weight", false},
	"gptneox": {LayerNorm, "blk.%d.ffn_norm.weight", false},
	"bloom":   {LayerNorm, "blk.%d.ffn_norm.weight", false},
	"gptj":    {LayerNorm, "blk.%d.attn_norm.weight", false},
	"bert":    {norm: UnknownNorm},
}

// known are the names in m whose TL processing wcos knows (norm gives an entry's norm).
func known[V any](m map[string]V, norm func(V) Norm) []string {
	var names []string
	for name, v := range m {
		if norm(v) != UnknownNorm {
			names = append(names, name)
		}
	}
	return names
}

func normOf(a archNorm) Norm { return a.norm }

func sortedNames(names []string) string {
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// lookupNorm returns the architecture's entry, UnknownNorm if it has none.
func lookupNorm(m map[string]archNorm, arch string) archNorm {
	if a, ok := m[arch]; ok {
		return a
	}
	return archNorm{norm: UnknownNorm}
}

// checkShape checks up front that layer l's norm weight, local within its stack, exists with d values.
func (a archNorm) checkShape(l, local, d int, shape func(name string) ([]int64, error)) error {
	if a.name == "" {
		return nil
	}
	name := fmt.Sprintf(a.name, local)
	sh, err := shape(name)
	if err != nil {
		return fmt.Errorf("layer %d: no tensor %s (the norm before the MLP)", l, name)
	}
	if len(sh) != 1 || sh[0] != int64(d) {
		return fmt.Errorf("layer %d: %s has shape %v, want [%d]", l, name, sh, d)
	}
	return nil
}

// normWeight reads layer l's norm weight (local within its stack) from the model at path through read
// (which returns the values and the row-major shape, its errors naming the file), checks it has d
// values and applies Gemma's 1 + w in float32. It returns nil when the norm has no weight.
func (a archNorm) normWeight(path string, l, local, d int, read func(name string) ([]float32, []int64, error)) ([]float32, error) {
	if a.name == "" {
		return nil, nil
	}
	name := fmt.Sprintf(a.name, local)
	v, shape, err := read(name)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 || shape[0] != int64(d) {
		return nil, fmt.Errorf("%s: layer %d: %s has shape %v, want [%d]", path, l, name, shape, d)
	}
	if a.plusOne {
		for i := range v {
			v[i]++
		}
	}
	return v, nil
}

// Source yields one layer of MLP weights at a time. Layer may be called from one goroutine at a time.
type Source interface {
	Path() string
	Format() string // "hf" or "gguf"
	Dims() Dims
	Layer(l int) (*LayerWeights, error)
	Close() error
}

// Open opens a model: a directory is a Hugging Face checkpoint, a file a GGUF. Every layer's gated MLP
// tensors are checked for presence and shape up front, so a bad model fails before any work is done.
// Errors are one line naming the file.
func Open(path string) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return OpenHF(path)
	}
	if torchpt.IsTorch(path) {
		return OpenTorch(path)
	}
	return OpenGGUF(path)
}

// OpenTorch opens a torch.save state dict that comes without a config.json, such as Othello-GPT's
// final.pth (minGPT): its model type is the one in hfLayouts whose tensor names it has.
func OpenTorch(path string) (Source, error) {
	ck, err := hf.OpenFile(path)
	if err != nil {
		return nil, err
	}
	types := slices.Sorted(maps.Keys(hfLayouts))
	for _, mt := range types {
		if _, _, ok := findLayout(ck, hfLayouts[mt]); !ok {
			continue
		}
		ck.Config.ModelType = mt
		s, err := openHF(ck)
		if err != nil {
			ck.Close()
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		s.format = "torch"
		return s, nil
	}
	ck.Close()
	return nil, fmt.Errorf("%s: a state dict of no known MLP layout (model types %s); for a Hugging Face checkpoint give its directory",
		path, strings.Join(types, ", "))
}

// hfLayout is where a Hugging Face architecture keeps a layer's MLP: tensor name formats with the
// layer's %d, after one of prefixes (the first under which layer 0's in-tensor exists), and whether a
// matrix is stored [d_model, d_mlp] (GPT-2's Conv1D in, every Linear out) rather than neuron-major.
type hfLayout struct {
	prefixes      []string
	gate, in, out string // gate "" for a non-gated ("vanilla") MLP
	inDM, outDM   bool
	norm          archNorm // its name after the prefix too; zero: looked up in hfNorms by model type
	// decoder, if set, is a second stack of layers under the same prefix, numbered after this one's
	// (T5's decoder after its encoder, as TransformerLens's HookedEncoderDecoder stacks W_in).
	decoder *hfLayout
}

// gatedLayout is every gated model's (OLMo, Llama, Mistral, Qwen, Gemma): gate_proj, up_proj, down_proj.
var gatedLayout = hfLayout{prefixes: []string{""}, gate: "model.layers.%d.mlp.gate_proj.weight",
	in: "model.layers.%d.mlp.up_proj.weight", out: "model.layers.%d.mlp.down_proj.weight", outDM: true}

// t5Layout is T5's: v1.0's ReLU MLP (wi, wo), or, with gated, v1.1's and Flan-T5's gated GELU (wi_0
// the gate, wi_1 the in). The RMSNorm before the MLP is layer.1's in the encoder, layer.2's in the
// decoder, and has no 1 + w.
func t5Layout(gated bool) []hfLayout {
	stack := func(part string, sub int) *hfLayout {
		p := fmt.Sprintf("%s.block.%%d.layer.%d.", part, sub)
		l := &hfLayout{prefixes: []string{""}, in: p + "DenseReluDense.wi.weight", out: p + "DenseReluDense.wo.weight", outDM: true,
			norm: archNorm{RMSNorm, p + "layer_norm.weight", false}}
		if gated {
			l.gate, l.in = p+"DenseReluDense.wi_0.weight", p+"DenseReluDense.wi_1.weight"
		}
		return l
	}
	enc := stack("encoder", 1)
	enc.decoder = stack("decoder", 2)
	return []hfLayout{*enc}
}

// hfLayouts are the architectures whose MLP is not gatedLayout's, each with its candidate layouts (the
// first whose layer-0 in-tensor exists is used):
//   - the pre-LayerNorm vanilla models of the reference's VANILLA_MODELS (spec §1.4): GPT-2 and
//     distilgpt2, Pythia (GPT-NeoX), OPT, BLOOM and GPT-J; TransformerLens folds the LayerNorm's weight
//     into w_in and centres w_in and w_out (spec §1.3);
//   - minGPT, the layout of Othello-GPT's final.pth (converted to safetensors, model_type "mingpt");
//   - BERT, whose LayerNorm comes after the MLP: raw weights only;
//   - T5, encoder then decoder layers, its RMSNorm folded like the gated RMSNorm models'.
var hfLayouts = map[string][]hfLayout{
	"gpt2": {{prefixes: []string{"", "transformer."}, in: "h.%d.mlp.c_fc.weight", out: "h.%d.mlp.c_proj.weight", inDM: true,
		norm: archNorm{LayerNorm, "h.%d.ln_2.weight", false}}},
	"gpt_neox": {{prefixes: []string{"gpt_neox."}, in: "layers.%d.mlp.dense_h_to_4h.weight", out: "layers.%d.mlp.dense_4h_to_h.weight",
		outDM: true, norm: archNorm{LayerNorm, "layers.%d.post_attention_layernorm.weight", false}}},
	"opt": {{prefixes: []string{"model.decoder.", "decoder."}, in: "layers.%d.fc1.weight", out: "layers.%d.fc2.weight", outDM: true,
		norm: archNorm{LayerNorm, "layers.%d.final_layer_norm.weight", false}}},
	"bloom": {{prefixes: []string{"transformer.", ""}, in: "h.%d.mlp.dense_h_to_4h.weight", out: "h.%d.mlp.dense_4h_to_h.weight",
		outDM: true, norm: archNorm{LayerNorm, "h.%d.post_attention_layernorm.weight", false}}},
	// GPT-J runs attention and MLP in parallel on ln_1's output: TransformerLens ties ln2 to ln_1.
	"gptj": {{prefixes: []string{"transformer.", ""}, in: "h.%d.mlp.fc_in.weight", out: "h.%d.mlp.fc_out.weight", outDM: true,
		norm: archNorm{LayerNorm, "h.%d.ln_1.weight", false}}},
	"mingpt": {{prefixes: []string{""}, in: "blocks.%d.mlp.0.weight", out: "blocks.%d.mlp.2.weight", outDM: true,
		norm: archNorm{LayerNorm, "blocks.%d.ln2.weight", false}}},
	"bert": {{prefixes: []string{"bert.", ""}, in: "encoder.layer.%d.intermediate.dense.weight",
		out: "encoder.layer.%d.output.dense.weight", outDM: true, norm: archNorm{norm: UnknownNorm}}},
	"t5": slices.Concat(t5Layout(true), t5Layout(false)),
}

// hfStack is one stack of a checkpoint's layers: its names with the prefix, its norm and its layer count.
type hfStack struct {
	layout hfLayout
	norm   archNorm
	n      int
}

type hfSource struct {
	ck     *hf.Checkpoint
	format string // "hf", or "torch" for a lone state dict
	dims   Dims
	stacks []hfStack // one, or T5's encoder and decoder
}

// layer returns the stack of layer l and l's index within it.
func (s *hfSource) layer(l int) (*hfStack, int) {
	for i := range s.stacks {
		if l < s.stacks[i].n {
			return &s.stacks[i], l
		}
		l -= s.stacks[i].n
	}
	panic("classes: layer out of range")
}

// names are layer l's gate ("" for a vanilla MLP), in and out tensor names.
func (st *hfStack) names(l int) (gate, in, out string) {
	if st.layout.gate != "" {
		gate = fmt.Sprintf(st.layout.gate, l)
	}
	return gate, fmt.Sprintf(st.layout.in, l), fmt.Sprintf(st.layout.out, l)
}

// OpenHF opens a Hugging Face directory (safetensors, sharded or not) of a gated MLP model or of one of
// the architectures in hfLayouts.
func OpenHF(dir string) (Source, error) {
	ck, err := hf.Open(dir)
	if err != nil {
		return nil, err
	}
	s, err := openHF(ck)
	if err != nil {
		ck.Close()
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	return s, nil
}

// findLayout returns the first of layouts whose layer-0 in-tensor exists under one of its prefixes,
// with the prefix.
func findLayout(ck *hf.Checkpoint, layouts []hfLayout) (hfLayout, string, bool) {
	for _, lay := range layouts {
		for _, p := range lay.prefixes {
			if ck.Has(p+fmt.Sprintf(lay.in, 0)) && (lay.gate == "" || ck.Has(p+fmt.Sprintf(lay.gate, 0))) {
				return lay, p, true
			}
		}
	}
	return hfLayout{}, "", false
}

func openHF(ck *hf.Checkpoint) (*hfSource, error) {
	cfg := &ck.Config
	s := &hfSource{ck: ck, format: "hf", dims: Dims{Arch: cfg.ModelType}}
	layouts, other := hfLayouts[cfg.ModelType]
	if !other {
		layouts = []hfLayout{gatedLayout}
	}
	layout, prefix, found := findLayout(ck, layouts)
	if !found {
		if !other {
			return nil, fmt.Errorf("no gated MLP tensors (%s not found)", fmt.Sprintf(gatedLayout.gate, 0))
		}
		return nil, fmt.Errorf("no %s MLP tensors (%s not found)", cfg.ModelType, layouts[0].prefixes[0]+fmt.Sprintf(layouts[0].in, 0))
	}
	for lay := &layout; lay != nil; lay = lay.decoder {
		st := hfStack{layout: *lay, norm: lay.norm}
		st.layout.decoder = nil
		for _, f := range []*string{&st.layout.gate, &st.layout.in, &st.layout.out} {
			if *f != "" {
				*f = prefix + *f
			}
		}
		if !other {
			st.norm = lookupNorm(hfNorms, cfg.ModelType)
		} else if st.norm.name != "" {
			st.norm.name = prefix + st.norm.name
		}
		if cfg.ModelType == "opt" && cfg.DoLayerNormBefore != nil && !*cfg.DoLayerNormBefore {
			st.norm = archNorm{norm: UnknownNorm} // OPT-350m normalises after the MLP
		}
		// Without num_hidden_layers (GPT-2's n_layer, T5's num_layers and num_decoder_layers) the
		// layers are those whose out-tensor exists.
		if st.n = cfg.NumHiddenLayers; st.n <= 0 || layout.decoder != nil {
			for st.n = 0; ck.Has(fmt.Sprintf(st.layout.out, st.n)); st.n++ {
			}
		}
		s.stacks = append(s.stacks, st)
		s.dims.NLayers += st.n
	}
	s.dims.Norm = s.stacks[0].norm.norm
	s.dims.Vanilla = s.stacks[0].layout.gate == ""
	if len(s.stacks) == 2 {
		s.dims.Decoder = s.stacks[0].n
	}
	shape := func(name string) ([]int64, error) {
		info, err := ck.Info(name)
		return info.Shape, err
	}
	for l := range s.dims.NLayers {
		st, i := s.layer(l)
		gate, in, out := st.names(i)
		if err := s.dims.checkLayer(l, [3]string{gate, in, out}, [3]bool{false, st.layout.inDM, st.layout.outDM}, st.norm, i, shape); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkLayer checks that layer l's matrices named (gate "" for a vanilla MLP, in, out) exist and are
// stored [d_mlp, d_model], or [d_model, d_mlp] where dm says so, and that its norm weight (if any) has
// d_model values. The first matrix checked sets the sizes.
func (dims *Dims) checkLayer(l int, names [3]string, dm [3]bool, norm archNorm, local int, shape func(string) ([]int64, error)) error {
	for i, name := range names {
		if name == "" {
			continue
		}
		sh, err := shape(name)
		if err != nil {
			return fmt.Errorf("layer %d: no tensor %s", l, name)
		}
		if len(sh) != 2 || sh[0] <= 0 || sh[1] <= 0 {
			return fmt.Errorf("layer %d: %s has shape %v, want a matrix", l, name, sh)
		}
		if dims.DMLP == 0 {
			dims.DMLP, dims.DModel = int(sh[0]), int(sh[1])
			if dm[i] {
				dims.DMLP, dims.DModel = int(sh[1]), int(sh[0])
			}
		}
		want := []int64{int64(dims.DMLP), int64(dims.DModel)}
		if dm[i] {
			want[0], want[1] = want[1], want[0]
		}
		if !slices.Equal(sh, want) {
			return fmt.Errorf("layer %d: %s has shape %v, want %v", l, name, sh, want)
		}
	}
	return norm.checkShape(l, local, dims.DModel, shape)
}

func (s *hfSource) Path() string   { return s.ck.Dir }
func (s *hfSource) Format() string { return s.format }
func (s *hfSource) Dims() Dims     { return s.dims }
func (s *hfSource) Close() error   { return s.ck.Close() }

func (s *hfSource) Layer(l int) (*LayerWeights, error) {
	st, i := s.layer(l)
	gn, in, out := st.names(i)
	d, ff := s.dims.DModel, s.dims.DMLP
	w := &LayerWeights{DMLP: ff, DModel: d, Norm: st.norm.norm}
	var err error
	if gn != "" {
		if w.Gate, _, err = s.ck.Float32(gn); err != nil {
			return nil, err
		}
	}
	if w.In, _, err = s.ck.Float32(in); err != nil {
		return nil, err
	}
	if w.Out, _, err = s.ck.Float32(out); err != nil {
		return nil, err
	}
	if st.layout.inDM {
		w.In = transpose(w.In, d, ff)
	}
	if st.layout.outDM {
		w.Out = transpose(w.Out, d, ff)
	}
	if w.NormWeight, err = st.norm.normWeight(s.ck.Dir, l, i, d, s.ck.Float32); err != nil {
		return nil, err
	}
	return w, nil
}

type ggufSource struct {
	g       *bindings.GGUF
	dims    Dims
	norm    archNorm
	vanilla bool // no ffn_gate
}

// GGUFMLPNames are the GGUF names of layer l's gate, up and down weights.
func GGUFMLPNames(l int) (gate, up, down string) {
	p := fmt.Sprintf("blk.%d.", l)
	return p + "ffn_gate.weight", p + "ffn_up.weight", p + "ffn_down.weight"
}

// OpenGGUF opens a GGUF file of any ggml tensor type; tensors are dequantised to float32 per layer.
func OpenGGUF(path string) (Source, error) {
	if err := checkMagic(path); err != nil {
		return nil, err
	}
	g, err := bindings.OpenGGUF(path)
	if err != nil {
		return nil, err
	}
	s := &ggufSource{g: g}
	nl := 0
	if d, err := g.Dims(); err == nil {
		nl = d.NLayer
		s.dims.Arch = d.Arch
	} else {
		s.dims.Arch, _ = g.String("general.architecture")
		for g.Has(fmt.Sprintf("blk.%d.ffn_down.weight", nl)) {
			nl++
		}
	}
	// A gated architecture must have its gate; any other without one is read as vanilla.
	gate, up, _ := GGUFMLPNames(0)
	_, gated := ggufNorms[s.dims.Arch]
	s.vanilla = !gated && !g.Has(gate) && g.Has(up)
	if nl == 0 || !g.Has(gate) && !s.vanilla {
		g.Close()
		return nil, fmt.Errorf("%s: no gated MLP tensors (%s not found)", path, gate)
	}
	s.dims.NLayers = nl
	if s.vanilla {
		s.norm = lookupNorm(ggufVanillaNorms, s.dims.Arch)
	} else {
		s.norm = lookupNorm(ggufNorms, s.dims.Arch)
	}
	s.dims.Norm, s.dims.Vanilla = s.norm.norm, s.vanilla
	shape := func(name string) ([]int64, error) {
		info, err := g.Info(name)
		return info.Shape, err
	}
	for l := range nl {
		gn, un, dn := s.names(l)
		// ffn_down has ne [n_ff, d_model]: HF's [d_model, n_ff] row-major.
		if err := s.dims.checkLayer(l, [3]string{gn, un, dn}, [3]bool{false, false, true}, s.norm, l, shape); err != nil {
			g.Close()
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	return s, nil
}

// checkMagic gives a clear error for a file that is neither a GGUF nor a directory, before ggml's
// parser (which logs its own complaints) sees it.
func checkMagic(path string) error {
	m, err := magic(path)
	if os.IsNotExist(err) {
		return err
	}
	if m != "GGUF" {
		if filepath.Ext(path) == ".safetensors" {
			return fmt.Errorf("%s: give the model's directory, not a safetensors file", path)
		}
		return fmt.Errorf("%s: not a GGUF file, torch.save state dict or Hugging Face model directory", path)
	}
	return nil
}

// magic is the file's first four bytes.
func magic(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var m [4]byte
	_, err = io.ReadFull(f, m[:])
	return string(m[:]), err
}

func (s *ggufSource) Path() string   { return s.g.Path() }
func (s *ggufSource) Format() string { return "gguf" }
func (s *ggufSource) Dims() Dims     { return s.dims }
func (s *ggufSource) Close() error   { return s.g.Close() }

// names are layer l's tensor names, gate "" for a vanilla MLP.
func (s *ggufSource) names(l int) (gate, up, down string) {
	gate, up, down = GGUFMLPNames(l)
	if s.vanilla {
		gate = ""
	}
	return gate, up, down
}

func (s *ggufSource) Layer(l int) (*LayerWeights, error) {
	gn, un, dn := s.names(l)
	var gate []float32
	var err error
	if gn != "" {
		if gate, _, err = s.g.Float32(gn); err != nil {
			return nil, err
		}
	}
	up, _, err := s.g.Float32(un)
	if err != nil {
		return nil, err
	}
	down, _, err := s.g.Float32(dn)
	if err != nil {
		return nil, err
	}
	nw, err := s.norm.normWeight(s.g.Path(), l, l, s.dims.DModel, s.g.Float32)
	if err != nil {
		return nil, err
	}
	// ffn_down has ne [n_ff, d_model], i.e. HF's [d_model, n_ff] row-major: transpose to neuron-major.
	return &LayerWeights{DMLP: s.dims.DMLP, DModel: s.dims.DModel, Gate: gate, In: up,
		Out: transpose(down, s.dims.DModel, s.dims.DMLP), Norm: s.norm.norm, NormWeight: nw}, nil
}

// MemSource serves weights already in memory (tests, benchmarks, other experiments).
type MemSource struct {
	Name   string
	D      Dims
	Layers func(l int) (*LayerWeights, error)
}

func (m *MemSource) Path() string                       { return m.Name }
func (m *MemSource) Format() string                     { return "memory" }
func (m *MemSource) Dims() Dims                         { return m.D }
func (m *MemSource) Close() error                       { return nil }
func (m *MemSource) Layer(l int) (*LayerWeights, error) { return m.Layers(l) }
