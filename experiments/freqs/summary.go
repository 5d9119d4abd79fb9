package freqs

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/wcos-dev/wcos/bindings"
	"github.com/wcos-dev/wcos/safetensors"
)

// Quadrants in summary order (bindings' order): q = 2·(gate<0) + (in<0).
var Quadrants = bindings.Quadrants

// Summary is an accumulated statistics state plus what it was computed from. It is what
// summary.safetensors holds; Read and Write round-trip it exactly.
type Summary struct {
	NLayer, NFF, K int
	Tokens, Rows   int64
	Signs          []int8 // [layer, n_ff] refactor signs used for the in/post signs (all +1 when not refactored)
	State          bindings.StatsData
	Meta           map[string]string // model, model_sha256, dataset, refactor, shard, …
	Path           string            // the file Read loaded it from (not stored), named in Merge's errors
}

// Tensor names of summary.safetensors. Per quadrant Q (e.g. "gate-_in+"): Q.count, Q.freq and
// Q.{post,gate,in,swish}.mean as [layer, neuron]; Q.post.top_values/top_rows/top_positions as
// [k, layer, neuron] (|post| descending; zero-padded past Q.post.top_n). Also freq_gate_pos (the
// paper's "frequency of gate>0"), refactor_sign, n_tokens, n_rows, and state.* (the exact fixed-point
// sums, for merging).
func (s *Summary) tensors() ([]safetensors.Tensor, error) {
	L, N, K := s.NLayer, s.NFF, s.K
	ln := []int64{int64(L), int64(N)}
	kln := []int64{int64(K), int64(L), int64(N)}
	d := s.State
	means, err := meansOf(s)
	if err != nil {
		return nil, err
	}
	var ts []safetensors.Tensor
	gatePos := make([]float64, L*N)
	for q, name := range Quadrants {
		count := make([]int64, L*N)
		freq := make([]float64, L*N)
		topN := make([]int32, L*N)
		for l := 0; l < L; l++ {
			for n := 0; n < N; n++ {
				c := d.Count[(l*4+q)*N+n]
				count[l*N+n] = c
				if s.Tokens > 0 {
					freq[l*N+n] = float64(c) / float64(s.Tokens)
				}
				topN[l*N+n] = d.TopN[(l*4+q)*N+n]
			}
		}
		if q < 2 {
			for i := range gatePos {
				gatePos[i] += freq[i]
			}
		}
		ts = append(ts, safetensors.I64(name+".count", ln, count), safetensors.F64(name+".freq", ln, freq),
			safetensors.I32(name+".post.top_n", ln, topN))
		for v, vn := range bindings.Variables {
			m := make([]float64, L*N)
			for l := 0; l < L; l++ {
				copy(m[l*N:(l+1)*N], means[((l*4+q)*4+v)*N:((l*4+q)*4+v+1)*N])
			}
			ts = append(ts, safetensors.F64(name+"."+vn+".mean", ln, m))
		}
		tv := make([]float32, K*L*N)
		tr := make([]int64, K*L*N)
		tp := make([]int32, K*L*N)
		for l := 0; l < L; l++ {
			for n := 0; n < N; n++ {
				src := ((l*4+q)*N + n) * K
				for k := 0; k < K; k++ {
					dst := (k*L+l)*N + n
					tv[dst], tr[dst], tp[dst] = d.TopVal[src+k], d.TopRow[src+k], d.TopPos[src+k]
				}
			}
		}
		ts = append(ts, safetensors.F32(name+".post.top_values", kln, tv), safetensors.I64(name+".post.top_rows", kln, tr),
			safetensors.I32(name+".post.top_positions", kln, tp))
	}
	ts = append(ts,
		safetensors.F64("freq_gate_pos", ln, gatePos),
		safetensors.I8("refactor_sign", ln, s.Signs),
		safetensors.I64("n_tokens", []int64{1}, []int64{s.Tokens}),
		safetensors.I64("n_rows", []int64{1}, []int64{s.Rows}),
		safetensors.I64("state.count", []int64{int64(len(d.Count))}, d.Count),
		safetensors.I64("state.sum_hi", []int64{int64(len(d.SumHi))}, d.SumHi),
		safetensors.U64("state.sum_lo", []int64{int64(len(d.SumLo))}, d.SumLo),
		safetensors.F32("state.top_values", []int64{int64(len(d.TopVal))}, d.TopVal),
		safetensors.I64("state.top_rows", []int64{int64(len(d.TopRow))}, d.TopRow),
		safetensors.I32("state.top_positions", []int64{int64(len(d.TopPos))}, d.TopPos),
		safetensors.I32("state.top_n", []int64{int64(len(d.TopN))}, d.TopN),
	)
	return ts, nil
}

// meansOf is every quadrant's and variable's mean (sum/count, NaN without tokens).
func meansOf(s *Summary) ([]float64, error) {
	st, err := bindings.NewStats(s.NLayer, s.NFF, s.K)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := st.Import(s.State); err != nil {
		return nil, err
	}
	return st.Means(), nil
}

// summaryFormat is the metadata "format" of summary.safetensors (and of the checkpoints of wcos freqs
// before they recorded their inputs, which carry a "run_key" instead).
const summaryFormat = "wcos freqs summary v1; sums are exact fixed point value*2^40 as int128 (state.sum_hi, state.sum_lo)"

// Write writes the summary to path atomically.
func (s *Summary) Write(path string) error { return s.write(path, summaryFormat) }

// write writes the summary marked with format (a checkpoint's differs).
func (s *Summary) write(path, format string) error {
	meta := map[string]string{}
	for k, v := range s.Meta {
		meta[k] = v
	}
	meta["n_layer"] = strconv.Itoa(s.NLayer)
	meta["n_ff"] = strconv.Itoa(s.NFF)
	meta["k"] = strconv.Itoa(s.K)
	meta["quadrants"] = strings.Join(Quadrants, ",")
	meta["format"] = format
	ts, err := s.tensors()
	if err != nil {
		return err
	}
	return safetensors.Write(path, ts, meta)
}

// Read loads a summary written by Write.
func Read(path string) (*Summary, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f)
}

// read loads a summary (or a checkpoint) from an open file; its errors name the file.
func read(f *safetensors.File) (*Summary, error) {
	path := f.Path
	s := &Summary{Meta: f.Metadata, Path: path}
	var err error
	for key, dst := range map[string]*int{"n_layer": &s.NLayer, "n_ff": &s.NFF, "k": &s.K} {
		v, err := strconv.Atoi(f.Metadata[key])
		if err != nil {
			return nil, fmt.Errorf("%s: not a wcos freqs summary (metadata %q missing)", path, key)
		}
		*dst = v
	}
	get := func(name string) []int64 {
		if err != nil {
			return nil
		}
		var v []int64
		v, err = f.Int64(name)
		return v
	}
	nt, nr := get("n_tokens"), get("n_rows")
	d := &s.State
	d.Count = get("state.count")
	d.SumHi = get("state.sum_hi")
	lo := get("state.sum_lo")
	rows := get("state.top_rows")
	signs := get("refactor_sign")
	if err != nil {
		return nil, err
	}
	if len(nt) != 1 || len(nr) != 1 {
		return nil, fmt.Errorf("%s: n_tokens and n_rows have %d and %d values, want 1", path, len(nt), len(nr))
	}
	s.Tokens, s.Rows = nt[0], nr[0]
	d.SumLo = make([]uint64, len(lo))
	for i, x := range lo {
		d.SumLo[i] = uint64(x)
	}
	d.TopRow = rows
	s.Signs = make([]int8, len(signs))
	for i, x := range signs {
		s.Signs[i] = int8(x)
	}
	if d.TopVal, err = f.Float32("state.top_values"); err != nil {
		return nil, err
	}
	if d.TopPos, err = f.Int32("state.top_positions"); err != nil {
		return nil, err
	}
	if d.TopN, err = f.Int32("state.top_n"); err != nil {
		return nil, err
	}
	if want := s.NLayer * 4 * s.NFF; len(d.Count) != want || len(d.TopN) != want || len(s.Signs) != s.NLayer*s.NFF {
		return nil, fmt.Errorf("%s: state shape does not match %d layers × %d neurons", path, s.NLayer, s.NFF)
	}
	return s, nil
}

// stats rebuilds native statistics from the summary's state.
func (s *Summary) stats() (*bindings.Stats, error) {
	st, err := bindings.NewStats(s.NLayer, s.NFF, s.K)
	if err != nil {
		return nil, err
	}
	if err := st.Import(s.State); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Merge adds shard summaries exactly (counts and sums add, top-k lists merge). They must come from the
// same model, data set, signs and k.
func Merge(parts []*Summary) (*Summary, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("merge: no summaries")
	}
	first := parts[0]
	acc, err := first.stats()
	if err != nil {
		return nil, err
	}
	defer acc.Close()
	out := &Summary{NLayer: first.NLayer, NFF: first.NFF, K: first.K, Signs: first.Signs, Meta: map[string]string{}}
	for k, v := range first.Meta {
		out.Meta[k] = v
	}
	name := func(i int) string {
		if parts[i].Path != "" {
			return parts[i].Path
		}
		return fmt.Sprintf("summary %d", i)
	}
	var shards []string
	for i, p := range parts {
		for _, key := range []string{"model_sha256", "dataset", "refactor", "max_length", "max_tokens"} {
			if p.Meta[key] != first.Meta[key] {
				return nil, fmt.Errorf("merge: %s has %s %q, %s has %q", name(i), key, p.Meta[key], name(0), first.Meta[key])
			}
		}
		if p.NLayer != first.NLayer || p.NFF != first.NFF || p.K != first.K {
			return nil, fmt.Errorf("merge: %s has shape %d×%d k %d, %s %d×%d k %d", name(i), p.NLayer, p.NFF, p.K, name(0), first.NLayer, first.NFF, first.K)
		}
		// A shard counted twice, or shards of different splits (0/2 and 0/3 share rows), would count
		// tokens twice.
		for _, sh := range strings.Split(strings.TrimPrefix(p.Meta["shard"], "merged:"), ",") {
			if slices.Contains(shards, sh) {
				return nil, fmt.Errorf("merge: %s holds shard %s, which another summary holds too", name(i), sh)
			}
			var a, n, a0, n0 int
			if len(shards) > 0 {
				_, e1 := fmt.Sscanf(sh, "%d/%d", &a, &n)
				_, e2 := fmt.Sscanf(shards[0], "%d/%d", &a0, &n0)
				if e1 == nil && e2 == nil && n != n0 {
					return nil, fmt.Errorf("merge: %s is shard %s, another summary shard %s: shards of different splits overlap", name(i), sh, shards[0])
				}
			}
			shards = append(shards, sh)
		}
		out.Tokens += p.Tokens
		out.Rows += p.Rows
		if i == 0 {
			continue
		}
		st, err := p.stats()
		if err != nil {
			return nil, err
		}
		err = acc.Merge(st)
		st.Close()
		if err != nil {
			return nil, err
		}
	}
	// A complete set of shards i/n is the single run 0/1, byte for byte.
	out.Meta["shard"] = "merged:" + strings.Join(shards, ",")
	if complete(shards) {
		out.Meta["shard"] = "0/1"
	}
	out.State = acc.Export()
	return out, nil
}

// quadrantMatches maps a (gate, post) condition onto quadrant q = 2·(gate<0) + (in<0): post's sign is
// gate's sign times in's (silu(g) has g's sign), so gate+post+ = gate+in+, gate+post- = gate+in-,
// gate-post+ = gate-in-, gate-post- = gate-in+ (the mapping of the reference's get_mean_values).
func quadrantMatches(q, gate, post int) bool {
	gs, is := 1, 1
	if q >= 2 {
		gs = -1
	}
	if q%2 == 1 {
		is = -1
	}
	if gate != 0 && gate != gs {
		return false
	}
	if post != 0 && post != gs*is {
		return false
	}
	return true
}

// MeanValues is, per neuron, the mean of post over the quadrants a gate/post condition selects
// (paper-spec §4.3: Σ_c count_c·mean_c / Σ_c count_c, post's sign taken as in the summary), returned in
// the model's raw sign convention (s_n·mean) so it can be written into hook_post; 0 without tokens.
func (s *Summary) MeanValues(layers, neurons []int, gate, post int) ([]float32, error) {
	N := s.NFF
	means, err := meansOf(s)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(neurons))
	for i := range neurons {
		l, n := layers[i], neurons[i]
		var sum float64
		var count int64
		for q := 0; q < 4; q++ {
			c := s.State.Count[(l*4+q)*N+n]
			if c == 0 || !quadrantMatches(q, gate, post) {
				continue
			}
			m := means[((l*4+q)*4)*N+n]
			if math.IsNaN(m) {
				continue
			}
			sum += m * float64(c)
			count += c
		}
		if count > 0 {
			out[i] = float32(float64(s.Signs[l*N+n]) * sum / float64(count))
		}
	}
	return out, nil
}

// complete reports whether shards are exactly 0/n … n-1/n.
func complete(shards []string) bool {
	seen := map[int]bool{}
	n := -1
	for _, s := range shards {
		var i, k int
		if _, err := fmt.Sscanf(s, "%d/%d", &i, &k); err != nil || (n >= 0 && k != n) || i < 0 || i >= k || seen[i] {
			return false
		}
		n = k
		seen[i] = true
	}
	return n > 0 && len(seen) == n
}
