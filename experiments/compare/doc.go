// Package compare compares per-token metrics of an unablated (clean) `wcos entropy` run with those of
// ablated runs on the same rows (paper-spec §4.5): per token diff = metric(clean) − metric(ablated) for
// entropy, loss, rank and log_scale (log scale(clean) − log scale(ablated)), with padding masked by
// the rows' lengths; per set and metric the token counts, mean, min, quartiles and max (numpy's
// default "linear" quantiles), over all tokens or, as the paper's tables, over changed tokens only;
// and aligned histograms over shared bins, as the paper's figures.
//
// Files are streamed in row blocks, several passes per set: memory stays a few MB whatever the number
// of rows, and quantiles are exact (bucket selection, see select.go).
package compare
