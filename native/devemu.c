// Host emulation of the device hooks (wcos_dev.h): "device memory" is malloc'd host memory and each
// launch runs the kernel bodies of devkern.h over every thread index in turn, as wcos_cuda.cu's grids
// do. The CPU tests force the hooks onto this table to check the device path — the hooks' buffer
// management, the fixed-point folding, the top-k candidates — against the host path.
#include <stdlib.h>
#include <string.h>

#include "devkern.h"
#include "wcos_dev.h"

static int emu_device_of(const void *p) { return p ? 0 : -1; }
static void *emu_alloc(int device, size_t n) {
    (void)device;
    return malloc(n ? n : 1);
}
static void emu_release(void *p) { free(p); }
static int emu_copy(void *dst, const void *src, size_t n) {
    memmove(dst, src, n);
    return 0;
}
static int emu_zero(void *dst, size_t n) {
    memset(dst, 0, n);
    return 0;
}

static int emu_accumulate(uint64_t *tot_lo, uint64_t *tot_hi, const uint64_t *lo, const uint64_t *hi, size_t n,
                          uint64_t *tot_count, const uint64_t *count, size_t n_count) {
    for (size_t i = 0; i < (n > n_count ? n : n_count); i++)
        wcos_k_accumulate(tot_lo, tot_hi, lo, hi, n, tot_count, count, n_count, i);
    return 0;
}

static int emu_ablate(const float *gate, float *post, int64_t ld, int rows, const int32_t *idx, const float *val,
                      const int8_t *sign, int n, int gate_cond, int post_cond) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) wcos_k_ablate(gate, post, ld, r, idx[i], val[i], sign[i], gate_cond, post_cond);
    return 0;
}

static int emu_gather(const float *src, int64_t ld, int rows, const int32_t *idx, int n, float *dst) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) dst[(int64_t)r * n + i] = src[(int64_t)r * ld + idx[i]];
    return 0;
}

static int emu_quadrants(const wcos_quad_args *a) {
    const int rpt = a->rows_per_thread > 0 ? a->rows_per_thread : a->rows;
    for (int r0 = 0; r0 < a->rows; r0 += rpt)
        for (int n = 0; n < a->n_ff; n++) wcos_k_quadrants(a, n, r0, r0 + rpt < a->rows ? r0 + rpt : a->rows);
    return 0;
}

static int emu_scale(const float *x, int64_t n_embd, int rows, float eps, int rms, float *out) {
    for (int r = 0; r < rows; r++) out[r] = wcos_k_scale(x, n_embd, r, eps, rms);
    return 0;
}

static int emu_metrics(const float *logits, int64_t n_vocab, int rows, const int32_t *target, double *entropy,
                       double *loss, int32_t *rank) {
    for (int r = 0; r < rows; r++) wcos_k_metrics(logits, n_vocab, r, target, entropy, loss, rank);
    return 0;
}

static const char *emu_error(void) { return "emulation error"; }

const wcos_dev_ops wcos_emu_ops = {
    .name = "host emulation",
    .device_of = emu_device_of,
    .alloc = emu_alloc,
    .release = emu_release,
    .host_alloc = malloc,
    .host_release = free,
    .upload = emu_copy,
    .download = emu_copy,
    .zero = emu_zero,
    .accumulate = emu_accumulate,
    .ablate = emu_ablate,
    .gather = emu_gather,
    .quadrants = emu_quadrants,
    .scale = emu_scale,
    .metrics = emu_metrics,
    .error = emu_error,
};
