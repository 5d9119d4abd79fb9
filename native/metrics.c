// Per-token metrics from logits (paper-spec §4.4), in float64. One call handles a block of rows;
// callers parallelise over row blocks.
#include <math.h>

#include "wcos_native.h"

void wcos_token_metrics(const float *logits, int64_t n_vocab, int64_t n_rows, const int32_t *target,
                        double *entropy, double *loss, int32_t *rank) {
    for (int64_t r = 0; r < n_rows; r++) {
        const float *x = logits + r * n_vocab;
        float mx = x[0];
        for (int64_t i = 1; i < n_vocab; i++) mx = x[i] > mx ? x[i] : mx;
        double z = 0;
        for (int64_t i = 0; i < n_vocab; i++) z += exp((double)x[i] - mx);
        const double logz = log(z) + mx;
        // H = -Σ p log(p + 1e-8), exactly the reference's formula (the 1e-8 matters for tiny p).
        double h = 0;
        for (int64_t i = 0; i < n_vocab; i++) {
            const double lp = (double)x[i] - logz;
            const double p = exp(lp);
            h -= p * log(p + 1e-8);
        }
        entropy[r] = h;
        const int32_t t = target ? target[r] : -1;
        if (t >= 0 && t < n_vocab) {
            const float xt = x[t];
            int32_t k = 0;
            for (int64_t i = 0; i < n_vocab; i++) k += x[i] > xt;
            loss[r] = logz - xt;
            rank[r] = k;
        } else {
            loss[r] = 0;
            rank[r] = 0;
        }
    }
}
