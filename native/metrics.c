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

#include "wcos_native.h"

// exp(x) for x <= 0 (Cephes expf): x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
// reduction), exp(r) by a degree-7 polynomial, then scaled by 2^n through the exponent bits.
static inline float wcos_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    // Round x·log2(e) to the nearest integer n with the 1.5·2^23 trick: its low mantissa bits are n.
    float m = x * 1.4426950408889634f + 12582912.0f;
    int32_t mi;
    memcpy(&mi, &m, sizeof mi);
    const int32_t ni = mi - 0x4B400000;
    const float n = m - 12582912.0f;
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (ni + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// log(y) for normal y > 0: y = m·2^e with m in [sqrt(1/2), sqrt(2)), log m = 2·atanh(s), s = (m-1)/(m+1).
static inline float wcos_logf(float y) {
    int32_t bits;
    memcpy(&bits, &y, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 127;
    int32_t mb = (bits & 0x007fffff) | 0x3f800000;
    float m;
    memcpy(&m, &mb, sizeof m);
    const int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e += big;
    const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float p = 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p + (float)e * 0.69314718f;
}

// Sums run in WCOS_LANES independent float64 lanes: gcc does not vectorise a floating-point
// reduction without -ffast-math, but it does vectorise lane-wise accumulation.
enum { WCOS_BLOCK = 512, WCOS_LANES = 8 };

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
