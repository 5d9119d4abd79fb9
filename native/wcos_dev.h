// Device hooks: what the eval callback (hooks.c) runs on tensors that live in GPU memory, so that only
// reductions (counts, sums, top-k candidates, per-token metrics) cross to the host. One table of entry
// points, implemented by libwcos-cuda.so (native/cuda/wcos_cuda.cu, dlopened beside libggml-cuda.so)
// and, for the CPU tests, by a host emulation (devemu.c) running the same kernel bodies (devkern.h).
// Pointers marked "device" come from the table's alloc or are tensor->data; every call has finished
// its work when it returns (the callback returns to ggml, whose next kernel reads what we wrote).
#ifndef WCOS_DEV_H
#define WCOS_DEV_H
#include <stddef.h>
#include <stdint.h>

#include "wcos_native.h" // WCOS_NVARS, WCOS_VAR_*

#define WCOS_KMAX 32 /* the largest top-k the device kernels keep per thread */

/* libwcos-cuda.so exports its table under a name that carries the table's version: bump it with any
   change to wcos_dev_ops or its arguments, so that hooks.c refuses a library built from other sources
   (which would read the arguments wrongly) instead of calling it. Version 2: scale's rms. */
#define WCOS_CUDA_OPS wcos_cuda_ops_v2
#define WCOS_STR_(x) #x
#define WCOS_STR(x) WCOS_STR_(x)

typedef struct {
    float v;      // signed (refactored) post value
    int32_t r;    // row within the call
    int32_t slot; // quadrant·n_ff + neuron
} wcos_cand;

// Arguments of one quadrant-statistics call (all pointers device memory).
typedef struct {
    const float *gate, *up, *post; // [rows, ld]
    int64_t ld;
    int rows, n_ff, k;
    int rows_per_thread;
    const int8_t *sign;      // [n_ff] refactor signs
    const float *tmin;       // [4, n_ff] a candidate needs |post| >= tmin; < 0: list not full
    const int64_t *row_id;   // [rows] data-set row of each token
    const int32_t *row_pos;  // [rows] its position
    uint64_t *count;         // [4, n_ff], added to
    uint64_t *sum_lo;        // [4, WCOS_NVARS, n_ff] low words of 128-bit fixed-point sums, added to
    uint64_t *sum_hi;        // same, high words
    wcos_cand *cand;         // [cap] candidates; *ncand counts all offered, also beyond cap
    uint64_t *ncand;
    int64_t cap;
} wcos_quad_args;

typedef struct wcos_dev_ops {
    const char *name;
    // The device holding p, or -1 when p is not device memory of this implementation.
    int (*device_of)(const void *p);
    void *(*alloc)(int device, size_t n);
    void (*release)(void *p);
    // Host memory for downloads (pinned on CUDA: twice the bandwidth of pageable memory).
    void *(*host_alloc)(size_t n);
    void (*host_release)(void *p);
    int (*upload)(void *dst, const void *src, size_t n);
    int (*download)(void *dst, const void *src, size_t n);
    int (*zero)(void *dst, size_t n);
    // Adds n 128-bit values (lo, hi word arrays) and n counts into totals (all device memory).
    int (*accumulate)(uint64_t *tot_lo, uint64_t *tot_hi, const uint64_t *lo, const uint64_t *hi, size_t n,
                      uint64_t *tot_count, const uint64_t *count, size_t n_count);
    // post[r, idx[i]] = val[i] where the conditions hold (devkern.h wcos_k_ablate).
    int (*ablate)(const float *gate, float *post, int64_t ld, int rows, const int32_t *idx, const float *val,
                  const int8_t *sign, int n, int gate_cond, int post_cond);
    // dst[r, i] = src[r, idx[i]] for rows × n (dst device, [rows, n]).
    int (*gather)(const float *src, int64_t ld, int rows, const int32_t *idx, int n, float *dst);
    int (*quadrants)(const wcos_quad_args *a);
    // out[r] = sqrt(var(x_r) + eps), or sqrt(mean(x_r²) + eps) when rms (out device, [rows]).
    int (*scale)(const float *x, int64_t n_embd, int rows, float eps, int rms, float *out);
    // Per-token metrics of logits [rows, n_vocab] (outputs device, [rows]); target[r] < 0: none.
    int (*metrics)(const float *logits, int64_t n_vocab, int rows, const int32_t *target, double *entropy,
                   double *loss, int32_t *rank);
    // The last error, for messages.
    const char *(*error)(void);
} wcos_dev_ops;

// stats.c's side of the device path: a call's accumulators ([4, n_ff] counts, [4, WCOS_NVARS, n_ff]
// sum words) and candidates are folded into the exact host state; tmin ([4, n_ff]) is what a
// candidate must reach; signs are the layer's refactor signs.
int wcos_stats_k(const wcos_stats *s);
// fn(arg) folds counts and sums a device still holds into s; stats.c calls it before s is read,
// merged or replaced (NULL: none pending).
void wcos_stats_set_pending(wcos_stats *s, void (*fn)(void *), void *arg);
const int8_t *wcos_stats_signs(const wcos_stats *s, int layer);
void wcos_stats_fold(wcos_stats *s, int layer, const uint64_t *count, const uint64_t *sum_lo, const uint64_t *sum_hi);
void wcos_stats_tmin(const wcos_stats *s, int layer, float *tmin);
void wcos_stats_offer(wcos_stats *s, int layer, const wcos_cand *c, int64_t n, const int64_t *row_id,
                      const int32_t *row_pos);

// The host emulation (devemu.c).
extern const wcos_dev_ops wcos_emu_ops;
#endif
