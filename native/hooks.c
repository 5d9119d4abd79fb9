#include "wcos_native.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "ggml.h"

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
    int gate_cond, post_cond;
    bool want_scale;
    float *scale;                 // [max_rows]
    int scale_rows;
    wcos_layer *layers;
    wcos_stats *stats;            // quadrant statistics of every layer, or NULL
    int64_t *row_id;              // [max_rows] data-set row of each token of the decode
    int32_t *row_pos;             // [max_rows] its position in the row
    float *scratch[WCOS_NKINDS];  // host copies for device tensors, [max_rows, n_ff]
    char err[256];
};

wcos_hooks *wcos_hooks_new(int n_layer, int n_ff, int n_embd, int max_rows, float norm_eps) {
    wcos_hooks *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->n_layer = n_layer;
    h->n_ff = n_ff;
    h->n_embd = n_embd;
    h->max_rows = max_rows;
    h->norm_eps = norm_eps;
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
    free(h->scale);
    free(h->row_id);
    free(h->row_pos);
    free(h->layers);
    free(h);
}

static int set_err(wcos_hooks *h, const char *msg, int a, int b) {
    snprintf(h->err, sizeof h->err, msg, a, b);
    return -1;
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

int wcos_hooks_begin(wcos_hooks *h, int n_rows) {
    if (n_rows > h->max_rows) return set_err(h, "decode of %d tokens exceeds the hook capacity %d", n_rows, h->max_rows);
    for (int l = 0; l < h->n_layer; l++) h->layers[l].rows_seen = 0;
    h->scale_rows = 0;
    h->err[0] = 0;
    return 0;
}

int wcos_hooks_rows_seen(const wcos_hooks *h, int layer) { return h->layers[layer].rows_seen; }

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

void wcos_hooks_stats(wcos_hooks *h, wcos_stats *s) {
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

static bool on_swiglu(wcos_hooks *h, struct ggml_tensor *t, int layer) {
    wcos_layer *L = &h->layers[layer];
    struct ggml_tensor *tg = t->src[0], *tu = t->src[1];
    const int rows = (int)t->ne[1];
    if (t->type != GGML_TYPE_F32 || !tg || !tu || tg->type != GGML_TYPE_F32 || tu->type != GGML_TYPE_F32 ||
        t->ne[0] != h->n_ff || t->ne[2] != 1 || t->ne[3] != 1 || !ggml_is_contiguous(t) ||
        !ggml_is_contiguous(tg) || !ggml_is_contiguous(tu)) {
        set_err(h, "unexpected ffn_swiglu-%d layout (n_ff %d)", layer, (int)t->ne[0]);
        return false;
    }
    const int r0 = L->rows_seen;
    if (r0 + rows > h->max_rows) {
        set_err(h, "layer %d saw more than %d rows in one decode", layer, h->max_rows);
        return false;
    }
    bool cg, cu, cp;
    const float *gate = host_view(h, tg, WCOS_GATE, &cg);
    const float *up = host_view(h, tu, WCOS_UP, &cu);
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
    const float *x = host_view(h, t, WCOS_POST, &copied);
    for (int r = 0; r < rows; r++) {
        const float *v = x + (size_t)r * (size_t)h->n_embd;
        double mean = 0, var = 0;
        for (int i = 0; i < h->n_embd; i++) mean += v[i];
        mean /= h->n_embd;
        for (int i = 0; i < h->n_embd; i++) var += (v[i] - mean) * (v[i] - mean);
        var /= h->n_embd;
        h->scale[h->scale_rows + r] = (float)sqrt(var + h->norm_eps);
    }
    h->scale_rows += rows;
    return true;
}

bool wcos_hooks_eval(struct ggml_tensor *t, bool ask, void *user_data) {
    wcos_hooks *h = user_data;
    int layer = parse_node(t->name, "ffn_swiglu");
    if (layer >= 0 && layer < h->n_layer) {
        if (ask) return layer_active(h, &h->layers[layer]);
        return on_swiglu(h, t, layer);
    }
    if (h->want_scale && parse_node(t->name, "l_out") == h->n_layer - 1) {
        if (ask) return true;
        return on_last_out(h, t);
    }
    return ask ? false : true;
}
