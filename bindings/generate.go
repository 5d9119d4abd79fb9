package bindings

// #include "bindings.h"
import "C"

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"unsafe"
)

// Sampling makes Generate draw each next token from softmax(logits / Temperature) (wcos_sample, in C)
// instead of taking the argmax. Row i of a call draws from its own PCG stream seeded by (Seed, i)
// (i counted from GenerateOptions.FirstRow), so
// a row's tokens do not depend on the other rows, and runs that differ only in their hooks draw the
// same numbers (their texts differ by the ablation, not by chance).
type Sampling struct {
	Temperature float64
	Seed        uint64
}

// GenerateOptions are the settings of a Generate call.
type GenerateOptions struct {
	MaxNew   int       // tokens generated per row at most
	Stop     []int32   // a row ends after one of these, which is returned with the others
	Sampling *Sampling // nil: greedy
	// Progress, if set, is called after every step with the number of tokens it generated.
	Progress func(tokens int)
	// FirstRow is the index of rows[0] among all the rows of a run split over several calls: row i
	// samples from the stream (Seed, FirstRow+i).
	FirstRow int
}

// Generate continues every row greedily, the most probable next token (the first on ties) at each
// step, or by sampling (opt.Sampling), for up to opt.MaxNew tokens.
// Rows are independent sequences starting at position 0. The prompts are decoded once and each step
// decodes one token per unfinished row against the KV cache. The hooks' ablation applies to every
// token; captures, statistics and metrics are refused, as they assume whole rows. Earlier context
// state is cleared; Logits and Metrics have nothing to read afterwards.
func (c *Context) Generate(rows [][]int32, opt GenerateOptions) ([][]int32, error) {
	maxNew, s := opt.MaxNew, opt.Sampling
	if c.capturing || c.stats != nil || c.metrics || c.opt.Metrics {
		return nil, errors.New("generate: the context captures, collects statistics or computes metrics; only ablation hooks apply")
	}
	if maxNew < 0 {
		return nil, fmt.Errorf("generate: %d new tokens", maxNew)
	}
	if s != nil && !(s.Temperature > 0) {
		return nil, fmt.Errorf("generate: sampling temperature %g, want > 0", s.Temperature)
	}
	nv := int32(c.model.VocabSize())
	kv, maxRows := c.opt.MaxTokens, c.opt.MaxRows
	if c.opt.PerRow {
		kv, maxRows = c.opt.MaxRowLength, 1
	}
	total := 0
	for s, r := range rows {
		if len(r) == 0 {
			return nil, errors.New("generate: empty row")
		}
		for i, t := range r {
			if t < 0 || t >= nv {
				return nil, fmt.Errorf("generate: row %d position %d: token id %d outside the vocabulary [0,%d)", s, i, t, nv)
			}
		}
		if c.opt.PerRow && len(r)+maxNew > kv {
			return nil, fmt.Errorf("generate: row %d needs %d tokens, more than the context's %d", s, len(r)+maxNew, kv)
		}
		total += len(r) + maxNew
	}
	if !c.opt.PerRow && (len(rows) > maxRows || total > kv) {
		return nil, fmt.Errorf("generate: %d rows needing %d tokens exceed the context (%d rows, %d tokens)", len(rows), total, maxRows, kv)
	}
	c.nTok, c.rows, c.metN = 0, nil, 0
	out := make([][]int32, len(rows))
	if maxNew == 0 {
		return out, nil
	}
	var draw []*rand.Rand // per row
	if s != nil {
		draw = make([]*rand.Rand, len(rows))
		for i := range draw {
			draw[i] = rand.New(rand.NewPCG(s.Seed, uint64(opt.FirstRow+i)))
		}
	}
	for lo := 0; lo < len(rows); lo += maxRows {
		hi := min(lo+maxRows, len(rows))
		var d []*rand.Rand
		if s != nil {
			d = draw[lo:hi]
		}
		if err := c.generate(rows[lo:hi], out[lo:hi], opt, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// generate runs Generate for rows that fit the KV cache together (sequence s for rows[s]), drawing
// from draw[s] when sampling.
func (c *Context) generate(rows, out [][]int32, opt GenerateOptions, draw []*rand.Rand) error {
	C.llama_memory_clear(C.llama_get_memory(c.ctx), true)
	b := &c.batch
	// next[s] is the batch index whose logits choose row s's next token; -1 once the row has ended.
	next := make([]int, len(rows))
	n := 0
	for s, r := range rows {
		n += len(r)
		next[s] = n - 1
	}
	c.fillBatch(rows)
	out0 := unsafe.Slice(b.logits, n)
	for i := range out0 {
		out0[i] = 0
	}
	for s := range rows {
		out0[next[s]] = 1
	}
	for {
		if err := c.decodeBatch(int(b.n_tokens)); err != nil {
			return err
		}
		k, got := 0, 0 // rows continuing, tokens chosen
		tok := unsafe.Slice(b.token, len(rows))
		pos := unsafe.Slice(b.pos, len(rows))
		seq := unsafe.Slice(b.seq_id, len(rows))
		lg := unsafe.Slice(b.logits, len(rows))
		for s := range rows {
			if next[s] < 0 {
				continue
			}
			p := C.llama_get_logits_ith(c.ctx, C.int32_t(next[s]))
			if p == nil {
				return fmt.Errorf("generate: no logits for row %d", s)
			}
			var t int32
			if opt.Sampling != nil {
				t = int32(C.wcos_sample(p, C.int64_t(c.model.VocabSize()), C.double(opt.Sampling.Temperature), C.double(draw[s].Float64())))
			} else {
				t = int32(C.wcos_argmax(p, C.int64_t(c.model.VocabSize())))
			}
			if t < 0 {
				return fmt.Errorf("generate: row %d: the logits are all NaN", s)
			}
			out[s] = append(out[s], t)
			got++
			if slices.Contains(opt.Stop, t) || len(out[s]) == opt.MaxNew {
				next[s] = -1
				continue
			}
			tok[k] = C.llama_token(t)
			pos[k] = C.llama_pos(len(rows[s]) + len(out[s]) - 1)
			*seq[k] = C.llama_seq_id(s)
			lg[k] = 1
			next[s] = k
			k++
		}
		if opt.Progress != nil {
			opt.Progress(got)
		}
		if k == 0 {
			return nil
		}
		b.n_tokens = C.int32_t(k)
	}
}

// decodeBatch runs llama_decode on the batch as filled, n tokens.
func (c *Context) decodeBatch(n int) error {
	if C.wcos_hooks_begin(c.hooks, C.int(n)) != 0 {
		return c.hookErr("generate")
	}
	if rc := C.llama_decode(c.ctx, c.batch); rc != 0 {
		if msg := C.wcos_hooks_error(c.hooks); msg != nil {
			return fmt.Errorf("generate: hook: %s", C.GoString(msg))
		}
		return fmt.Errorf("generate: llama_decode returned %d", int(rc))
	}
	return c.checkHooked("generate", -1)
}

// SampleLogits is wcos_sample on logits: the index the uniform draw u picks from softmax(logits /
// temperature) (the argmax for temperature <= 0).
func SampleLogits(logits []float32, temperature, u float64) int {
	if len(logits) == 0 {
		return -1
	}
	var pin pinner
	defer pin.unpin()
	return int(C.wcos_sample((*C.float)(pin.ptr(&logits[0])), C.int64_t(len(logits)), C.double(temperature), C.double(u)))
}
