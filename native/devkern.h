// Kernel bodies of the device hooks, shared by the CUDA kernels (native/cuda/wcos_cuda.cu) and their
// host emulation (devemu.c): the CPU tests run the very code a GPU runs, one thread index at a time.
// Plain C99 that nvcc also compiles as C++; WCOS_KERN makes the bodies device functions under nvcc.
#ifndef WCOS_DEVKERN_H
#define WCOS_DEVKERN_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "wcos_dev.h"

#ifdef __CUDACC__
#define WCOS_KERN __device__ static inline
#define WCOS_HOSTDEV __host__ __device__ static inline
#else
#define WCOS_KERN static inline
#define WCOS_HOSTDEV static inline
#endif

#ifdef __CUDACC__
WCOS_KERN uint64_t wcos_k_add_u64(uint64_t *p, uint64_t v) {
    return (uint64_t)atomicAdd((unsigned long long *)p, (unsigned long long)v);
}
#else
// Emulation: one thread runs at a time, so a plain add is the atomic one.
static inline uint64_t wcos_k_add_u64(uint64_t *p, uint64_t v) {
    const uint64_t old = *p;
    *p = old + v;
    return old;
}
#endif

// The fixed point of stats.c: trunc(x·2^40) (exact for |x| ≥ 2^-16), so device and host sums agree bit
// for bit and do not depend on the order of additions. Out of int64's range the cast is undefined and
// x86 and CUDA differ, so NaN counts 0 and |x| ≥ 2^22 saturates at ±2^62, alike on both.
WCOS_HOSTDEV int64_t wcos_k_fix(float x) {
    const double v = (double)x * 1099511627776.0, lim = 4611686018427387904.0;
    return v != v ? 0 : v >= lim ? (int64_t)lim : v <= -lim ? -(int64_t)lim : (int64_t)v;
}

// A 128-bit two's complement accumulator as (lo, hi) words, for values of one int64 each.
WCOS_KERN void wcos_k_acc128(uint64_t *lo, uint64_t *hi, int64_t x) {
    const uint64_t nl = *lo + (uint64_t)x;
    *hi += (uint64_t)(x < 0 ? -1 : 0) + (nl < *lo);
    *lo = nl;
}

// Atomically adds the 128-bit (lo, hi) to (*glo, *ghi): the carry of each atomic add on the low word is
// that add's own, so concurrent additions still sum exactly.
WCOS_KERN void wcos_k_atomic128(uint64_t *glo, uint64_t *ghi, uint64_t lo, uint64_t hi) {
    const uint64_t old = wcos_k_add_u64(glo, lo);
    wcos_k_add_u64(ghi, hi + (old + lo < old));
}

// Conditional ablation of neuron n in row r, as on_swiglu in hooks.c: gc/pc 0 none, +1 strictly
// positive, -1 strictly negative; the post condition applies to sign·post.
WCOS_KERN void wcos_k_ablate(const float *gate, float *post, int64_t ld, int r, int32_t n, float val, int8_t sign,
                             int gc, int pc) {
    const int64_t o = (int64_t)r * ld + n;
    const float g = gate[o];
    if (gc > 0 && !(g > 0)) return;
    if (gc < 0 && !(g < 0)) return;
    if (pc != 0) {
        const float sp = sign * post[o];
        if (pc > 0 && !(sp > 0)) return;
        if (pc < 0 && !(sp < 0)) return;
    }
    post[o] = val;
}

// Element i of accumulate (wcos_dev.h): a 128-bit add into the totals, and a count.
WCOS_KERN void wcos_k_accumulate(uint64_t *tot_lo, uint64_t *tot_hi, const uint64_t *lo, const uint64_t *hi,
                                 size_t n, uint64_t *tot_count, const uint64_t *count, size_t n_count, size_t i) {
    if (i < n) {
        const uint64_t l = tot_lo[i] + lo[i];
        tot_hi[i] += hi[i] + (l < lo[i]);
        tot_lo[i] = l;
    }
    if (i < n_count) tot_count[i] += count[i];
}

// top-k order of stats.c: |value| descending, then data-set row, then position ascending.
WCOS_KERN int wcos_k_better(float v, int64_t row, int32_t pos, float w, int64_t wrow, int32_t wpos) {
    const float a = fabsf(v), b = fabsf(w);
    if (a != b) return a > b;
    if (row != wrow) return row < wrow;
    return pos < wpos;
}

// One quadrant's running counts and 128-bit sums in a thread.
typedef struct {
    int64_t cnt;
    uint64_t lo[WCOS_NVARS], hi[WCOS_NVARS];
} wcos_k_qacc;

WCOS_KERN void wcos_k_qadd(wcos_k_qacc *a, float pv, float gv, float iv, float sw) {
    a->cnt++;
    wcos_k_acc128(&a->lo[WCOS_VAR_POST], &a->hi[WCOS_VAR_POST], wcos_k_fix(pv));
    wcos_k_acc128(&a->lo[WCOS_VAR_GATE], &a->hi[WCOS_VAR_GATE], wcos_k_fix(gv));
    wcos_k_acc128(&a->lo[WCOS_VAR_IN], &a->hi[WCOS_VAR_IN], wcos_k_fix(iv));
    wcos_k_acc128(&a->lo[WCOS_VAR_SWISH], &a->hi[WCOS_VAR_SWISH], wcos_k_fix(sw));
}

// Quadrant statistics of neuron n over rows [r0, r1) (paper-spec §6.1, as accumulate_range in
// stats.c): counts and fixed-point sums of post/gate/in/swish per quadrant, added to the call's
// accumulators, and this row range's top-k |post| per quadrant, offered as candidates where they can
// enter the running lists (|post| ≥ tmin, or tmin < 0 for a list not yet full).
WCOS_KERN void wcos_k_quadrants(const wcos_quad_args *a, int n, int r0, int r1) {
    const int nff = a->n_ff, k = a->k;
    const float s = a->sign[n];
    // The quadrant index selects by constant subscripts (the switch), so a GPU keeps the accumulators
    // in registers rather than in local memory.
    wcos_k_qacc acc[4];
    memset(acc, 0, sizeof acc);
    float tv[4][WCOS_KMAX];
    int32_t tr[4][WCOS_KMAX];
    int tn[4] = {0, 0, 0, 0};
    float tm[4];
    for (int q = 0; q < 4; q++) tm[q] = a->tmin[(int64_t)q * nff + n];
    for (int r = r0; r < r1; r++) {
        const int64_t o = (int64_t)r * a->ld + n;
        const float gv = a->gate[o], uv = a->up[o], p = a->post[o];
        if (gv == 0 || uv == 0) continue; // strict signs; exact zeros belong to no quadrant
        const float iv = s * uv;
        const int q = (gv < 0) * 2 + (iv < 0);
        const float pv = s * p, sw = p / uv; // refactored post; silu(gate) recovered from post = silu·up
        switch (q) {
        case 0: wcos_k_qadd(&acc[0], pv, gv, iv, sw); break;
        case 1: wcos_k_qadd(&acc[1], pv, gv, iv, sw); break;
        case 2: wcos_k_qadd(&acc[2], pv, gv, iv, sw); break;
        default: wcos_k_qadd(&acc[3], pv, gv, iv, sw); break;
        }
        if (k <= 0 || !(tm[q] < 0 || fabsf(pv) >= tm[q])) continue;
        // Insert into this range's list under the total order (rows are distinct, ties resolved exactly).
        const int64_t rid = a->row_id[r];
        const int32_t rpos = a->row_pos[r];
        int m = tn[q];
        if (m == k && !wcos_k_better(pv, rid, rpos, tv[q][k - 1], a->row_id[tr[q][k - 1]], a->row_pos[tr[q][k - 1]]))
            continue;
        int i = m < k ? m : k - 1;
        while (i > 0 && wcos_k_better(pv, rid, rpos, tv[q][i - 1], a->row_id[tr[q][i - 1]], a->row_pos[tr[q][i - 1]])) {
            tv[q][i] = tv[q][i - 1];
            tr[q][i] = tr[q][i - 1];
            i--;
        }
        tv[q][i] = pv;
        tr[q][i] = r;
        if (m < k) tn[q] = m + 1;
    }
    for (int q = 0; q < 4; q++) {
        if (acc[q].cnt == 0) continue;
        const int64_t slot = (int64_t)q * nff + n;
        wcos_k_add_u64(&a->count[slot], (uint64_t)acc[q].cnt);
        for (int j = 0; j < WCOS_NVARS; j++) {
            const int64_t o = ((int64_t)q * WCOS_NVARS + j) * nff + n;
            wcos_k_atomic128(&a->sum_lo[o], &a->sum_hi[o], acc[q].lo[j], acc[q].hi[j]);
        }
        for (int j = 0; j < tn[q]; j++) {
            const uint64_t c = wcos_k_add_u64(a->ncand, 1);
            if (c < (uint64_t)a->cap) {
                a->cand[c].v = tv[q][j];
                a->cand[c].r = tr[q][j];
                a->cand[c].slot = (int32_t)slot;
            }
        }
    }
}

// The final norm's scale of row r (TransformerLens's ln_final.hook_scale), as on_last_out in hooks.c
// (same float64 order: bit-identical): sqrt(var + eps) for a LayerNorm, sqrt(mean(x²) + eps) for an
// RMSNorm (rms != 0).
WCOS_KERN float wcos_k_scale(const float *x, int64_t n_embd, int r, float eps, int rms) {
    const float *v = x + (int64_t)r * n_embd;
    double mean = 0, var = 0;
    if (!rms) {
        for (int64_t i = 0; i < n_embd; i++) mean += v[i];
        mean /= n_embd;
    }
    for (int64_t i = 0; i < n_embd; i++) var += (v[i] - mean) * (v[i] - mean);
    var /= n_embd;
    return (float)sqrt(var + eps);
}

// exp(x) for x <= 0 and log(y) for normal y > 0: the float polynomials of metrics.c (see there).
WCOS_HOSTDEV float wcos_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
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

WCOS_HOSTDEV float wcos_logf(float y) {
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

// Per-token metrics in eight lanes, as wcos_token_metrics in metrics.c: lane j takes the elements
// i ≡ j (mod 8) in order, with the same polynomials and float64 sums, and the lanes are combined in
// order, so a device thread per lane gives what one thread running the lanes in turn gives.
enum { WCOS_LANES = 8 };

WCOS_KERN float wcos_k_lane_max(const float *x, int64_t n_vocab, int j) {
    float mx = x[0];
    for (int64_t i = j; i < n_vocab; i += WCOS_LANES) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

WCOS_KERN double wcos_k_lane_z(const float *x, int64_t n_vocab, int j, float mx) {
    double acc = 0;
    for (int64_t i = j; i < n_vocab; i += WCOS_LANES) acc += wcos_expf(x[i] - mx);
    return acc;
}

// Σ p log(p + 1e-8) over the lane (the reference's entropy term), and the count of logits above xt.
WCOS_KERN double wcos_k_lane_h(const float *x, int64_t n_vocab, int j, float mx, float inv_z, float xt, int32_t *above) {
    double acc = 0;
    int32_t k = 0;
    for (int64_t i = j; i < n_vocab; i += WCOS_LANES) {
        const float p = wcos_expf(x[i] - mx) * inv_z;
        acc += p * wcos_logf(p + 1e-8f);
        k += x[i] > xt;
    }
    *above = k;
    return acc;
}

// wcos_k_metrics_finish writes row r's metrics from the combined lanes.
WCOS_KERN void wcos_k_metrics_finish(const float *x, int64_t n_vocab, int r, int32_t t, float mx, double z, double h,
                                     int32_t above, double *entropy, double *loss, int32_t *rank) {
    entropy[r] = -h;
    if (t >= 0 && t < n_vocab) {
        loss[r] = log(z) + mx - x[t];
        rank[r] = above;
    } else {
        loss[r] = 0;
        rank[r] = 0;
    }
}

// wcos_k_metrics runs row r's lanes in turn (the emulation; the CUDA kernel runs them in parallel).
WCOS_KERN void wcos_k_metrics(const float *logits, int64_t n_vocab, int r, const int32_t *target, double *entropy,
                              double *loss, int32_t *rank) {
    const float *x = logits + (int64_t)r * n_vocab;
    const int32_t t = target[r];
    const float xt = t >= 0 && t < n_vocab ? x[t] : INFINITY;
    float mx = wcos_k_lane_max(x, n_vocab, 0);
    for (int j = 1; j < WCOS_LANES; j++) {
        const float m = wcos_k_lane_max(x, n_vocab, j);
        mx = m > mx ? m : mx;
    }
    double z = 0, h = 0;
    for (int j = 0; j < WCOS_LANES; j++) z += wcos_k_lane_z(x, n_vocab, j, mx);
    const float inv_z = (float)(1.0 / z);
    int32_t above = 0;
    for (int j = 0; j < WCOS_LANES; j++) {
        int32_t k;
        h += wcos_k_lane_h(x, n_vocab, j, mx, inv_z, xt, &k);
        above += k;
    }
    wcos_k_metrics_finish(x, n_vocab, r, t, mx, z, h, above, entropy, loss, rank);
}
#endif
