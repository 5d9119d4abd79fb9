// Package weights derives per-neuron quantities from a GGUF model's MLP weights that the hooks need at
// run time, chiefly the refactor signs s_n of paper-spec §1.2.
package weights
