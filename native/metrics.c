// Per-token metrics from logits (paper-spec §4.4). One call handles a block of rows; callers
// parallelise over row blocks. exp and log are branch-free float polynomials
// that gcc vectorises with -march=x86-64-v3 (exp relative error < 2e-7, log absolute error < 2e-6 from
// float rounding of e·ln2); every sum is accumulated in float64 (float partial sums of equal terms drift). libm's scalar
// exp/log made the metrics cost more than the forward pass of tiny-olmo.
// Comparisons in the clamp would otherwise count as possible FP traps and keep gcc from vectorising;
// wcos never enables FP traps, so results are unchanged.
#pragma GCC optimize("no-trapping-math")

#include <math.h>
#include <string.h>

#include "devkern.h"
#include "wcos_native.h"

// wcos_expf (exp(x) for x <= 0, Cephes expf: x = n·ln2 + r with |r| <= ln2/2, ln2 split in two for an
// exact reduction, exp(r) by a degree-7 polynomial, scaled by 2^n through the exponent bits) and
// wcos_logf (y = m·2^e, log m = 2·atanh((m-1)/(m+1))) live in devkern.h, shared with the device metrics.

// Sums run in WCOS_LANES (devkern.h) independent float64 lanes: gcc does not vectorise a floating-point
// reduction without -ffast-math, but it does vectorise lane-wise accumulation.
enum { WCOS_BLOCK = 512 };

static double lane_sum(const double *acc) {
    double s = 0;
    for (int j = 0; j < WCOS_LANES; j++) s += acc[j];
    return s;
}

void wcos_token_metrics(const float *logits, int64_t n_vocab, int64_t n_rows, const int32_t *target,
                        double *entropy, double *loss, int32_t *rank) {
    float e[WCOS_BLOCK];
    for (int64_t r = 0; r < n_rows; r++) {
        const float *x = logits + r * n_vocab;
        float mxl[WCOS_LANES];
        for (int j = 0; j < WCOS_LANES; j++) mxl[j] = x[0];
        int64_t i0 = n_vocab / WCOS_LANES * WCOS_LANES;
        for (int64_t i = 0; i < i0; i += WCOS_LANES)
            for (int j = 0; j < WCOS_LANES; j++) mxl[j] = x[i + j] > mxl[j] ? x[i + j] : mxl[j];
        float mx = mxl[0];
        for (int j = 1; j < WCOS_LANES; j++) mx = mxl[j] > mx ? mxl[j] : mx;
        for (int64_t i = i0; i < n_vocab; i++) mx = x[i] > mx ? x[i] : mx;

        // Pass 1: Z = Σ exp(x - max).
        double acc[WCOS_LANES] = {0};
        for (int64_t b = 0; b < n_vocab; b += WCOS_BLOCK) {
            const int n = (int)(n_vocab - b < WCOS_BLOCK ? n_vocab - b : WCOS_BLOCK);
            for (int i = 0; i < n; i++) e[i] = wcos_expf(x[b + i] - mx);
            for (int i = n; i < (n + WCOS_LANES - 1) / WCOS_LANES * WCOS_LANES; i++) e[i] = 0;
            for (int i = 0; i < n; i += WCOS_LANES)
                for (int j = 0; j < WCOS_LANES; j++) acc[j] += e[i + j];
        }
        const double z = lane_sum(acc);
        const float inv_z = (float)(1.0 / z);
        // Pass 2: H = -Σ p log(p + 1e-8), the reference's formula (the 1e-8 matters for the many tiny p).
        for (int j = 0; j < WCOS_LANES; j++) acc[j] = 0;
        for (int64_t b = 0; b < n_vocab; b += WCOS_BLOCK) {
            const int n = (int)(n_vocab - b < WCOS_BLOCK ? n_vocab - b : WCOS_BLOCK);
            for (int i = 0; i < n; i++) {
                const float p = wcos_expf(x[b + i] - mx) * inv_z;
                e[i] = p * wcos_logf(p + 1e-8f);
            }
            for (int i = n; i < (n + WCOS_LANES - 1) / WCOS_LANES * WCOS_LANES; i++) e[i] = 0;
            for (int i = 0; i < n; i += WCOS_LANES)
                for (int j = 0; j < WCOS_LANES; j++) acc[j] += e[i + j];
        }
        entropy[r] = -lane_sum(acc);
        const int32_t t = target ? target[r] : -1;
        if (t >= 0 && t < n_vocab) {
            const float xt = x[t];
            int32_t k = 0;
            for (int64_t i = 0; i < n_vocab; i++) k += x[i] > xt;
            loss[r] = log(z) + mx - xt;
            rank[r] = k;
        } else {
            loss[r] = 0;
            rank[r] = 0;
        }
    }
}

int32_t wcos_argmax(const float *x, int64_t n) {
    int32_t best = -1;
    float bv = 0;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] > bv || (best < 0 && x[i] == x[i])) {
            best = (int32_t)i;
            bv = x[i];
        }
    }
    return best;
}

// better: x[a] ranks above x[b]: larger, or equal and earlier; a NaN ranks below every number.
static inline int topk_better(const float *x, int32_t a, int32_t b) {
    const int na = x[a] != x[a], nb = x[b] != x[b];
    if (na != nb) return nb; // one NaN: the number ranks above it
    if (na) return a < b;    // two: the earlier first
    return x[a] > x[b] || (x[a] == x[b] && a < b);
}

void wcos_topk_rows(const float *x, int64_t rows, int64_t n, int32_t k, int32_t *out) {
    if (k > n) k = (int32_t)n;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        int32_t *top = out + r * k;
        int32_t have = 0;
        for (int32_t i = 0; i < (int32_t)n; i++) {
            if (have == k && !topk_better(xr, i, top[k - 1])) continue;
            // The first place whose entry i ranks above; entries from there move down one.
            int32_t lo = 0, hi = have;
            while (lo < hi) {
                const int32_t mid = (lo + hi) / 2;
                if (topk_better(xr, top[mid], i)) lo = mid + 1; else hi = mid;
            }
            const int32_t last = have < k ? have : k - 1;
            for (int32_t j = last; j > lo; j--) top[j] = top[j - 1];
            top[lo] = i;
            if (have < k) have++;
        }
    }
}

int32_t wcos_sample(const float *x, int64_t n, double temperature, double u) {
    const int32_t best = wcos_argmax(x, n);
    if (best < 0 || !(temperature > 0)) return best;
    const float m = x[best], inv = (float)(1.0 / temperature);
    // Two passes of exp (vectorised float polynomial, devkern.h), the sums in float64: the total, then
    // the running sum up to the draw.
    double acc[WCOS_LANES] = {0};
    for (int64_t b = 0; b < n; b += WCOS_LANES)
        for (int j = 0; j < WCOS_LANES && b + j < n; j++) {
            const float v = x[b + j];
            acc[j] += v == v ? wcos_expf((v - m) * inv) : 0;
        }
    const double target = u * lane_sum(acc);
    double cum = 0;
    int32_t last = best;
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        if (v != v) continue;
        const float p = wcos_expf((v - m) * inv);
        if (p == 0) continue;
        cum += p;
        last = (int32_t)i;
        if (cum > target) return (int32_t)i;
    }
    return last; // u within rounding of 1
}
