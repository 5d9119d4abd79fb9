// Package freqs computes activation statistics of every MLP neuron over a data set in one streamed
// pass (paper-spec §6.1; the original neuroscope/GLUScope summary): per layer, neuron and sign quadrant
// gate±/in± the token count, the means of post, gate, in and swish, and the top-k tokens by |post|.
// The accumulation runs in the engine's C hooks with exact fixed-point sums, so checkpointed runs
// resume, and shards merge, to byte-identical summaries.
package freqs
