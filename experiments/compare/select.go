package compare

import (
	"encoding/json"
	"math"
	"slices"

	"github.com/wcos-dev/wcos/internal/quantile"
)

// Stats describe one set's diffs of one metric.
type Stats struct {
	Name      string `json:"name"`
	Tokens    int64  `json:"tokens"`    // valid positions (loss, rank: all but each row's last token)
	Changed   int64  `json:"changed"`   // finite diffs ≠ 0
	NonFinite int64  `json:"nonfinite"` // NaN or ±Inf diffs, left out of everything (compare.py drops NaN)
	N         int64  `json:"n"`         // values the statistics are over: Tokens − NonFinite, or Changed
	// The statistics; NaN where there are no values. In JSON (MarshalJSON): mean, min, quartile1,
	// median, quartile3, max, null where NaN.
	Mean   float64 `json:"-"`
	Min    float64 `json:"-"`
	Q1     float64 `json:"-"`
	Median float64 `json:"-"`
	Q3     float64 `json:"-"`
	Max    float64 `json:"-"`
}

// MarshalJSON writes the statistics under the paper's column names, null where there are no values.
func (s Stats) MarshalJSON() ([]byte, error) {
	num := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	type plain Stats
	return json.Marshal(struct {
		plain
		Mean      any `json:"mean"`
		Min       any `json:"min"`
		Quartile1 any `json:"quartile1"`
		Median    any `json:"median"`
		Quartile3 any `json:"quartile3"`
		Max       any `json:"max"`
	}{plain(s), num(s.Mean), num(s.Min), num(s.Q1), num(s.Median), num(s.Q3), num(s.Max)})
}

// stream calls fn with every value of a set, the same values in the same order on every call.
type stream func(fn func(float64)) error

// keep says which finite diffs the statistics are over.
func keep(changedOnly bool) func(float64) bool {
	if changedOnly {
		return func(d float64) bool { return d != 0 }
	}
	return func(float64) bool { return true }
}

// describe computes Stats over the finite values of s that keep accepts, in a few passes over s
// (one for counts, mean and range, then quantile selection).
func describe(s stream, changedOnly bool) (Stats, error) {
	st := Stats{Min: math.Inf(1), Max: math.Inf(-1)}
	ok := keep(changedOnly)
	var sum float64
	err := s(func(d float64) {
		st.Tokens++
		if math.IsNaN(d) || math.IsInf(d, 0) {
			st.NonFinite++
			return
		}
		if d != 0 {
			st.Changed++
		}
		if !ok(d) {
			return
		}
		st.N++
		sum += d
		st.Min, st.Max = math.Min(st.Min, d), math.Max(st.Max, d)
	})
	if err != nil {
		return st, err
	}
	if st.N == 0 {
		st.Mean, st.Min, st.Q1, st.Median, st.Q3, st.Max = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return st, nil
	}
	st.Mean = sum / float64(st.N)
	qs := []float64{0.25, 0.5, 0.75}
	var ranks []int64
	for _, q := range qs {
		k0, k1, _ := quantile.Positions(q, st.N)
		ranks = append(ranks, k0, k1)
	}
	finite := func(fn func(float64)) error {
		return s(func(d float64) {
			if !math.IsNaN(d) && !math.IsInf(d, 0) && ok(d) {
				fn(d)
			}
		})
	}
	vals, err := selectRanks(finite, st.N, ranks)
	if err != nil {
		return st, err
	}
	out := make([]float64, len(qs))
	for i, q := range qs {
		_, _, w := quantile.Positions(q, st.N)
		out[i] = quantile.Lerp(vals[2*i], vals[2*i+1], w)
	}
	st.Q1, st.Median, st.Q3 = out[0], out[1], out[2]
	return st, nil
}

// Quantile selection without sorting or holding the values (a radix select): float64 values map to
// uint64 keys of the same order; a pass counts the values whose key starts with the bits found so far
// by their next 16 bits, and the bucket holding the wanted rank extends the prefix. Four passes fix all
// 64 bits of any rank; a bucket of at most collectMax values is collected and sorted instead, so few
// values take one pass. The result equals sorting everything, whatever the values' range, and
// repeated values (the zeros of unchanged tokens) cost nothing.
var collectMax int64 = 1 << 16 // a variable for tests

// key maps a non-NaN float64 to a uint64 in the same order (−0 just below +0).
func key(x float64) uint64 {
	b := math.Float64bits(x)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func fromKey(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

type selection struct {
	k      int64  // wanted rank among all values
	prefix uint64 // the key's top bits found so far
	bits   uint   // how many: 0, 16, 32 or 48
	below  int64  // values whose key is below every key with this prefix
	g      *bucket
	done   bool
	val    float64
}

// bucket is what one pass gathers for the selections that share a prefix (the ranks of one quantile
// usually do): counts by the next 16 bits, or the values themselves.
type bucket struct {
	prefix  uint64
	bits    uint
	collect bool
	hist    []int64
	vals    []float64
}

func (b *bucket) has(k uint64) bool { return b.bits == 0 || k>>(64-b.bits) == b.prefix }

// selectRanks returns the values of the given 0-based ranks among the n values of s (none NaN).
func selectRanks(s stream, n int64, ranks []int64) ([]float64, error) {
	sels := make([]*selection, len(ranks))
	for i, k := range ranks {
		sels[i] = &selection{k: k}
	}
	collect := n <= collectMax
	for {
		type id struct {
			prefix  uint64
			bits    uint
			collect bool
		}
		groups := map[id]*bucket{}
		var active []*bucket
		for _, sl := range sels {
			if sl.done {
				continue
			}
			key := id{sl.prefix, sl.bits, collect || sl.g != nil && sl.g.collect}
			g := groups[key]
			if g == nil {
				g = &bucket{prefix: key.prefix, bits: key.bits, collect: key.collect}
				if !g.collect {
					g.hist = make([]int64, 1<<16)
				}
				groups[key] = g
				active = append(active, g)
			}
			sl.g = g
		}
		if len(active) == 0 {
			break
		}
		err := s(func(x float64) {
			k := key(x)
			for _, g := range active {
				switch {
				case !g.has(k):
				case g.collect:
					g.vals = append(g.vals, x)
				default:
					g.hist[(k>>(48-g.bits))&0xffff]++
				}
			}
		})
		if err != nil {
			return nil, err
		}
		for _, g := range active {
			if g.collect {
				slices.Sort(g.vals)
			}
		}
		for _, sl := range sels {
			if sl.done {
				continue
			}
			g := sl.g
			if g.collect {
				sl.done, sl.val = true, g.vals[sl.k-sl.below]
				continue
			}
			j := 0
			for ; j < len(g.hist)-1 && sl.below+g.hist[j] <= sl.k; j++ {
				sl.below += g.hist[j]
			}
			sl.prefix, sl.bits = sl.prefix<<16|uint64(j), sl.bits+16
			sl.g = &bucket{collect: g.hist[j] <= collectMax} // carried into the next pass's grouping
			if sl.bits == 64 {
				sl.done, sl.val = true, fromKey(sl.prefix)
			}
		}
	}
	out := make([]float64, len(sels))
	for i, sl := range sels {
		out[i] = sl.val
	}
	return out, nil
}
