package bindings

// #include "bindings.h"
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Stats accumulates quadrant statistics of every MLP neuron inside the hooks (native/stats.c): per
// (layer, quadrant gate±/in±, neuron) the token count, exact fixed-point sums of post, gate, in and
// swish, and the top-K tokens by |post|.
type Stats struct {
	s              *C.wcos_stats
	NLayer, NFF, K int
}

// Quadrant and variable orders of StatsData and Means.
var (
	Quadrants = []string{"gate+_in+", "gate+_in-", "gate-_in+", "gate-_in-"}
	Variables = []string{"post", "gate", "in", "swish"}
)

// StatsData is the exact state of a Stats as plain arrays (for checkpoints and merging):
// Count [layer, 4, n_ff]; SumHi/SumLo [layer, 4, 4, n_ff] (the int128 fixed-point sums, value·2^40);
// TopVal/TopRow/TopPos [layer, 4, n_ff, K]; TopN [layer, 4, n_ff].
type StatsData struct {
	Count  []int64
	SumHi  []int64
	SumLo  []uint64
	TopVal []float32
	TopRow []int64
	TopPos []int32
	TopN   []int32
}

// NewStats allocates empty statistics.
func NewStats(nLayer, nFF, k int) (*Stats, error) {
	s := C.wcos_stats_new(C.int(nLayer), C.int(nFF), C.int(k))
	if s == nil {
		return nil, errors.New("stats: out of memory")
	}
	return &Stats{s: s, NLayer: nLayer, NFF: nFF, K: k}, nil
}

// Close frees the statistics.
func (s *Stats) Close() {
	if s.s != nil {
		C.wcos_stats_free(s.s)
		s.s = nil
	}
}

// SetSigns sets the refactor signs s_n of a layer (the in-sign of a token is that of s_n·up).
func (s *Stats) SetSigns(layer int, signs []int8) error {
	if layer < 0 || layer >= s.NLayer || len(signs) != s.NFF {
		return fmt.Errorf("stats: bad signs for layer %d (%d values)", layer, len(signs))
	}
	p := cInt8s(signs)
	defer C.free(unsafe.Pointer(p))
	C.wcos_stats_set_signs(s.s, C.int(layer), p)
	return nil
}

func (s *Stats) n(what C.int) int { return int(C.wcos_stats_len(s.s, what)) }

// Export copies the exact state out.
func (s *Stats) Export() StatsData {
	nq, ns, nt := s.n(C.WCOS_STAT_COUNT), s.n(C.WCOS_STAT_SUM), s.n(C.WCOS_STAT_TOP)
	d := StatsData{
		Count: make([]int64, nq), SumHi: make([]int64, ns), SumLo: make([]uint64, ns),
		TopVal: make([]float32, max(nt, 1)), TopRow: make([]int64, max(nt, 1)), TopPos: make([]int32, max(nt, 1)), TopN: make([]int32, nq),
	}
	var pin pinner
	defer pin.unpin()
	C.wcos_stats_export(s.s, (*C.int64_t)(pin.ptr(&d.Count[0])), (*C.int64_t)(pin.ptr(&d.SumHi[0])), (*C.uint64_t)(pin.ptr(&d.SumLo[0])),
		(*C.float)(pin.ptr(&d.TopVal[0])), (*C.int64_t)(pin.ptr(&d.TopRow[0])), (*C.int32_t)(pin.ptr(&d.TopPos[0])), (*C.int32_t)(pin.ptr(&d.TopN[0])))
	d.TopVal, d.TopRow, d.TopPos = d.TopVal[:nt], d.TopRow[:nt], d.TopPos[:nt]
	return d
}

// Import replaces the state with d (from Export of statistics of the same shape).
func (s *Stats) Import(d StatsData) error {
	nq, ns, nt := s.n(C.WCOS_STAT_COUNT), s.n(C.WCOS_STAT_SUM), s.n(C.WCOS_STAT_TOP)
	if len(d.Count) != nq || len(d.SumHi) != ns || len(d.SumLo) != ns || len(d.TopVal) != nt || len(d.TopRow) != nt || len(d.TopPos) != nt || len(d.TopN) != nq {
		return fmt.Errorf("stats: state of another shape (want %d layers × %d neurons, k %d)", s.NLayer, s.NFF, s.K)
	}
	if nt == 0 {
		d.TopVal, d.TopRow, d.TopPos = make([]float32, 1), make([]int64, 1), make([]int32, 1)
	}
	var pin pinner
	defer pin.unpin()
	C.wcos_stats_import(s.s, (*C.int64_t)(pin.ptr(&d.Count[0])), (*C.int64_t)(pin.ptr(&d.SumHi[0])), (*C.uint64_t)(pin.ptr(&d.SumLo[0])),
		(*C.float)(pin.ptr(&d.TopVal[0])), (*C.int64_t)(pin.ptr(&d.TopRow[0])), (*C.int32_t)(pin.ptr(&d.TopPos[0])), (*C.int32_t)(pin.ptr(&d.TopN[0])))
	return nil
}

// Merge adds o into s: counts and sums add exactly, top-K lists merge.
func (s *Stats) Merge(o *Stats) error {
	if C.wcos_stats_merge(s.s, o.s) != 0 {
		return fmt.Errorf("stats: cannot merge %d×%d (k %d) into %d×%d (k %d)", o.NLayer, o.NFF, o.K, s.NLayer, s.NFF, s.K)
	}
	return nil
}

// Means returns sum/count as [layer, 4, 4, n_ff] float64 (NaN where a quadrant has no token).
func (s *Stats) Means() []float64 {
	out := make([]float64, s.n(C.WCOS_STAT_SUM))
	var pin pinner
	defer pin.unpin()
	C.wcos_stats_means(s.s, (*C.double)(pin.ptr(&out[0])))
	return out
}

// AttachStats makes the hooks accumulate s on every following decode (nil detaches).
func (c *Context) AttachStats(s *Stats) {
	if s == nil {
		C.wcos_hooks_stats(c.hooks, nil)
		c.stats = nil
		return
	}
	C.wcos_stats_set_threads(s.s, C.int(c.opt.Threads))
	C.wcos_hooks_stats(c.hooks, s.s)
	c.stats = s
}

// SetRowIDs gives the data-set row index of each row of the next Decode (for the top-K examples).
func (c *Context) SetRowIDs(ids []int64) { c.rowIDs = ids }

// setPositions hands the hooks each token's (row, position) before a decode with statistics.
func (c *Context) setPositions(rows [][]int32, total int) error {
	ids := make([]int64, total)
	pos := make([]int32, total)
	k := 0
	for s, r := range rows {
		id := int64(s)
		if len(c.rowIDs) == len(rows) {
			id = c.rowIDs[s]
		}
		for i := range r {
			ids[k], pos[k] = id, int32(i)
			k++
		}
	}
	var pin pinner
	defer pin.unpin()
	if C.wcos_hooks_positions(c.hooks, (*C.int64_t)(pin.ptr(&ids[0])), (*C.int32_t)(pin.ptr(&pos[0])), C.int(total)) != 0 {
		return c.hookErr("positions")
	}
	return nil
}
