package pyrandom

import (
	"fmt"
	"math"
	"math/bits"
)

const (
	n         = 624
	m         = 397
	matrixA   = 0x9908b0df
	upperMask = 0x80000000
	lowerMask = 0x7fffffff
)

// Random is a Python random.Random: MT19937 with CPython's seeding. The zero value is not seeded; use
// New. A Random is not safe for concurrent use.
type Random struct {
	mt  [n]uint32
	mti int
}

// New returns a generator seeded as random.seed(seed) seeds Python's (an int seed; the sign is
// dropped, as CPython uses abs(seed)).
func New(seed int64) *Random {
	r := &Random{}
	r.Seed(seed)
	return r
}

// Seed reseeds the generator as random.seed(seed) with an int.
func (r *Random) Seed(seed int64) {
	var u uint64
	if seed < 0 {
		u = uint64(-(seed + 1)) + 1 // |math.MinInt64| without overflow
	} else {
		u = uint64(seed)
	}
	r.SeedUint64(u)
}

// SeedUint64 reseeds the generator as random.seed(u) with a non-negative int: the key is u's 32-bit
// words, least significant first, without leading zero words ([0] for u = 0).
func (r *Random) SeedUint64(u uint64) {
	key := []uint32{uint32(u)}
	if hi := uint32(u >> 32); hi != 0 {
		key = append(key, hi)
	}
	r.SeedArray(key)
}

// SeedArray is MT19937's init_by_array (CPython's seeding for any int, given as 32-bit words, least
// significant first). An empty key is treated as [0].
func (r *Random) SeedArray(key []uint32) {
	if len(key) == 0 {
		key = []uint32{0}
	}
	r.initGenrand(19650218)
	mt := &r.mt
	i, j := 1, 0
	k := max(n, len(key))
	for ; k > 0; k-- {
		mt[i] = (mt[i] ^ ((mt[i-1] ^ (mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= n {
			mt[0] = mt[n-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = n - 1; k > 0; k-- {
		mt[i] = (mt[i] ^ ((mt[i-1] ^ (mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= n {
			mt[0] = mt[n-1]
			i = 1
		}
	}
	mt[0] = 0x80000000 // MSB is 1, assuring a non-zero initial array
}

func (r *Random) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < n; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.mti = n
}

// Uint32 is MT19937's genrand_uint32: the next 32 random bits.
func (r *Random) Uint32() uint32 {
	mt := &r.mt
	if r.mti >= n {
		if r.mti > n { // never seeded: behave as seeded with 5489, as the reference C code
			r.initGenrand(5489)
		}
		mag := [2]uint32{0, matrixA}
		var kk int
		for kk = 0; kk < n-m; kk++ {
			y := (mt[kk] & upperMask) | (mt[kk+1] & lowerMask)
			mt[kk] = mt[kk+m] ^ (y >> 1) ^ mag[y&1]
		}
		for ; kk < n-1; kk++ {
			y := (mt[kk] & upperMask) | (mt[kk+1] & lowerMask)
			mt[kk] = mt[kk+(m-n)] ^ (y >> 1) ^ mag[y&1]
		}
		y := (mt[n-1] & upperMask) | (mt[0] & lowerMask)
		mt[n-1] = mt[m-1] ^ (y >> 1) ^ mag[y&1]
		r.mti = 0
	}
	y := mt[r.mti]
	r.mti++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Getrandbits is random.getrandbits(k) for 0 ≤ k ≤ 64: k = 0 gives 0 and draws nothing; k ≤ 32 is
// one draw shifted right by 32-k; 32 < k ≤ 64 takes the low word from the first draw and the high
// word from the second, shifted right by 64-k (CPython fills words least significant first).
func (r *Random) Getrandbits(k int) uint64 {
	switch {
	case k < 0 || k > 64:
		panic(fmt.Sprintf("pyrandom: Getrandbits(%d): k outside [0, 64]", k))
	case k == 0:
		return 0
	case k <= 32:
		return uint64(r.Uint32() >> (32 - k))
	}
	lo := uint64(r.Uint32())
	hi := uint64(r.Uint32() >> (64 - k))
	return hi<<32 | lo
}

// Randbelow is random._randbelow_with_getrandbits(n): a uniform int in [0, n) by rejection of
// getrandbits(n.bit_length()). It panics for n ≤ 0 (undefined in CPython).
func (r *Random) Randbelow(n int) int {
	if n <= 0 {
		panic(fmt.Sprintf("pyrandom: Randbelow(%d): n must be > 0", n))
	}
	k := bits.Len64(uint64(n))
	v := r.Getrandbits(k)
	for v >= uint64(n) {
		v = r.Getrandbits(k)
	}
	return int(v)
}

// Float64 is random.random(): 53 random bits from two draws, in [0, 1).
func (r *Random) Float64() float64 {
	a := r.Uint32() >> 5
	b := r.Uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) * (1.0 / 9007199254740992.0)
}

// SetSize is random.sample's threshold: the pool algorithm is used when n ≤ SetSize(k), the
// set-rejection algorithm otherwise. It is 21, plus 4**ceil(log(3k, 4)) when k > 5, with log
// evaluated in float64 as CPython's math.log(x, base) = log(x)/log(base).
func SetSize(k int) int {
	s := 21
	if k > 5 {
		e := math.Ceil(math.Log(float64(3*k)) / math.Log(4))
		s += int(math.Pow(4, e))
	}
	return s
}

// Sample returns the indices into a population of size n that random.sample(population, k) picks,
// in the order it returns them (so random.sample(pop, k)[i] == pop[Sample(n, k)[i]]). It draws
// exactly what CPython draws: pool algorithm (Randbelow(n-i), swap-remove) for n ≤ SetSize(k),
// else Randbelow(n) repeated until unseen. k outside [0, n] is an error, as in CPython.
func (r *Random) Sample(n, k int) ([]int, error) {
	if k < 0 || k > n {
		return nil, fmt.Errorf("pyrandom: sample of %d from a population of %d: sample larger than population or is negative", k, n)
	}
	out := make([]int, k)
	if n <= SetSize(k) {
		pool := make([]int, n)
		for i := range pool {
			pool[i] = i
		}
		for i := range k {
			j := r.Randbelow(n - i)
			out[i] = pool[j]
			pool[j] = pool[n-i-1]
		}
		return out, nil
	}
	seen := make(map[int]struct{}, k)
	for i := range k {
		j := r.Randbelow(n)
		for {
			if _, ok := seen[j]; !ok {
				break
			}
			j = r.Randbelow(n)
		}
		seen[j] = struct{}{}
		out[i] = j
	}
	return out, nil
}
