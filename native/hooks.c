#define _GNU_SOURCE // dladdr
#include "wcos_native.h"

#include <dlfcn.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devkern.h"
#include "wcos_dev.h"

#include "ggml-backend.h"
#include "ggml.h"

// The device path's buffers (device memory of the table in use), grown on demand.
// DB_COUNT/SUMLO/SUMHI hold one call's statistics, DB_TCOUNT/TLO/THI every layer's totals not yet
// folded into the host state (wcos_stats_set_pending).
enum dbuf { DB_IDX, DB_VAL, DB_SIGN, DB_SIGNS, DB_TMIN, DB_ROWID, DB_ROWPOS, DB_COUNT, DB_SUMLO, DB_SUMHI, DB_TCOUNT,
            DB_TLO, DB_THI, DB_CAND, DB_NCAND, DB_OUT, DB_TGT, DB_MET, DB_N };

typedef struct {
    // capture
    int n_cap;
    int32_t *cap_idx;             // NULL: all neurons in order
    float *cap[WCOS_NKINDS];      // [max_rows, n_cap]
    // ablation
    int n_abl;
    int32_t *abl_idx;
    float *abl_val;
    int8_t *abl_sign;
    int rows_seen;
} wcos_layer;

struct wcos_hooks {
    int n_layer, n_ff, n_embd, max_rows;
    float norm_eps;
    int norm_rms;                 // the final norm is an RMSNorm (else a LayerNorm)
    int gate_cond, post_cond;
    bool want_scale;
    float *scale;                 // [max_rows]
    int scale_rows;
    wcos_layer *layers;
    wcos_stats *stats;            // quadrant statistics of every layer, or NULL
    int64_t *row_id;              // [max_rows] data-set row of each token of the decode
    int32_t *row_pos;             // [max_rows] its position in the row
    float *scratch[WCOS_NKINDS];  // host copies for device tensors, [max_rows, n_ff]
    // Per-token metrics computed in the callback from the logits node (device path only), once
    // wcos_hooks_targets has been called.
    int32_t *target;              // [max_rows] next-token targets of the decode
    double *ent, *loss;           // [max_rows]
    int32_t *rank;                // [max_rows]
    int metrics_rows;
    // The device path (wcos_dev.h): the table in use, its device and buffers.
    const wcos_dev_ops *dev;
    int dev_id;
    bool emulate;                 // host tensors go through wcos_emu_ops (tests)
    bool host_only;               // WCOS_DEVICE_HOOKS=0: device tensors take the host path too
    int rows_per_thread;          // quadrant statistics: rows per device thread
    int64_t cand_cap;             // candidate capacity (grows on demand)
    void *db[DB_N];
    size_t db_size[DB_N];
    void *stage;                  // host staging for downloads
    size_t stage_size;
    bool *pending;                // [n_layer] the layer has device totals not yet folded into stats
    // The residual stream after each layer (l_out-L, hook_resid_post), captured when want_resid.
    bool want_resid;
    float *resid;                 // [n_layer, max_rows, n_embd]
    int *resid_rows;              // [n_layer] rows captured in the current decode
    // A non-gated MLP: ggml computes its activation in place over the pre-activation, so the
    // pre-activation (ffn_up, or ffn_up_b with a bias) is copied here when it is computed.
    bool vanilla;
    float *pre;                   // [max_rows, n_ff]
    int pre_layer, pre_rows;      // whose rows it holds (-1: none)
    char err[256];
};

wcos_hooks *wcos_hooks_new(int n_layer, int n_ff, int n_embd, int max_rows, float norm_eps, int norm_rms) {
    wcos_hooks *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->n_layer = n_layer;
    h->n_ff = n_ff;
    h->n_embd = n_embd;
    h->max_rows = max_rows;
    h->norm_eps = norm_eps;
    h->norm_rms = norm_rms;
    h->rows_per_thread = 512;
    const char *dh = getenv("WCOS_DEVICE_HOOKS");
    h->host_only = dh && strcmp(dh, "0") == 0;
    h->cand_cap = 1 << 20;
    h->pre_layer = -1;
    h->layers = calloc((size_t)n_layer, sizeof *h->layers);
    if (!h->layers) {
        free(h);
        return NULL;
    }
    return h;
}

void wcos_hooks_free(wcos_hooks *h) {
    if (!h) return;
    for (int l = 0; l < h->n_layer; l++) {
        wcos_layer *L = &h->layers[l];
        free(L->cap_idx);
        for (int k = 0; k < WCOS_NKINDS; k++) free(L->cap[k]);
        free(L->abl_idx);
        free(L->abl_val);
        free(L->abl_sign);
    }
    for (int k = 0; k < WCOS_NKINDS; k++) free(h->scratch[k]);
    free(h->pre);
    wcos_hooks_stats(h, NULL); // folds what the device still holds
    free(h->pending);
    for (int i = 0; i < DB_N; i++)
        if (h->db[i]) h->dev->release(h->db[i]);
    if (h->stage) h->dev->host_release(h->stage);
    free(h->target);
    free(h->ent);
    free(h->loss);
    free(h->rank);
    free(h->scale);
    free(h->resid);
    free(h->resid_rows);
    free(h->row_id);
    free(h->row_pos);
    free(h->layers);
    free(h);
}

static int set_err(wcos_hooks *h, const char *msg, int a, int b) {
    snprintf(h->err, sizeof h->err, msg, a, b);
    return -1;
}

void wcos_hooks_set_vanilla(wcos_hooks *h, bool vanilla) { h->vanilla = vanilla; }

// save_pre copies a non-gated MLP's pre-activation (rows × n_ff) before its activation overwrites it.
static bool save_pre(wcos_hooks *h, struct ggml_tensor *t, int layer) {
    const int rows = (int)t->ne[1];
    if (t->type != GGML_TYPE_F32 || t->ne[0] != h->n_ff || t->ne[2] != 1 || t->ne[3] != 1 || !ggml_is_contiguous(t) ||
        rows > h->max_rows) {
        set_err(h, "unexpected MLP pre-activation layout in layer %d (n_ff %d)", layer, (int)t->ne[0]);
        return false;
    }
    if (!h->pre && !(h->pre = malloc(sizeof(float) * (size_t)h->max_rows * (size_t)h->n_ff))) {
        set_err(h, "out of memory for layer %d's pre-activation", layer, 0);
        return false;
    }
    if (t->buffer == NULL || ggml_backend_buffer_is_host(t->buffer))
        memcpy(h->pre, t->data, ggml_nbytes(t));
    else
        ggml_backend_tensor_get(t, h->pre, 0, ggml_nbytes(t));
    h->pre_layer = layer;
    h->pre_rows = rows;
    return true;
}

static int check_idx(wcos_hooks *h, int layer, const int32_t *idx, int n) {
    if (layer < 0 || layer >= h->n_layer) return set_err(h, "layer %d out of range [0,%d)", layer, h->n_layer);
    for (int i = 0; idx && i < n; i++)
        if (idx[i] < 0 || idx[i] >= h->n_ff) return set_err(h, "neuron %d out of range [0,%d)", idx[i], h->n_ff);
    return 0;
}

int wcos_hooks_capture(wcos_hooks *h, int layer, const int32_t *idx, int n) {
    if (check_idx(h, layer, idx, n)) return -1;
    wcos_layer *L = &h->layers[layer];
    free(L->cap_idx);
    L->cap_idx = NULL;
    for (int k = 0; k < WCOS_NKINDS; k++) {
        free(L->cap[k]);
        L->cap[k] = NULL;
    }
    if (n < 0) {
        n = h->n_ff;
    } else if (n > 0) {
        L->cap_idx = malloc(sizeof(int32_t) * (size_t)n);
        memcpy(L->cap_idx, idx, sizeof(int32_t) * (size_t)n);
    }
    L->n_cap = n;
    for (int k = 0; k < WCOS_NKINDS && n > 0; k++) {
        L->cap[k] = calloc((size_t)h->max_rows * (size_t)n, sizeof(float));
        if (!L->cap[k]) return set_err(h, "out of memory capturing layer %d (%d neurons)", layer, n);
    }
    return 0;
}

const float *wcos_hooks_captured(const wcos_hooks *h, int layer, int kind) {
    if (layer < 0 || layer >= h->n_layer || kind < 0 || kind >= WCOS_NKINDS) return NULL;
    return h->layers[layer].cap[kind];
}

int wcos_hooks_ablate(wcos_hooks *h, int layer, const int32_t *idx, const float *values, const int8_t *signs, int n) {
    if (check_idx(h, layer, idx, n)) return -1;
    wcos_layer *L = &h->layers[layer];
    free(L->abl_idx);
    free(L->abl_val);
    free(L->abl_sign);
    L->abl_idx = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    L->abl_val = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    L->abl_sign = malloc((size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        L->abl_idx[i] = idx[i];
        if (values) L->abl_val[i] = values[i];
        L->abl_sign[i] = (signs && signs[i] < 0) ? -1 : 1;
    }
    L->n_abl = n;
    return 0;
}

void wcos_hooks_condition(wcos_hooks *h, int gate, int post) {
    h->gate_cond = gate;
    h->post_cond = post;
}

void wcos_hooks_scale(wcos_hooks *h, bool on) {
    h->want_scale = on;
    if (on && !h->scale) h->scale = calloc((size_t)h->max_rows, sizeof(float));
}

const float *wcos_hooks_scales(const wcos_hooks *h) { return h->scale; }

int wcos_hooks_residual(wcos_hooks *h, bool on) {
    h->want_resid = on;
    if (!on || h->resid) return 0;
    h->resid = malloc(sizeof(float) * (size_t)h->n_layer * (size_t)h->max_rows * (size_t)h->n_embd);
    h->resid_rows = calloc((size_t)h->n_layer, sizeof(int));
    if (!h->resid || !h->resid_rows) {
        free(h->resid);
        free(h->resid_rows);
        h->resid = NULL;
        h->resid_rows = NULL;
        h->want_resid = false;
        return set_err(h, "out of memory for the residual stream (%d layers × %d rows)", h->n_layer, h->max_rows);
    }
    return 0;
}

const float *wcos_hooks_residuals(const wcos_hooks *h, int layer) {
    if (!h->resid || layer < 0 || layer >= h->n_layer) return NULL;
    return h->resid + (size_t)layer * (size_t)h->max_rows * (size_t)h->n_embd;
}

int wcos_hooks_residual_rows(const wcos_hooks *h, int layer) {
    if (!h->resid_rows || layer < 0 || layer >= h->n_layer) return 0;
    return h->resid_rows[layer];
}

int wcos_hooks_begin(wcos_hooks *h, int n_rows) {
    if (n_rows > h->max_rows) return set_err(h, "decode of %d tokens exceeds the hook capacity %d", n_rows, h->max_rows);
    for (int l = 0; l < h->n_layer; l++) h->layers[l].rows_seen = 0;
    h->scale_rows = 0;
    h->metrics_rows = 0;
    if (h->resid_rows) memset(h->resid_rows, 0, sizeof(int) * (size_t)h->n_layer);
    h->err[0] = 0;
    return 0;
}

int wcos_hooks_rows_seen(const wcos_hooks *h, int layer) { return h->layers[layer].rows_seen; }

static bool layer_active(const wcos_hooks *h, const wcos_layer *L);

int wcos_hooks_layer_active(const wcos_hooks *h, int layer) { return layer_active(h, &h->layers[layer]); }

const char *wcos_hooks_error(const wcos_hooks *h) { return h->err[0] ? h->err : NULL; }

// parse_node returns the layer of "<prefix>-L", or -1.
static int parse_node(const char *name, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] != '-') return -1;
    char *end;
    long l = strtol(name + n + 1, &end, 10);
    if (*end != 0 || end == name + n + 1) return -1;
    return (int)l;
}

static void flush_stats(void *arg);

void wcos_hooks_stats(wcos_hooks *h, wcos_stats *s) {
    if (h->stats && h->stats != s) {
        flush_stats(h);
        wcos_stats_set_pending(h->stats, NULL, NULL);
    }
    h->stats = s;
    if (s && !h->row_id) {
        h->row_id = calloc((size_t)h->max_rows, sizeof(int64_t));
        h->row_pos = calloc((size_t)h->max_rows, sizeof(int32_t));
    }
}

int wcos_hooks_positions(wcos_hooks *h, const int64_t *row_id, const int32_t *row_pos, int n) {
    if (!h->row_id) return set_err(h, "positions given without statistics attached", 0, 0);
    if (n > h->max_rows) return set_err(h, "%d positions exceed the hook capacity %d", n, h->max_rows);
    memcpy(h->row_id, row_id, sizeof(int64_t) * (size_t)n);
    memcpy(h->row_pos, row_pos, sizeof(int32_t) * (size_t)n);
    return 0;
}

static bool layer_active(const wcos_hooks *h, const wcos_layer *L) { return L->n_cap > 0 || L->n_abl > 0 || h->stats; }

// host_view returns a pointer to the tensor's rows on the host: the tensor itself when its buffer is
// host memory (CPU backend: no copy), else a scratch copy (device tensors; written back by the caller).
static float *host_view(wcos_hooks *h, struct ggml_tensor *t, int kind, bool *copied) {
    *copied = false;
    if (t->buffer == NULL || ggml_backend_buffer_is_host(t->buffer)) return (float *)t->data;
    if (!h->scratch[kind]) {
        const int width = h->n_ff > h->n_embd ? h->n_ff : h->n_embd;
        h->scratch[kind] = malloc(sizeof(float) * (size_t)h->max_rows * (size_t)width);
    }
    ggml_backend_tensor_get(t, h->scratch[kind], 0, ggml_nbytes(t));
    *copied = true;
    return h->scratch[kind];
}

// --- The device path: tensors in GPU memory are worked on where they are (wcos_dev.h).

static const wcos_dev_ops *cuda_table;
static char cuda_why[512];

// load_cuda opens libwcos-cuda.so ($WCOS_CUDA_HOOKS, else beside the libggml-base the process mapped,
// where make cuda puts it with libggml-cuda.so).
static void load_cuda(void) {
    char path[4096];
    const char *env = getenv("WCOS_CUDA_HOOKS");
    Dl_info info;
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else if (dladdr((void *)ggml_backend_tensor_get, &info) && info.dli_fname) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        snprintf(path, sizeof path, "%s/libwcos-cuda.so", dirname(dir));
    } else {
        snprintf(cuda_why, sizeof cuda_why, "cannot locate libggml-base to find libwcos-cuda.so");
        return;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib) {
        snprintf(cuda_why, sizeof cuda_why, "%s", dlerror());
        return;
    }
    const wcos_dev_ops *(*get)(void) = (const wcos_dev_ops *(*)(void))dlsym(lib, WCOS_STR(WCOS_CUDA_OPS));
    if (!get) {
        snprintf(cuda_why, sizeof cuda_why, "%s has no %s: built from other wcos sources (rebuild with make cuda)", path,
                 WCOS_STR(WCOS_CUDA_OPS));
        return;
    }
    cuda_table = get();
}

// dev_for returns the table that works on t in place, or NULL for the host path (host tensors, or no
// device table: then the hooks copy tensors to the host, correct but slow, and say so once).
static const wcos_dev_ops *dev_for(wcos_hooks *h, const struct ggml_tensor *t) {
    if (t->buffer == NULL || ggml_backend_buffer_is_host(t->buffer)) return h->emulate ? &wcos_emu_ops : NULL;
    if (h->host_only) return NULL;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load_cuda);
    if (!cuda_table) {
        static int warned;
        if (!warned++) fprintf(stderr, "wcos: no device hooks (%s); hooked tensors are copied to the host\n", cuda_why);
        return NULL;
    }
    const int d = cuda_table->device_of(t->data);
    if (d < 0 || (h->dev && (h->dev != cuda_table || h->dev_id != d))) return NULL; // one device per context
    h->dev = cuda_table;
    h->dev_id = d;
    return cuda_table;
}

// dbuf returns device buffer i with at least n bytes (contents lost when it grows).
static void *dbuf(wcos_hooks *h, const wcos_dev_ops *ops, int i, size_t n) {
    if (h->db[i] && h->db_size[i] >= n) return h->db[i];
    if (h->db[i]) ops->release(h->db[i]);
    h->db[i] = ops->alloc(h->dev_id, n);
    h->db_size[i] = h->db[i] ? n : 0;
    if (!h->db[i]) snprintf(h->err, sizeof h->err, "device buffer of %zu MiB: %s", n >> 20, ops->error());
    return h->db[i];
}

// upload copies n bytes of src into device buffer i; NULL on failure.
static void *upload(wcos_hooks *h, const wcos_dev_ops *ops, int i, const void *src, size_t n) {
    void *d = dbuf(h, ops, i, n);
    if (d && ops->upload(d, src, n) != 0) {
        snprintf(h->err, sizeof h->err, "device upload: %s", ops->error());
        return NULL;
    }
    return d;
}

// stage returns the host staging buffer (downloads of sums and candidates) with at least n bytes.
static void *stage(wcos_hooks *h, const wcos_dev_ops *ops, size_t n) {
    if (h->stage_size < n) {
        if (h->stage) ops->host_release(h->stage);
        h->stage = ops->host_alloc(n);
        h->stage_size = h->stage ? n : 0;
        if (!h->stage) set_err(h, "out of memory (%d MiB staging)", (int)(n >> 20), 0);
    }
    return h->stage;
}

static bool dev_fail(wcos_hooks *h, const wcos_dev_ops *ops, const char *what) {
    snprintf(h->err, sizeof h->err, "%s on %s: %s", what, ops->name, ops->error());
    return false;
}

// totals returns device buffer i of n 64-bit words per layer, zeroed when first allocated.
static uint64_t *totals(wcos_hooks *h, const wcos_dev_ops *ops, int i, size_t n) {
    const size_t bytes = 8 * n * (size_t)h->n_layer;
    if (h->db[i]) return h->db[i];
    if (!h->pending && !(h->pending = calloc((size_t)h->n_layer, sizeof(bool)))) {
        set_err(h, "out of memory", 0, 0);
        return NULL;
    }
    uint64_t *d = dbuf(h, ops, i, bytes);
    if (d && ops->zero(d, bytes)) {
        dev_fail(h, ops, "zeroing statistics");
        return NULL;
    }
    return d;
}

// flush_stats folds every pending layer's device totals into the attached statistics and zeroes them
// (stats.c calls it before the state is read). A device error here loses those sums: say so loudly.
static void flush_stats(void *arg) {
    wcos_hooks *h = arg;
    const wcos_dev_ops *ops = h->dev;
    const size_t nq = 4 * (size_t)h->n_ff, nsum = nq * WCOS_NVARS;
    for (int l = 0; h->stats && h->pending && l < h->n_layer; l++) {
        if (!h->pending[l]) continue;
        uint64_t *w = stage(h, ops, 8 * (nq + 2 * nsum));
        uint64_t *tc = (uint64_t *)h->db[DB_TCOUNT] + (size_t)l * nq, *tl = (uint64_t *)h->db[DB_TLO] + (size_t)l * nsum,
                 *th = (uint64_t *)h->db[DB_THI] + (size_t)l * nsum;
        if (!w || ops->download(w, tc, 8 * nq) || ops->download(w + nq, tl, 8 * nsum) ||
            ops->download(w + nq + nsum, th, 8 * nsum) || ops->zero(tc, 8 * nq) || ops->zero(tl, 8 * nsum) ||
            ops->zero(th, 8 * nsum)) {
            fprintf(stderr, "wcos: statistics of layer %d lost on %s: %s\n", l, ops->name, ops->error());
            abort();
        }
        wcos_stats_fold(h->stats, l, w, w + nq, w + nq + nsum);
        h->pending[l] = false;
    }
}

// stats_dev accumulates one layer's quadrant statistics on the device: the call's exact sums come back
// as 128-bit words and the top-k as this call's per-thread lists (candidates), merged on the host.
static bool stats_dev(wcos_hooks *h, const wcos_dev_ops *ops, int layer, const float *gate, const float *up,
                      const float *post, int rows, int r0) {
    wcos_stats *s = h->stats;
    const size_t nff = (size_t)h->n_ff, nq = 4 * nff, nsum = nq * WCOS_NVARS;
    float *tmin = stage(h, ops, nq * sizeof(float));
    if (!tmin) return false;
    wcos_stats_tmin(s, layer, tmin);
    wcos_quad_args a = {.gate = gate, .up = up, .post = post, .ld = h->n_ff, .rows = rows, .n_ff = h->n_ff,
                        .k = wcos_stats_k(s), .rows_per_thread = h->rows_per_thread};
    if (!(a.tmin = upload(h, ops, DB_TMIN, tmin, nq * sizeof(float))) ||
        !(a.sign = upload(h, ops, DB_SIGNS, wcos_stats_signs(s, layer), nff)) ||
        !(a.row_id = upload(h, ops, DB_ROWID, h->row_id + r0, sizeof(int64_t) * (size_t)rows)) ||
        !(a.row_pos = upload(h, ops, DB_ROWPOS, h->row_pos + r0, sizeof(int32_t) * (size_t)rows)) ||
        !(a.count = dbuf(h, ops, DB_COUNT, nq * 8)) || !(a.sum_lo = dbuf(h, ops, DB_SUMLO, nsum * 8)) ||
        !(a.sum_hi = dbuf(h, ops, DB_SUMHI, nsum * 8)) || !(a.ncand = dbuf(h, ops, DB_NCAND, 8)))
        return false;
    uint64_t ncand;
    for (;;) {
        if (!(a.cand = dbuf(h, ops, DB_CAND, sizeof(wcos_cand) * (size_t)h->cand_cap))) return false;
        a.cap = h->cand_cap;
        if (ops->zero(a.count, nq * 8) || ops->zero(a.sum_lo, nsum * 8) || ops->zero(a.sum_hi, nsum * 8) ||
            ops->zero(a.ncand, 8) || ops->quadrants(&a) || ops->download(&ncand, a.ncand, 8))
            return dev_fail(h, ops, "quadrant statistics");
        if (ncand <= (uint64_t)a.cap) break;
        h->cand_cap = (int64_t)(ncand + ncand / 4); // the first batches offer most values: grow and rerun
    }
    // Counts and sums stay on the device until something reads the statistics (flush_stats).
    uint64_t *tc = totals(h, ops, DB_TCOUNT, nq), *tl = totals(h, ops, DB_TLO, nsum), *th = totals(h, ops, DB_THI, nsum);
    if (!tc || !tl || !th) return false;
    const size_t l = (size_t)layer;
    if (ops->accumulate(tl + l * nsum, th + l * nsum, a.sum_lo, a.sum_hi, nsum, tc + l * nq, a.count, nq))
        return dev_fail(h, ops, "quadrant statistics");
    h->pending[layer] = true;
    wcos_stats_set_pending(s, flush_stats, h);
    if (ncand > 0) {
        wcos_cand *c = stage(h, ops, sizeof(wcos_cand) * ncand);
        if (!c) return false;
        if (ops->download(c, a.cand, sizeof(wcos_cand) * ncand)) return dev_fail(h, ops, "top-k candidates");
        wcos_stats_offer(s, layer, c, (int64_t)ncand, h->row_id + r0, h->row_pos + r0);
    }
    return true;
}

// swiglu_dev is on_swiglu for tensors in device memory: capture (before any ablation), statistics,
// then ablation, each in place; only captured values and reductions come to the host.
static bool swiglu_dev(wcos_hooks *h, const wcos_dev_ops *ops, wcos_layer *L, int layer, const float *gate,
                       const float *up, float *post, int rows, int r0) {
    const int64_t nff = h->n_ff;
    if (L->n_cap > 0) {
        const float *src[WCOS_NKINDS] = {gate, up, post};
        const size_t bytes = sizeof(float) * (size_t)rows * (size_t)L->n_cap;
        const int32_t *idx = NULL;
        float *out = NULL;
        if (L->cap_idx && (!(idx = upload(h, ops, DB_IDX, L->cap_idx, sizeof(int32_t) * (size_t)L->n_cap)) ||
                           !(out = dbuf(h, ops, DB_OUT, bytes))))
            return false;
        for (int k = 0; k < WCOS_NKINDS; k++) {
            float *dst = L->cap[k] + (size_t)r0 * (size_t)L->n_cap;
            const int rc = idx ? (ops->gather(src[k], nff, rows, idx, L->n_cap, out) || ops->download(dst, out, bytes))
                               : ops->download(dst, src[k], bytes);
            if (rc) return dev_fail(h, ops, "capture");
        }
    }
    if (h->stats) {
        if (wcos_stats_k(h->stats) > WCOS_KMAX)
            return set_err(h, "top-k %d exceeds the device kernels' %d", wcos_stats_k(h->stats), WCOS_KMAX), false;
        if (!stats_dev(h, ops, layer, gate, up, post, rows, r0)) return false;
    }
    if (L->n_abl > 0) {
        const size_t n = (size_t)L->n_abl;
        const int32_t *idx;
        const float *val;
        const int8_t *sign;
        if (!(idx = upload(h, ops, DB_IDX, L->abl_idx, 4 * n)) || !(val = upload(h, ops, DB_VAL, L->abl_val, 4 * n)) ||
            !(sign = upload(h, ops, DB_SIGN, L->abl_sign, n)))
            return false;
        if (ops->ablate(gate, post, nff, rows, idx, val, sign, L->n_abl, h->gate_cond, h->post_cond))
            return dev_fail(h, ops, "ablation");
    }
    return true;
}

// on_swiglu works on a layer's MLP activation t = act(gate)·up: captures, statistics and ablation. A
// non-gated MLP's t = act(pre) comes with gate = up = pre (TransformerLens's hook_pre), so its "gate>0"
// is pre>0 and its post condition the sign of act(pre).
static bool on_swiglu(wcos_hooks *h, struct ggml_tensor *t, int layer, bool gated) {
    wcos_layer *L = &h->layers[layer];
    struct ggml_tensor *tg = t->src[0], *tu = gated ? t->src[1] : t->src[0];
    if (!gated && (!h->vanilla || h->pre_layer != layer || h->pre_rows != (int)t->ne[1])) {
        set_err(h, "layer %d: the non-gated MLP's pre-activation was not saved (%d rows)", layer, h->pre_rows);
        return false;
    }
    const int rows = (int)t->ne[1];
    if (t->type != GGML_TYPE_F32 || !tg || !tu || tg->type != GGML_TYPE_F32 || tu->type != GGML_TYPE_F32 ||
        t->ne[0] != h->n_ff || t->ne[2] != 1 || t->ne[3] != 1 || !ggml_is_contiguous(t) ||
        !ggml_is_contiguous(tg) || !ggml_is_contiguous(tu)) {
        set_err(h, "unexpected MLP activation node layout in layer %d (n_ff %d)", layer, (int)t->ne[0]);
        return false;
    }
    const int r0 = L->rows_seen;
    if (r0 + rows > h->max_rows) {
        set_err(h, "layer %d saw more than %d rows in one decode", layer, h->max_rows);
        return false;
    }
    // A non-gated MLP's saved pre-activation is on the host: its layers take the host path.
    const wcos_dev_ops *ops = gated ? dev_for(h, t) : NULL;
    if (ops) {
        if (!swiglu_dev(h, ops, L, layer, tg->data, tu->data, t->data, rows, r0)) return false;
        L->rows_seen += rows;
        return true;
    }
    bool cg, cu, cp;
    const float *gate = gated ? host_view(h, tg, WCOS_GATE, &cg) : h->pre;
    const float *up = gated ? host_view(h, tu, WCOS_UP, &cu) : h->pre;
    float *post = host_view(h, t, WCOS_POST, &cp);
    const int64_t nff = h->n_ff;

    if (L->n_cap > 0) {
        const float *src[WCOS_NKINDS] = {gate, up, post};
        for (int k = 0; k < WCOS_NKINDS; k++) {
            float *dst = L->cap[k] + (size_t)r0 * (size_t)L->n_cap;
            for (int r = 0; r < rows; r++) {
                const float *s = src[k] + (size_t)r * nff;
                float *d = dst + (size_t)r * (size_t)L->n_cap;
                if (L->cap_idx)
                    for (int i = 0; i < L->n_cap; i++) d[i] = s[L->cap_idx[i]];
                else
                    memcpy(d, s, sizeof(float) * (size_t)nff);
            }
        }
    }

    if (h->stats) wcos_stats_accumulate(h->stats, layer, gate, up, post, nff, rows, h->row_id + r0, h->row_pos + r0);

    if (L->n_abl > 0) {
        const int gc = h->gate_cond, pc = h->post_cond;
        for (int r = 0; r < rows; r++) {
            const float *g = gate + (size_t)r * nff;
            float *p = post + (size_t)r * nff;
            for (int i = 0; i < L->n_abl; i++) {
                const int32_t n = L->abl_idx[i];
                if (gc > 0 && !(g[n] > 0)) continue;
                if (gc < 0 && !(g[n] < 0)) continue;
                if (pc != 0) {
                    const float sp = L->abl_sign[i] * p[n];
                    if (pc > 0 && !(sp > 0)) continue;
                    if (pc < 0 && !(sp < 0)) continue;
                }
                p[n] = L->abl_val[i];
            }
        }
        if (cp) ggml_backend_tensor_set(t, post, 0, ggml_nbytes(t));
    }
    L->rows_seen += rows;
    return true;
}

static bool on_last_out(wcos_hooks *h, struct ggml_tensor *t) {
    bool copied;
    if (t->type != GGML_TYPE_F32 || t->ne[0] != h->n_embd || !ggml_is_contiguous(t)) {
        set_err(h, "unexpected final layer output layout (n_embd %d)", (int)t->ne[0], 0);
        return false;
    }
    const int rows = (int)t->ne[1];
    if (h->scale_rows + rows > h->max_rows) {
        set_err(h, "final norm saw more than %d rows in one decode", h->max_rows, 0);
        return false;
    }
    const wcos_dev_ops *ops = dev_for(h, t);
    if (ops) {
        float *out = dbuf(h, ops, DB_OUT, sizeof(float) * (size_t)rows);
        if (!out) return false;
        if (ops->scale(t->data, h->n_embd, rows, h->norm_eps, h->norm_rms, out) ||
            ops->download(h->scale + h->scale_rows, out, sizeof(float) * (size_t)rows))
            return dev_fail(h, ops, "final norm scale");
    } else {
        const float *x = host_view(h, t, WCOS_POST, &copied);
        for (int r = 0; r < rows; r++) h->scale[h->scale_rows + r] = wcos_k_scale(x, h->n_embd, r, h->norm_eps, h->norm_rms);
    }
    h->scale_rows += rows;
    return true;
}

// on_resid copies the rows of l_out-L (the residual stream after layer L) into the capture buffer, in
// decode order. No device kernel: a device tensor's few rows come over with ggml_backend_tensor_get.
// The last layer only holds the rows that requested logits (engine.md §4.3); Decode asks for all.
static bool on_resid(wcos_hooks *h, struct ggml_tensor *t, int layer) {
    if (t->type != GGML_TYPE_F32 || t->ne[0] != h->n_embd || t->ne[2] != 1 || t->ne[3] != 1 || !ggml_is_contiguous(t)) {
        set_err(h, "unexpected l_out-%d layout (n_embd %d)", layer, (int)t->ne[0]);
        return false;
    }
    const int rows = (int)t->ne[1], r0 = h->resid_rows[layer];
    if (r0 + rows > h->max_rows) {
        set_err(h, "l_out-%d saw more than %d rows in one decode", layer, h->max_rows);
        return false;
    }
    float *dst = (float *)wcos_hooks_residuals(h, layer) + (size_t)r0 * (size_t)h->n_embd;
    if (t->buffer == NULL || ggml_backend_buffer_is_host(t->buffer))
        memcpy(dst, t->data, ggml_nbytes(t));
    else
        ggml_backend_tensor_get(t, dst, 0, ggml_nbytes(t));
    h->resid_rows[layer] += rows;
    return true;
}

// on_logits computes the per-token metrics where the logits are (device path only: on the host,
// Context.Metrics reads llama.cpp's copy with its own threads).
static bool on_logits(wcos_hooks *h, struct ggml_tensor *t) {
    const wcos_dev_ops *ops = dev_for(h, t);
    if (!ops) return true;
    const int rows = (int)t->ne[1];
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t) || h->metrics_rows + rows > h->max_rows) {
        set_err(h, "unexpected logits layout (%d rows after %d)", rows, h->metrics_rows);
        return false;
    }
    const size_t n = (size_t)rows;
    const int32_t *tgt = upload(h, ops, DB_TGT, h->target + h->metrics_rows, 4 * n);
    char *out = dbuf(h, ops, DB_MET, 20 * n); // entropy, loss (float64), rank (int32)
    if (!tgt || !out) return false;
    const int m = h->metrics_rows;
    if (ops->metrics(t->data, t->ne[0], rows, tgt, (double *)out, (double *)(out + 8 * n), (int32_t *)(out + 16 * n)) ||
        ops->download(h->ent + m, out, 8 * n) || ops->download(h->loss + m, out + 8 * n, 8 * n) ||
        ops->download(h->rank + m, out + 16 * n, 4 * n))
        return dev_fail(h, ops, "token metrics");
    h->metrics_rows += rows;
    return true;
}

int wcos_hooks_targets(wcos_hooks *h, const int32_t *target, int n) {
    if (n > h->max_rows) return set_err(h, "%d targets exceed the hook capacity %d", n, h->max_rows);
    if (!h->target) {
        h->target = malloc(sizeof(int32_t) * (size_t)h->max_rows);
        h->ent = malloc(sizeof(double) * (size_t)h->max_rows);
        h->loss = malloc(sizeof(double) * (size_t)h->max_rows);
        h->rank = malloc(sizeof(int32_t) * (size_t)h->max_rows);
        if (!h->target || !h->ent || !h->loss || !h->rank) {
            free(h->target); // h->target also says the metrics are wanted: all or none
            h->target = NULL;
            return set_err(h, "out of memory for metrics", 0, 0);
        }
    }
    memcpy(h->target, target, sizeof(int32_t) * (size_t)n);
    return 0;
}

int wcos_hooks_metrics(const wcos_hooks *h, const double **entropy, const double **loss, const int32_t **rank) {
    *entropy = h->ent;
    *loss = h->loss;
    *rank = h->rank;
    return h->metrics_rows;
}

void wcos_hooks_tune_device(wcos_hooks *h, int mode, int64_t cand_cap, int rows_per_thread) {
    if (mode > 0) {
        h->emulate = true;
        h->dev = &wcos_emu_ops;
    }
    if (mode < 0) h->host_only = true;
    if (cand_cap > 0) h->cand_cap = cand_cap;
    if (rows_per_thread > 0) h->rows_per_thread = rows_per_thread;
}

const char *wcos_hooks_device(const wcos_hooks *h) { return h->dev ? h->dev->name : NULL; }

bool wcos_hooks_eval(struct ggml_tensor *t, bool ask, void *user_data) {
    wcos_hooks *h = user_data;
    if (h->target && strcmp(t->name, "result_output") == 0) return ask ? true : on_logits(h, t);
    // The MLP's activation node: SiLU-gated (OLMo, Llama, Qwen, Mistral) or GELU-gated (Gemma), llama.cpp's
    // split GLU op with src[0] the gate and src[1] the up projection; or a non-gated MLP's activation of
    // the up projection (GPT-2, GPT-NeoX, BLOOM, GPT-J: GELU; ReLU), with src[0] the pre-activation.
    static const char *const acts[] = {"ffn_swiglu", "ffn_geglu", "ffn_gelu", "ffn_relu", "ffn_silu"};
    for (int a = 0; a < 5; a++) {
        int layer = parse_node(t->name, acts[a]);
        if (layer >= 0 && layer < h->n_layer) {
            if (ask) return layer_active(h, &h->layers[layer]);
            return on_swiglu(h, t, layer, a < 2);
        }
    }
    // ggml-cuda fuses the up and gate products of a single row (ne[1] == 1: a generation step, a last
    // layer with one output row) into the GLU kernel and then never writes them, so the hook above would
    // read stale gate and up values; asking for them ends a graph piece at each, which prevents the fusion.
    //
    // A non-gated MLP's pre-activation (ffn_up, then ffn_up_b where there is a bias) is saved when it is
    // computed: its activation then overwrites it in place.
    bool pre = true;
    int layer = parse_node(t->name, "ffn_up");
    if (layer < 0) layer = parse_node(t->name, "ffn_up_b");
    if (layer < 0) {
        layer = parse_node(t->name, "ffn_gate");
        pre = false;
    }
    if (layer >= 0 && layer < h->n_layer) {
        const bool active = layer_active(h, &h->layers[layer]);
        if (h->vanilla && pre) return ask ? active : save_pre(h, t, layer);
        return !ask || (t->ne[1] == 1 && active);
    }
    layer = parse_node(t->name, "l_out");
    if (layer >= 0 && layer < h->n_layer) {
        const bool scale = h->want_scale && layer == h->n_layer - 1;
        if (ask) return scale || h->want_resid;
        if (h->want_resid && !on_resid(h, t, layer)) return false;
        return scale ? on_last_out(h, t) : true;
    }
    return ask ? false : true;
}
