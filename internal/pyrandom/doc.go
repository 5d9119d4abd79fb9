// Package pyrandom reproduces the parts of CPython's random module that the reference code's neuron
// choice depends on, bit for bit: the Mersenne Twister MT19937 seeded from an int as random.seed(n)
// does (init_by_array over the 32-bit words of |n|, least significant first), getrandbits(k),
// _randbelow_with_getrandbits, random() and the index choice of random.sample (pool or set-rejection
// algorithm, picked by CPython's setsize rule).
//
// The tests compare against golden files written by testdata/golden.py (Python standard library
// only). Regenerate them with
//
//	python3 internal/pyrandom/testdata/golden.py > internal/pyrandom/testdata/golden.json
//
// Go cannot produce Python's truth, so there is no -update flag.
package pyrandom
