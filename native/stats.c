// Quadrant statistics of MLP activations (paper-spec §6.1), accumulated inside the eval callback.
// Sums are fixed-point __int128 (value·2^40, exact for every float32 of magnitude ≥ 2^-16), so results
// do not depend on summation order: shards merge and interrupted runs resume to identical bytes.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wcos_native.h"

#define WCOS_FIX_SCALE 1099511627776.0 /* 2^40 */

struct wcos_stats {
    int n_layer, n_ff, k;
    int8_t *sign;      // [n_layer, n_ff] refactor signs s_n (the in-sign is that of s_n·up)
    int64_t *count;    // [n_layer, 4, n_ff]
    __int128 *sum;     // [n_layer, 4, WCOS_NVARS, n_ff]
    float *top_val;    // [n_layer, 4, n_ff, k] signed post values, sorted by |v| descending
    int64_t *top_row;  // [n_layer, 4, n_ff, k]
    int32_t *top_pos;  // [n_layer, 4, n_ff, k]
    int32_t *top_n;    // [n_layer, 4, n_ff]
};

wcos_stats *wcos_stats_new(int n_layer, int n_ff, int k) {
    wcos_stats *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n_layer = n_layer;
    s->n_ff = n_ff;
    s->k = k;
    const size_t nq = (size_t)n_layer * 4 * (size_t)n_ff;
    s->sign = malloc((size_t)n_layer * (size_t)n_ff);
    s->count = calloc(nq, sizeof(int64_t));
    s->sum = calloc(nq * WCOS_NVARS, sizeof(__int128));
    s->top_val = calloc(nq * (size_t)(k > 0 ? k : 1), sizeof(float));
    s->top_row = calloc(nq * (size_t)(k > 0 ? k : 1), sizeof(int64_t));
    s->top_pos = calloc(nq * (size_t)(k > 0 ? k : 1), sizeof(int32_t));
    s->top_n = calloc(nq, sizeof(int32_t));
    if (!s->sign || !s->count || !s->sum || !s->top_val || !s->top_row || !s->top_pos || !s->top_n) {
        wcos_stats_free(s);
        return NULL;
    }
    memset(s->sign, 1, (size_t)n_layer * (size_t)n_ff);
    return s;
}

void wcos_stats_free(wcos_stats *s) {
    if (!s) return;
    free(s->sign);
    free(s->count);
    free(s->sum);
    free(s->top_val);
    free(s->top_row);
    free(s->top_pos);
    free(s->top_n);
    free(s);
}

void wcos_stats_set_signs(wcos_stats *s, int layer, const int8_t *signs) {
    memcpy(s->sign + (size_t)layer * (size_t)s->n_ff, signs, (size_t)s->n_ff);
}

// top_better orders candidates by |value| descending, then row, then position ascending: a total
// order, so the kept set is independent of the order values arrive in.
static inline int top_better(float v, int64_t row, int32_t pos, float w, int64_t wrow, int32_t wpos) {
    const float a = fabsf(v), b = fabsf(w);
    if (a != b) return a > b;
    if (row != wrow) return row < wrow;
    return pos < wpos;
}

static void top_insert(wcos_stats *s, size_t slot, float v, int64_t row, int32_t pos) {
    const int k = s->k;
    float *val = s->top_val + slot * (size_t)k;
    int64_t *rows = s->top_row + slot * (size_t)k;
    int32_t *poss = s->top_pos + slot * (size_t)k;
    int n = s->top_n[slot];
    if (n == k && !top_better(v, row, pos, val[k - 1], rows[k - 1], poss[k - 1])) return;
    int i = n < k ? n : k - 1;
    while (i > 0 && top_better(v, row, pos, val[i - 1], rows[i - 1], poss[i - 1])) {
        val[i] = val[i - 1];
        rows[i] = rows[i - 1];
        poss[i] = poss[i - 1];
        i--;
    }
    val[i] = v;
    rows[i] = row;
    poss[i] = pos;
    if (n < k) s->top_n[slot] = n + 1;
}

static inline __int128 fix(float x) { return (__int128)llrint((double)x * WCOS_FIX_SCALE); }

void wcos_stats_accumulate(wcos_stats *s, int layer, const float *gate, const float *up, const float *post,
                           int64_t ld, int rows, const int64_t *row_id, const int32_t *row_pos) {
    const int nff = s->n_ff;
    const int8_t *sign = s->sign + (size_t)layer * (size_t)nff;
    int64_t *count = s->count + (size_t)layer * 4 * (size_t)nff;
    __int128 *sum = s->sum + (size_t)layer * 4 * WCOS_NVARS * (size_t)nff;
    const size_t slot0 = (size_t)layer * 4 * (size_t)nff;
    for (int r = 0; r < rows; r++) {
        const float *g = gate + (size_t)r * (size_t)ld;
        const float *u = up + (size_t)r * (size_t)ld;
        const float *p = post + (size_t)r * (size_t)ld;
        for (int n = 0; n < nff; n++) {
            const float gv = g[n], iv = sign[n] * u[n];
            if (gv == 0 || iv == 0) continue; // strict signs; exact zeros belong to no quadrant
            const int q = (gv < 0) * 2 + (iv < 0);
            const float pv = sign[n] * p[n]; // refactored post = s_n·post
            const float sw = gv / (1.0f + expf(-gv));
            count[(size_t)q * nff + n]++;
            __int128 *sq = sum + (size_t)q * WCOS_NVARS * nff;
            sq[(size_t)WCOS_VAR_POST * nff + n] += fix(pv);
            sq[(size_t)WCOS_VAR_GATE * nff + n] += fix(gv);
            sq[(size_t)WCOS_VAR_IN * nff + n] += fix(iv);
            sq[(size_t)WCOS_VAR_SWISH * nff + n] += fix(sw);
            if (s->k > 0) top_insert(s, slot0 + (size_t)q * nff + n, pv, row_id[r], row_pos[r]);
        }
    }
}

// Merge b into a (same shape): counts and sums add, top-k lists merge under the total order.
int wcos_stats_merge(wcos_stats *a, const wcos_stats *b) {
    if (a->n_layer != b->n_layer || a->n_ff != b->n_ff || a->k != b->k) return -1;
    const size_t nq = (size_t)a->n_layer * 4 * (size_t)a->n_ff;
    for (size_t i = 0; i < nq; i++) a->count[i] += b->count[i];
    for (size_t i = 0; i < nq * WCOS_NVARS; i++) a->sum[i] += b->sum[i];
    for (size_t slot = 0; slot < nq; slot++)
        for (int j = 0; j < b->top_n[slot]; j++) {
            const size_t o = slot * (size_t)b->k + (size_t)j;
            top_insert(a, slot, b->top_val[o], b->top_row[o], b->top_pos[o]);
        }
    return 0;
}

size_t wcos_stats_len(const wcos_stats *s, int what) {
    const size_t nq = (size_t)s->n_layer * 4 * (size_t)s->n_ff;
    switch (what) {
    case WCOS_STAT_COUNT: return nq;
    case WCOS_STAT_SUM: return nq * WCOS_NVARS;
    case WCOS_STAT_TOP: return nq * (size_t)s->k;
    case WCOS_STAT_TOPN: return nq;
    }
    return 0;
}

// Export/import as plain arrays: sums as (hi, lo) int64 pairs, so a checkpoint stores them exactly.
void wcos_stats_export(const wcos_stats *s, int64_t *count, int64_t *sum_hi, uint64_t *sum_lo, float *top_val,
                       int64_t *top_row, int32_t *top_pos, int32_t *top_n) {
    const size_t nq = wcos_stats_len(s, WCOS_STAT_COUNT), ns = wcos_stats_len(s, WCOS_STAT_SUM),
                 nt = wcos_stats_len(s, WCOS_STAT_TOP);
    memcpy(count, s->count, nq * sizeof(int64_t));
    for (size_t i = 0; i < ns; i++) {
        sum_hi[i] = (int64_t)(s->sum[i] >> 64);
        sum_lo[i] = (uint64_t)s->sum[i];
    }
    memcpy(top_val, s->top_val, nt * sizeof(float));
    memcpy(top_row, s->top_row, nt * sizeof(int64_t));
    memcpy(top_pos, s->top_pos, nt * sizeof(int32_t));
    memcpy(top_n, s->top_n, nq * sizeof(int32_t));
}

void wcos_stats_import(wcos_stats *s, const int64_t *count, const int64_t *sum_hi, const uint64_t *sum_lo,
                       const float *top_val, const int64_t *top_row, const int32_t *top_pos, const int32_t *top_n) {
    const size_t nq = wcos_stats_len(s, WCOS_STAT_COUNT), ns = wcos_stats_len(s, WCOS_STAT_SUM),
                 nt = wcos_stats_len(s, WCOS_STAT_TOP);
    memcpy(s->count, count, nq * sizeof(int64_t));
    for (size_t i = 0; i < ns; i++) s->sum[i] = ((__int128)sum_hi[i] << 64) | (__int128)sum_lo[i];
    memcpy(s->top_val, top_val, nt * sizeof(float));
    memcpy(s->top_row, top_row, nt * sizeof(int64_t));
    memcpy(s->top_pos, top_pos, nt * sizeof(int32_t));
    memcpy(s->top_n, top_n, nq * sizeof(int32_t));
}

// Means: sum/count for each (layer, quadrant, var, neuron) in float64; NaN where count is 0.
void wcos_stats_means(const wcos_stats *s, double *out) {
    const int nff = s->n_ff;
    for (int l = 0; l < s->n_layer; l++)
        for (int q = 0; q < 4; q++) {
            const int64_t *c = s->count + ((size_t)l * 4 + (size_t)q) * (size_t)nff;
            const __int128 *sq = s->sum + ((size_t)l * 4 + (size_t)q) * WCOS_NVARS * (size_t)nff;
            double *o = out + ((size_t)l * 4 + (size_t)q) * WCOS_NVARS * (size_t)nff;
            for (size_t i = 0; i < (size_t)WCOS_NVARS * (size_t)nff; i++) {
                const int64_t cn = c[i % (size_t)nff];
                o[i] = cn ? (double)((long double)sq[i] / WCOS_FIX_SCALE / (long double)cn) : NAN;
            }
        }
}
