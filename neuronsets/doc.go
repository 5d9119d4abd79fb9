// Package neuronsets selects the paper's neuron sets (paper-spec §3) exactly as the reference code's
// neuron_choice and random_baseline do: the neurons of an RW class in layer-major, index-ascending
// order; a subset of them (a count, a fraction of the class, or as many as another class has) drawn
// with Python's random.sample after random.seed(2512800) (package internal/pyrandom reproduces the
// draws bit for bit); and the random baseline, which continues the same random stream: per layer
// with c selected neurons, c neurons of that layer outside the class, or all of them when c is at
// least half the layer.
//
// Names follow the reference's output folders: "weakening" (whole class), "weakening24" (a count),
// "weakening0.5" (a fraction), "weakening_strengthening" (as many as strengthening has),
// "<name>_baseline", and the conditional suffix "_gate-_post+".
//
// testdata/golden.py re-states the reference selection in standard-library Python on planted class
// grids and on the embedded tiny-olmo; the tests compare every selected index against it. Regenerate
// it from the repository root with
//
//	python3 neuronsets/testdata/golden.py > neuronsets/testdata/golden.json
package neuronsets
