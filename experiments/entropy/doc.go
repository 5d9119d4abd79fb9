// Package entropy runs the paper's entropy experiment (paper-spec §4.4): a forward pass over a token
// data set, optionally ablating a neuron set (zero or mean, unconditionally or where gate/post have a
// given sign), recording per-token entropy, loss, rank and final-LayerNorm scale.
package entropy
