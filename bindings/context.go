package bindings

// #include "bindings.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/wcos-dev/wcos/hooks"
)

// ContextOptions configures an inference context.
type ContextOptions struct {
	// MaxTokens bounds the tokens of one Decode (all rows together); it sizes the KV cache and the
	// hook buffers.
	MaxTokens int
	// MaxRows bounds the number of rows (sequences) of one Decode.
	MaxRows int
	// UBatch is the physical batch size (0: MaxTokens, i.e. one ubatch per decode).
	UBatch  int
	Threads int
	// Exact disables flash attention and keeps the KV cache in F32: the setting that matches Hugging
	// Face within 1e-3 (engine.md §11). Off, llama.cpp's faster defaults are used.
	Exact bool
	// PerRow decodes the rows of a Decode one after the other: on the CPU attention over one KV stream
	// shared by all rows costs 10-35 % more at 4×1024 tokens (docs/benchmarks.md). Logits then hold the
	// last row. With MaxRowLength the KV cache and compute buffers are sized for one row of that many
	// tokens instead of MaxTokens.
	PerRow       bool
	MaxRowLength int
	// Metrics: every Decode computes the per-token metrics (read with Metrics), on the device where
	// the logits are in GPU memory.
	Metrics bool
}

// Context is a llama.cpp context with wcos's native hooks attached to its eval callback.
type Context struct {
	model  *Model
	ctx    *C.struct_llama_context
	hooks  *C.wcos_hooks
	batch  C.struct_llama_batch
	opt    ContextOptions
	nTok   int // tokens of the last decode
	rows   [][]int32
	stats  *Stats
	rowIDs []int64
	// metrics: Metrics has been called, so later decodes hand the targets to the hooks, which compute
	// the metrics where the logits are when that is device memory (wcos_dev.h).
	metrics bool
	met     TokenMetrics // a PerRow decode's metrics, computed part by part on the host
	metN    int          // tokens of met done
	// residual: the hooks capture the residual stream after every layer (hooks.Spec.Residual).
	residual bool
	// capturing: the hooks capture activations, scales or the residual stream (not during Generate).
	capturing bool
}

// NewContext creates a context for decoding up to opt.MaxRows sequences of opt.MaxTokens tokens in all.
func (m *Model) NewContext(opt ContextOptions) (*Context, error) {
	if opt.MaxTokens <= 0 {
		return nil, errors.New("context: MaxTokens must be positive")
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = 1
	}
	if !opt.PerRow || opt.MaxRowLength <= 0 || opt.MaxRowLength > opt.MaxTokens {
		opt.MaxRowLength = opt.MaxTokens
	}
	kv := opt.MaxTokens // tokens of one llama_decode
	if opt.PerRow {
		kv = opt.MaxRowLength
	}
	if opt.UBatch <= 0 || opt.UBatch > kv {
		opt.UBatch = kv
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.NumCPU()
	}
	p := C.llama_context_default_params()
	p.n_ctx = C.uint32_t(kv)
	p.n_batch = C.uint32_t(kv)
	p.n_ubatch = C.uint32_t(opt.UBatch)
	p.n_seq_max = C.uint32_t(opt.MaxRows)
	if opt.PerRow {
		p.n_seq_max = 1
	}
	p.n_threads = C.int32_t(opt.Threads)
	p.n_threads_batch = C.int32_t(opt.Threads)
	// One KV stream keeps ubatches in batch order, so the hooks can map rows by a running offset
	// (engine.md §11: the non-unified cache hands rows out of order).
	p.kv_unified = true
	p.no_perf = true
	if opt.Exact {
		// On CUDA, cuBLAS runs F32 products in TF32 unless the driver forbids it: measured on an H200,
		// tiny-olmo's logits were 4.1e-3 from Hugging Face with TF32 and 1.7e-5 without. cuBLAS reads
		// the variable when its handle is created, i.e. at the first product after this.
		os.Setenv("NVIDIA_TF32_OVERRIDE", "0")
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
		p.type_k = C.GGML_TYPE_F32
		p.type_v = C.GGML_TYPE_F32
	}
	rms := C.int(0)
	if m.RMSNorm() {
		rms = 1
	}
	h := C.wcos_hooks_new(C.int(m.NLayer()), C.int(m.NFF()), C.int(m.NEmbd()), C.int(opt.MaxTokens), C.float(m.NormEps()), rms)
	if h == nil {
		return nil, errors.New("context: out of memory for hooks")
	}
	C.wcos_hooks_set_vanilla(h, C.bool(!m.Gated()))
	p.cb_eval = C.ggml_backend_sched_eval_callback(C.wcos_hooks_eval)
	p.cb_eval_user_data = unsafe.Pointer(h)
	ctx := C.llama_init_from_model(m.m, p)
	if ctx == nil {
		C.wcos_hooks_free(h)
		return nil, fmt.Errorf("%s: could not create a context for %d tokens (run with WCOS_VERBOSE=1 for llama.cpp's log)", m.Path, opt.MaxTokens)
	}
	c := &Context{model: m, ctx: ctx, hooks: h, opt: opt}
	c.batch = C.llama_batch_init(C.int32_t(kv), 0, 1)
	return c, nil
}

// Close frees the context, its batch and hook buffers.
func (c *Context) Close() {
	if c.ctx == nil {
		return
	}
	C.llama_batch_free(c.batch)
	C.llama_free(c.ctx)
	C.wcos_hooks_free(c.hooks)
	c.ctx, c.hooks = nil, nil
}

// Model returns the context's model.
func (c *Context) Model() *Model { return c.model }

func (c *Context) hookErr(what string) error {
	if msg := C.wcos_hooks_error(c.hooks); msg != nil {
		return fmt.Errorf("%s: %s", what, C.GoString(msg))
	}
	return fmt.Errorf("%s failed", what)
}

// SetHooks replaces what the hooks capture and ablate for the following decodes.
func (c *Context) SetHooks(spec hooks.Spec) error {
	m := c.model
	nl, nff := m.NLayer(), m.NFF()
	if err := spec.Validate(nl, nff); err != nil {
		return err
	}
	// Reset every layer, then apply the spec.
	for l := 0; l < nl; l++ {
		C.wcos_hooks_ablate(c.hooks, C.int(l), nil, nil, nil, 0)
		idx, ok := spec.Capture[l]
		var rc C.int
		switch {
		case !ok:
			rc = C.wcos_hooks_capture(c.hooks, C.int(l), nil, 0)
		case idx == nil:
			rc = C.wcos_hooks_capture(c.hooks, C.int(l), nil, -1)
		default:
			ci := cInt32s(idx)
			rc = C.wcos_hooks_capture(c.hooks, C.int(l), ci, C.int(len(idx)))
			C.free(unsafe.Pointer(ci))
		}
		if rc != 0 {
			return c.hookErr("capture")
		}
	}
	gate, post := 0, 0
	if a := spec.Ablation; a != nil {
		gate, post = int(a.Gate), int(a.Post)
		byLayer := map[int][]int{}
		for i, n := range a.Neurons {
			byLayer[n.Layer] = append(byLayer[n.Layer], i)
		}
		for l, is := range byLayer {
			idx := make([]int, len(is))
			vals := make([]float32, len(is))
			signs := make([]int8, len(is))
			for k, i := range is {
				idx[k] = a.Neurons[i].Index
				signs[k] = 1
				if a.Values != nil {
					vals[k] = a.Values[i]
				}
				if a.Signs != nil {
					signs[k] = a.Signs[i]
				}
			}
			ci, cv, cs := cInt32s(idx), cFloats(vals), cInt8s(signs)
			rc := C.wcos_hooks_ablate(c.hooks, C.int(l), ci, cv, cs, C.int(len(idx)))
			C.free(unsafe.Pointer(ci))
			C.free(unsafe.Pointer(cv))
			C.free(unsafe.Pointer(cs))
			if rc != 0 {
				return c.hookErr("ablation")
			}
		}
	}
	C.wcos_hooks_condition(c.hooks, C.int(gate), C.int(post))
	C.wcos_hooks_scale(c.hooks, C.bool(spec.Scale))
	if C.wcos_hooks_residual(c.hooks, C.bool(spec.Residual)) != 0 {
		return c.hookErr("residual capture")
	}
	c.residual = spec.Residual
	c.capturing = len(spec.Capture) > 0 || spec.Scale || spec.Residual
	return nil
}

// Decode runs one forward pass over rows (each an independent sequence starting at position 0),
// requesting logits at every token. Earlier context state is cleared first. With PerRow the rows are
// decoded one after the other; the hooks and Metrics see them in order, as one decode.
func (c *Context) Decode(rows [][]int32) error {
	total := 0
	nv := int32(c.model.VocabSize())
	for s, r := range rows {
		if len(r) == 0 {
			return errors.New("decode: empty row")
		}
		for i, t := range r {
			if t < 0 || t >= nv {
				return fmt.Errorf("decode: row %d position %d: token id %d outside the vocabulary [0,%d)", s, i, t, nv)
			}
		}
		if c.opt.PerRow && len(r) > c.opt.MaxRowLength {
			return fmt.Errorf("decode: row %d has %d tokens, more than the context's MaxRowLength %d", s, len(r), c.opt.MaxRowLength)
		}
		total += len(r)
	}
	if len(rows) > c.opt.MaxRows || total > c.opt.MaxTokens {
		return fmt.Errorf("decode: %d rows of %d tokens exceed the context (%d rows, %d tokens)", len(rows), total, c.opt.MaxRows, c.opt.MaxTokens)
	}
	if C.wcos_hooks_begin(c.hooks, C.int(total)) != 0 {
		return c.hookErr("decode")
	}
	tg := targets(rows, total)
	want := c.metrics || c.opt.Metrics
	if want && C.wcos_hooks_targets(c.hooks, (*C.int32_t)(unsafe.Pointer(&tg[0])), C.int(total)) != 0 {
		return c.hookErr("decode")
	}
	if c.stats != nil {
		if err := c.setPositions(rows, total); err != nil {
			return err
		}
	}
	c.nTok, c.rows, c.metN = 0, nil, 0
	groups := [][][]int32{rows}
	if c.opt.PerRow {
		groups = make([][][]int32, len(rows))
		for i := range rows {
			groups[i] = rows[i : i+1]
		}
	}
	if want {
		c.met = TokenMetrics{Entropy: make([]float64, total), Loss: make([]float64, total), Rank: make([]int32, total)}
	}
	off := 0
	for _, g := range groups {
		n := c.fillBatch(g)
		C.llama_memory_clear(C.llama_get_memory(c.ctx), true)
		if rc := C.llama_decode(c.ctx, c.batch); rc != 0 {
			if msg := C.wcos_hooks_error(c.hooks); msg != nil {
				return fmt.Errorf("decode: hook: %s", C.GoString(msg))
			}
			return fmt.Errorf("decode: llama_decode returned %d", int(rc))
		}
		// Metrics are wanted and were not computed on the device: take them from this part's logits
		// before the next part replaces them.
		var de, dl *C.double
		var dr *C.int32_t
		if want && len(groups) > 1 && int(C.wcos_hooks_metrics(c.hooks, &de, &dl, &dr)) < off+n {
			c.hostMetrics(tg[off:off+n], off, &c.met)
			c.metN = off + n
		}
		off += n
	}
	if err := c.checkHooked("decode", total); err != nil {
		return err
	}
	for l := 0; l < c.model.NLayer(); l++ {
		if seen := int(C.wcos_hooks_residual_rows(c.hooks, C.int(l))); c.residual && seen != total {
			return fmt.Errorf("decode: the residual stream after layer %d has %d of %d tokens", l, seen, total)
		}
	}
	c.nTok = total
	c.rows = rows
	return nil
}

// fillBatch puts rows into the batch (sequence s for rows[s]) and returns their tokens.
func (c *Context) fillBatch(rows [][]int32) int {
	total := 0
	for _, r := range rows {
		total += len(r)
	}
	b := &c.batch
	tok := unsafe.Slice(b.token, total)
	pos := unsafe.Slice(b.pos, total)
	nseq := unsafe.Slice(b.n_seq_id, total)
	seq := unsafe.Slice(b.seq_id, total)
	out := unsafe.Slice(b.logits, total)
	k := 0
	for s, r := range rows {
		for i, t := range r {
			tok[k] = C.llama_token(t)
			pos[k] = C.llama_pos(i)
			nseq[k] = 1
			*seq[k] = C.llama_seq_id(s)
			out[k] = 1 // every token: the metrics need them, and the last layer only sees output rows
			k++
		}
	}
	b.n_tokens = C.int32_t(total)
	return total
}

// Logits copies the logits of token i (in decode order) of the last decode; with PerRow only the last
// row's are kept (nil for the others).
func (c *Context) Logits(i int) []float32 {
	lo := 0 // the first token of the last llama_decode
	if c.opt.PerRow && len(c.rows) > 0 {
		lo = c.nTok - len(c.rows[len(c.rows)-1])
	}
	if i < lo || i >= c.nTok {
		return nil
	}
	p := C.llama_get_logits_ith(c.ctx, C.int32_t(i-lo))
	if p == nil {
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.model.VocabSize())...)
}

// Kind selects a captured activation.
type Kind int

const (
	Gate Kind = C.WCOS_GATE // hook_pre (ffn_gate; a non-gated MLP's pre-activation)
	Up   Kind = C.WCOS_UP   // hook_pre_linear (ffn_up; a non-gated MLP's pre-activation again)
	Post Kind = C.WCOS_POST // hook_post (ffn_swiglu, ffn_gelu, …), before ablation at its own layer
)

// Captured copies the captured activations of layer from the last decode: [tokens, neurons] row-major.
func (c *Context) Captured(layer int, kind Kind, neurons int) []float32 {
	p := C.wcos_hooks_captured(c.hooks, C.int(layer), C.int(kind))
	if p == nil || c.nTok == 0 {
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nTok*neurons)...)
}

// checkHooked requires every hooked layer's MLP node to have seen tokens — a graph without the node (an
// architecture whose MLP llama.cpp builds otherwise) would leave a set unablated — and, unless total
// < 0, all total tokens of the decode. (Generation asks for few logits, and llama.cpp runs the last
// layer on those rows only.)
func (c *Context) checkHooked(op string, total int) error {
	for l := 0; l < c.model.NLayer(); l++ {
		seen := int(C.wcos_hooks_rows_seen(c.hooks, C.int(l)))
		switch {
		case seen == 0 && C.wcos_hooks_layer_active(c.hooks, C.int(l)) != 0:
			return fmt.Errorf("%s: layer %d: llama.cpp's graph of architecture %q has no MLP activation node (ffn_swiglu-%d, ffn_geglu-%d, ffn_gelu-%d, …) to hook", op, l, c.model.Arch(), l, l, l)
		case total >= 0 && seen != 0 && seen != total:
			return fmt.Errorf("%s: layer %d hooks saw %d of %d tokens", op, l, seen, total)
		}
	}
	return nil
}

// Scales copies the final norm's scale (LayerNorm or RMSNorm, see wcos_k_scale) per token of the last decode (Spec.Scale must be set).
func (c *Context) Scales() []float32 {
	p := C.wcos_hooks_scales(c.hooks)
	if p == nil || c.nTok == 0 {
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nTok)...)
}

// Residual copies the residual stream after layer (TransformerLens blocks.L.hook_resid_post, node
// l_out-L) at every token of the last decode: [tokens, NEmbd] row-major, in decode order, after any
// ablation in that layer. Nil unless the hooks were set with Spec.Residual.
func (c *Context) Residual(layer int) []float32 {
	if !c.residual || c.nTok == 0 || layer < 0 || layer >= c.model.NLayer() {
		return nil
	}
	p := C.wcos_hooks_residuals(c.hooks, C.int(layer))
	if p == nil || int(C.wcos_hooks_residual_rows(c.hooks, C.int(layer))) != c.nTok {
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nTok*c.model.NEmbd())...)
}

// TokenMetrics are per-token metrics of one decode, in decode order.
type TokenMetrics struct {
	Entropy []float64
	Loss    []float64 // 0 at each row's last token (no next token)
	Rank    []int32
}

// Metrics returns entropy, loss and rank of every token of the last decode, computed in C in float64:
// on the device where the logits are in GPU memory and the hooks were given the targets (from the
// decode after the first call of Metrics, or every decode with ContextOptions.Metrics), else from
// llama.cpp's logits with the context's threads. With PerRow but without the Metrics option only the
// last row's logits are left: earlier rows' metrics are NaN (rank -1).
func (c *Context) Metrics() TokenMetrics {
	c.metrics = true
	n := c.nTok
	var de, dl *C.double
	var dr *C.int32_t
	if n > 0 && int(C.wcos_hooks_metrics(c.hooks, &de, &dl, &dr)) == n { // computed on the device
		return cloneMetrics(unsafe.Slice((*float64)(unsafe.Pointer(de)), n), unsafe.Slice((*float64)(unsafe.Pointer(dl)), n),
			unsafe.Slice((*int32)(unsafe.Pointer(dr)), n))
	}
	if n > 0 && c.metN == n { // computed part by part during a PerRow decode
		return cloneMetrics(c.met.Entropy, c.met.Loss, c.met.Rank)
	}
	m := TokenMetrics{Entropy: make([]float64, n), Loss: make([]float64, n), Rank: make([]int32, n)}
	last := n // the tokens of the last llama_decode
	if c.opt.PerRow && len(c.rows) > 0 {
		last = len(c.rows[len(c.rows)-1])
	}
	for i := 0; i < n-last; i++ {
		m.Entropy[i], m.Loss[i], m.Rank[i] = math.NaN(), math.NaN(), -1
	}
	if n > 0 {
		c.hostMetrics(targets(c.rows, n)[n-last:], n-last, &m)
	}
	return m
}

func cloneMetrics(ent, loss []float64, rank []int32) TokenMetrics {
	return TokenMetrics{Entropy: slices.Clone(ent), Loss: slices.Clone(loss), Rank: slices.Clone(rank)}
}

// hostMetrics computes the metrics of the last llama_decode's len(tg) tokens from llama.cpp's logits
// into dst at offset off, splitting the tokens over the context's threads.
func (c *Context) hostMetrics(tg []int32, off int, dst *TokenMetrics) {
	n, nv := len(tg), c.model.VocabSize()
	logits := unsafe.Pointer(C.llama_get_logits(c.ctx))
	workers := min(c.opt.Threads, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			C.wcos_token_metrics((*C.float)(unsafe.Add(logits, 4*lo*nv)), C.int64_t(nv), C.int64_t(hi-lo),
				(*C.int32_t)(unsafe.Pointer(&tg[lo])), (*C.double)(unsafe.Pointer(&dst.Entropy[off+lo])),
				(*C.double)(unsafe.Pointer(&dst.Loss[off+lo])), (*C.int32_t)(unsafe.Pointer(&dst.Rank[off+lo])))
		}()
	}
	wg.Wait()
}

// targets are the next-token targets of rows in decode order (-1 at each row's last token).
func targets(rows [][]int32, total int) []int32 {
	t := make([]int32, 0, max(total, 1))
	for _, r := range rows {
		for i := range r {
			if i+1 < len(r) {
				t = append(t, r[i+1])
			} else {
				t = append(t, -1)
			}
		}
	}
	return t
}

// tuneDevice (tests): mode 1 emulates the device path on host tensors, -1 keeps device tensors on the
// host path, 0 leaves it; candCap and rowsPerThread (0: unchanged) size its top-k candidates.
func (c *Context) tuneDevice(mode int, candCap int64, rowsPerThread int) {
	C.wcos_hooks_tune_device(c.hooks, C.int(mode), C.int64_t(candCap), C.int(rowsPerThread))
}

// DeviceHooks names the device implementation the hooks used ("" for the host path).
func (c *Context) DeviceHooks() string {
	if p := C.wcos_hooks_device(c.hooks); p != nil {
		return C.GoString(p)
	}
	return ""
}

func cInt32s(v []int) *C.int32_t {
	p := (*C.int32_t)(C.malloc(C.size_t(4 * max(len(v), 1))))
	s := unsafe.Slice(p, max(len(v), 1))
	for i, x := range v {
		s[i] = C.int32_t(x)
	}
	return p
}

func cFloats(v []float32) *C.float {
	p := (*C.float)(C.malloc(C.size_t(4 * max(len(v), 1))))
	copy(unsafe.Slice((*float32)(unsafe.Pointer(p)), max(len(v), 1)), v)
	return p
}

func cInt8s(v []int8) *C.int8_t {
	p := (*C.int8_t)(C.malloc(C.size_t(max(len(v), 1))))
	copy(unsafe.Slice((*int8)(unsafe.Pointer(p)), max(len(v), 1)), v)
	return p
}

// TokenMetricsOf computes the per-token metrics of logits [rows, nVocab] with next-token targets
// (negative: none) using the same native code as Context.Metrics, on one thread.
func TokenMetricsOf(logits []float32, nVocab int, targets []int32) TokenMetrics {
	n := len(targets)
	out := TokenMetrics{Entropy: make([]float64, n), Loss: make([]float64, n), Rank: make([]int32, n)}
	if n == 0 || len(logits) < n*nVocab {
		return out
	}
	var pin pinner
	defer pin.unpin()
	C.wcos_token_metrics((*C.float)(pin.ptr(&logits[0])), C.int64_t(nVocab), C.int64_t(n), (*C.int32_t)(pin.ptr(&targets[0])),
		(*C.double)(pin.ptr(&out.Entropy[0])), (*C.double)(pin.ptr(&out.Loss[0])), (*C.int32_t)(pin.ptr(&out.Rank[0])))
	return out
}
