// Quadrant statistics of MLP activations (paper-spec §6.1), accumulated inside the eval callback.
// Sums are fixed-point __int128 (value·2^40, exact for every float32 of magnitude ≥ 2^-16), so results
// do not depend on summation order: shards merge and interrupted runs resume to identical bytes.
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devkern.h"
#include "wcos_dev.h"
#include "wcos_native.h"

#define WCOS_FIX_SCALE 1099511627776.0 /* 2^40 */

struct wcos_stats {
    int n_layer, n_ff, k;
    int threads;       // neurons are split over this many threads (each neuron's state is its own)
    int8_t *sign;      // [n_layer, n_ff] refactor signs s_n (the in-sign is that of s_n·up)
    int64_t *count;    // [n_layer, 4, n_ff]
    __int128 *sum;     // [n_layer, 4, WCOS_NVARS, n_ff]
    float *top_val;    // [n_layer, 4, n_ff, k] signed post values, sorted by |v| descending
    int64_t *top_row;  // [n_layer, 4, n_ff, k]
    int32_t *top_pos;  // [n_layer, 4, n_ff, k]
    int32_t *top_n;    // [n_layer, 4, n_ff]
    float *top_min;    // [n_layer, 4, n_ff] |value| of a full list's last entry: a compact first test
                       // that spares a cache miss into top_val for almost every token
    void (*pending)(void *); // folds counts and sums still held on a device into this state
    void *pending_arg;
};

// settle brings in what a device still holds (wcos_stats_set_pending) before the state is read.
static void settle(const wcos_stats *s) {
    if (s->pending) s->pending(s->pending_arg);
}

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
    s->top_min = calloc(nq, sizeof(float));
    if (!s->sign || !s->count || !s->sum || !s->top_val || !s->top_row || !s->top_pos || !s->top_n || !s->top_min) {
        wcos_stats_free(s);
        return NULL;
    }
    memset(s->sign, 1, (size_t)n_layer * (size_t)n_ff);
    s->threads = 1;
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
    free(s->top_min);
    free(s);
}

void wcos_stats_set_signs(wcos_stats *s, int layer, const int8_t *signs) {
    memcpy(s->sign + (size_t)layer * (size_t)s->n_ff, signs, (size_t)s->n_ff);
}

// top_insert keeps the k best under devkern.h's wcos_k_better — |value| descending, then row, then
// position ascending: a total order, so the kept set is independent of the order values arrive in, and
// the device path's candidates merge to the same lists.
static void top_insert(wcos_stats *s, size_t slot, float v, int64_t row, int32_t pos) {
    const int k = s->k;
    float *val = s->top_val + slot * (size_t)k;
    int64_t *rows = s->top_row + slot * (size_t)k;
    int32_t *poss = s->top_pos + slot * (size_t)k;
    int n = s->top_n[slot];
    if (n == k && !wcos_k_better(v, row, pos, val[k - 1], rows[k - 1], poss[k - 1])) return;
    int i = n < k ? n : k - 1;
    while (i > 0 && wcos_k_better(v, row, pos, val[i - 1], rows[i - 1], poss[i - 1])) {
        val[i] = val[i - 1];
        rows[i] = rows[i - 1];
        poss[i] = poss[i - 1];
        i--;
    }
    val[i] = v;
    rows[i] = row;
    poss[i] = pos;
    if (n < k) s->top_n[slot] = ++n;
    if (n == k) s->top_min[slot] = fabsf(val[k - 1]);
}

// x·2^40 is an integer for every float32 of magnitude ≥ 2^-16 (24-bit mantissa), so truncation is exact
// there; smaller values round toward zero, identically on every run (devkern.h's wcos_k_fix, shared
// with the device path). A cast, not llrint: a libm call per value was the statistics' largest cost.
static inline __int128 fix(float x) { return (__int128)wcos_k_fix(x); }

void wcos_stats_set_threads(wcos_stats *s, int threads) { s->threads = threads > 0 ? threads : 1; }

typedef struct {
    wcos_stats *s;
    int layer, n0, n1, rows;
    const float *gate, *up, *post;
    int64_t ld;
    const int64_t *row_id;
    const int32_t *row_pos;
} accum_job;

// accumulate_range updates neurons [n0, n1) for every row. Each neuron's counts, sums and top-k are
// touched by one thread only, so splitting neurons over threads changes no result.
static void accumulate_range(const accum_job *j) {
    wcos_stats *s = j->s;
    const int nff = s->n_ff;
    const int8_t *sign = s->sign + (size_t)j->layer * (size_t)nff;
    int64_t *count = s->count + (size_t)j->layer * 4 * (size_t)nff;
    __int128 *sum = s->sum + (size_t)j->layer * 4 * WCOS_NVARS * (size_t)nff;
    const size_t slot0 = (size_t)j->layer * 4 * (size_t)nff;
    // Blocks of 16 neurons (one cache line of each input row) over all rows: the block's accumulators
    // stay in L1 while the rows stream past. Sums are exact and top-k has a total order, so the visiting
    // order changes nothing.
    enum { BLOCK = 16 };
    for (int b0 = j->n0; b0 < j->n1; b0 += BLOCK) {
        const int b1 = b0 + BLOCK < j->n1 ? b0 + BLOCK : j->n1;
        for (int r = 0; r < j->rows; r++) {
            const float *g = j->gate + (size_t)r * (size_t)j->ld;
            const float *u = j->up + (size_t)r * (size_t)j->ld;
            const float *p = j->post + (size_t)r * (size_t)j->ld;
            for (int n = b0; n < b1; n++) {
                const float gv = g[n], uv = u[n];
                if (gv == 0 || uv == 0) continue; // strict signs; exact zeros belong to no quadrant
                const float iv = sign[n] * uv;
                const int q = (gv < 0) * 2 + (iv < 0);
                const float pv = sign[n] * p[n]; // refactored post = s_n·post
                const float sw = p[n] / uv;      // silu(gate), recovered from post = silu(gate)·up
                count[(size_t)q * nff + n]++;
                __int128 *sq = sum + (size_t)q * WCOS_NVARS * nff;
                sq[(size_t)WCOS_VAR_POST * nff + n] += fix(pv);
                sq[(size_t)WCOS_VAR_GATE * nff + n] += fix(gv);
                sq[(size_t)WCOS_VAR_IN * nff + n] += fix(iv);
                sq[(size_t)WCOS_VAR_SWISH * nff + n] += fix(sw);
                const size_t slot = slot0 + (size_t)q * nff + n;
                if (s->k > 0 && (s->top_n[slot] < s->k || fabsf(pv) >= s->top_min[slot]))
                    top_insert(s, slot, pv, j->row_id[r], j->row_pos[r]);
            }
        }
    }
}

static void *accumulate_thread(void *arg) {
    accumulate_range(arg);
    return NULL;
}

enum { MAX_THREADS = 64 };

// threads_for is how many of the statistics' threads a job of `work` elements gets (1: not worth one).
static int threads_for(const wcos_stats *s, int64_t work) {
    if (work < 65536) return 1;
    return s->threads < MAX_THREADS ? s->threads : MAX_THREADS;
}

// run_jobs runs fn over jobs[0..t) (each `size` bytes), jobs[1..) on their own threads, jobs[0] and
// any that could not get a thread on the caller's.
static void run_jobs(void *(*fn)(void *), void *jobs, size_t size, int t) {
    pthread_t tid[MAX_THREADS];
    int started = 0;
    for (int i = 1; i < t; i++) {
        if (pthread_create(&tid[i], NULL, fn, (char *)jobs + (size_t)i * size) != 0) break;
        started = i;
    }
    fn(jobs);
    for (int i = started + 1; i < t; i++) fn((char *)jobs + (size_t)i * size);
    for (int i = 1; i <= started; i++) pthread_join(tid[i], NULL);
}

void wcos_stats_accumulate(wcos_stats *s, int layer, const float *gate, const float *up, const float *post,
                           int64_t ld, int rows, const int64_t *row_id, const int32_t *row_pos) {
    const int t = threads_for(s, (int64_t)rows * s->n_ff);
    accum_job jobs[MAX_THREADS];
    for (int i = 0; i < t; i++) {
        jobs[i] = (accum_job){s, layer, (int)((int64_t)s->n_ff * i / t), (int)((int64_t)s->n_ff * (i + 1) / t), rows,
                              gate, up, post, ld, row_id, row_pos};
    }
    run_jobs(accumulate_thread, jobs, sizeof jobs[0], t);
}

// Merge b into a (same shape): counts and sums add, top-k lists merge under the total order.
int wcos_stats_merge(wcos_stats *a, const wcos_stats *b) {
    if (a->n_layer != b->n_layer || a->n_ff != b->n_ff || a->k != b->k) return -1;
    settle(a);
    settle(b);
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
    settle(s);
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
    settle(s); // pending sums belong to the state being replaced
    const size_t nq = wcos_stats_len(s, WCOS_STAT_COUNT), ns = wcos_stats_len(s, WCOS_STAT_SUM),
                 nt = wcos_stats_len(s, WCOS_STAT_TOP);
    memcpy(s->count, count, nq * sizeof(int64_t));
    for (size_t i = 0; i < ns; i++) s->sum[i] = ((__int128)sum_hi[i] << 64) | (__int128)sum_lo[i];
    memcpy(s->top_val, top_val, nt * sizeof(float));
    memcpy(s->top_row, top_row, nt * sizeof(int64_t));
    memcpy(s->top_pos, top_pos, nt * sizeof(int32_t));
    memcpy(s->top_n, top_n, nq * sizeof(int32_t));
    for (size_t slot = 0; slot < nq; slot++)
        s->top_min[slot] = s->top_n[slot] == s->k && s->k > 0 ? fabsf(s->top_val[slot * (size_t)s->k + (size_t)s->k - 1]) : 0;
}

// Means: sum/count for each (layer, quadrant, var, neuron) in float64; NaN where count is 0.
void wcos_stats_means(const wcos_stats *s, double *out) {
    settle(s);
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

// --- The device path (wcos_dev.h): hooks.c folds a call's exact sums and top-k candidates in here.

int wcos_stats_k(const wcos_stats *s) { return s->k; }

void wcos_stats_set_pending(wcos_stats *s, void (*fn)(void *), void *arg) {
    s->pending = fn;
    s->pending_arg = arg;
}

const int8_t *wcos_stats_signs(const wcos_stats *s, int layer) { return s->sign + (size_t)layer * (size_t)s->n_ff; }

void wcos_stats_fold(wcos_stats *s, int layer, const uint64_t *count, const uint64_t *sum_lo, const uint64_t *sum_hi) {
    const size_t nq = 4 * (size_t)s->n_ff;
    int64_t *c = s->count + (size_t)layer * nq;
    __int128 *sum = s->sum + (size_t)layer * nq * WCOS_NVARS;
    for (size_t i = 0; i < nq; i++) c[i] += (int64_t)count[i];
    for (size_t i = 0; i < nq * WCOS_NVARS; i++) sum[i] += (__int128)(((unsigned __int128)sum_hi[i] << 64) | sum_lo[i]);
}

void wcos_stats_tmin(const wcos_stats *s, int layer, float *tmin) {
    const size_t nq = 4 * (size_t)s->n_ff, slot0 = (size_t)layer * nq;
    for (size_t i = 0; i < nq; i++) tmin[i] = s->top_n[slot0 + i] < s->k ? -1.0f : s->top_min[slot0 + i];
}

typedef struct {
    wcos_stats *s;
    int layer, lo, hi; // slots (quadrant·n_ff + neuron) this job owns
    const wcos_cand *c;
    int64_t n;
    const int64_t *row_id;
    const int32_t *row_pos;
} offer_job;

static void *offer_range(void *arg) {
    const offer_job *j = arg;
    const size_t slot0 = (size_t)j->layer * 4 * (size_t)j->s->n_ff;
    for (int64_t i = 0; i < j->n; i++) {
        const wcos_cand *c = &j->c[i];
        if (c->slot < j->lo || c->slot >= j->hi) continue;
        top_insert(j->s, slot0 + (size_t)c->slot, c->v, j->row_id[c->r], j->row_pos[c->r]);
    }
    return NULL;
}

// wcos_stats_offer inserts candidates of one layer into the top-k lists; threads own slot ranges, and
// the order is total, so the lists do not depend on the candidates' order or the thread count.
void wcos_stats_offer(wcos_stats *s, int layer, const wcos_cand *c, int64_t n, const int64_t *row_id,
                      const int32_t *row_pos) {
    const int t = threads_for(s, n);
    const int nq = 4 * s->n_ff;
    offer_job jobs[MAX_THREADS];
    for (int i = 0; i < t; i++)
        jobs[i] = (offer_job){s, layer, (int)((int64_t)nq * i / t), (int)((int64_t)nq * (i + 1) / t), c, n, row_id, row_pos};
    run_jobs(offer_range, jobs, sizeof jobs[0], t);
}
