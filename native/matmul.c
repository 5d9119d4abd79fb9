// Dense float32 products and dequantisation for the RW-class analysis (experiments/classes), on ggml's
// CPU backend. Compiled as part of package bindings (bindings/native.c).
//
// The product goes through the backend API (ggml-backend.h), not ggml-cpu.h's ggml_graph_compute: in
// the one-ggml dynamic build (docs/cuda.md) the CPU backend is a dlopened module whose functions the
// binary cannot link to. The backend runs the same ggml_graph_plan/ggml_graph_compute.
#include <stdlib.h>
#include <string.h>
#include "ggml.h"
#include "ggml-backend.h"
#include "wcos_native.h"

int wcos_matmul_nt(const float *a, int64_t m, const float *b, int64_t n, int64_t k, float *c, int n_threads) {
    if (m <= 0 || n <= 0 || k <= 0) {
        return -1;
    }
    // The CPU backend must be registered (statically, or loaded by the bindings' initBackend).
    ggml_backend_t be = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, NULL);
    if (be == NULL) {
        return -5;
    }
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(ggml_backend_get_device(be));
    ggml_backend_set_n_threads_t set_n_threads =
        (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads");
    if (set_n_threads != NULL) {
        set_n_threads(be, n_threads);
    }
    // Only tensor headers and the graph live in the context; the data stay in the caller's buffers
    // (no_alloc), so a 11008² product needs no second copy of its 485 MB result.
    struct ggml_init_params ip = {
        .mem_size = 4 * ggml_tensor_overhead() + ggml_graph_overhead() + 1024,
        .mem_buffer = NULL,
        .no_alloc = true,
    };
    struct ggml_context *ctx = ggml_init(ip);
    if (ctx == NULL) {
        ggml_backend_free(be);
        return -2;
    }
    // ggml_mul_mat(x, y) = y·xᵀ with ne0 = k the shared (contiguous) dimension: result ne = [n, m],
    // i.e. row i of c holds dot(a_i, b_j) for all j.
    struct ggml_tensor *x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, n);
    struct ggml_tensor *y = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, m);
    x->data = (void *)b;
    y->data = (void *)a;
    struct ggml_tensor *r = ggml_mul_mat(ctx, x, y);
    r->data = c;
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, r);
    enum ggml_status st = ggml_backend_graph_compute(be, gf);
    ggml_free(ctx);
    ggml_backend_free(be);
    if (st == GGML_STATUS_ALLOC_FAILED) {
        return -3;
    }
    return st == GGML_STATUS_SUCCESS ? 0 : -4;
}

// A product with a fixed right operand kept in a backend's memory: on a GPU the operand is uploaded
// once, then each call uploads only the left rows and downloads the result. One static graph computes
// max_rows rows; a call with fewer rows reads only its own (the rest is stale and ignored).
struct wcos_matmul {
    ggml_backend_t be;
    struct ggml_context *ctx;
    ggml_backend_buffer_t buf;
    struct ggml_cgraph *gf;
    struct ggml_tensor *x, *r;
    int64_t n, k, max_rows;
};

void wcos_matmul_free(wcos_matmul *mm) {
    if (mm == NULL) return;
    if (mm->buf != NULL) ggml_backend_buffer_free(mm->buf);
    if (mm->ctx != NULL) ggml_free(mm->ctx);
    if (mm->be != NULL) ggml_backend_free(mm->be);
    free(mm);
}

wcos_matmul *wcos_matmul_new(const float *b, int64_t n, int64_t k, int64_t max_rows, int gpu, int n_threads, int *err) {
    *err = 0;
    if (n <= 0 || k <= 0 || max_rows <= 0) {
        *err = -1;
        return NULL;
    }
    wcos_matmul *mm = calloc(1, sizeof *mm);
    if (mm == NULL) {
        *err = -2;
        return NULL;
    }
    mm->n = n, mm->k = k, mm->max_rows = max_rows;
    mm->be = ggml_backend_init_by_type(gpu ? GGML_BACKEND_DEVICE_TYPE_GPU : GGML_BACKEND_DEVICE_TYPE_CPU, NULL);
    if (mm->be == NULL) {
        *err = -5;
        wcos_matmul_free(mm);
        return NULL;
    }
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(ggml_backend_get_device(mm->be));
    ggml_backend_set_n_threads_t set_n_threads =
        (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads");
    if (set_n_threads != NULL) {
        set_n_threads(mm->be, n_threads);
    }
    struct ggml_init_params ip = {
        .mem_size = 4 * ggml_tensor_overhead() + ggml_graph_overhead() + 1024,
        .mem_buffer = NULL,
        .no_alloc = true,
    };
    mm->ctx = ggml_init(ip);
    if (mm->ctx == NULL) {
        *err = -2;
        wcos_matmul_free(mm);
        return NULL;
    }
    struct ggml_tensor *w = ggml_new_tensor_2d(mm->ctx, GGML_TYPE_F32, k, n);
    mm->x = ggml_new_tensor_2d(mm->ctx, GGML_TYPE_F32, k, max_rows);
    mm->r = ggml_mul_mat(mm->ctx, w, mm->x); // ne [n, max_rows]: row i holds dot(a_i, b_j) for all j
    mm->gf = ggml_new_graph(mm->ctx);
    ggml_build_forward_expand(mm->gf, mm->r);
    mm->buf = ggml_backend_alloc_ctx_tensors(mm->ctx, mm->be);
    if (mm->buf == NULL) {
        *err = -3;
        wcos_matmul_free(mm);
        return NULL;
    }
    ggml_backend_tensor_set(w, b, 0, (size_t)(n * k) * sizeof(float));
    return mm;
}

int wcos_matmul_apply(wcos_matmul *mm, const float *a, int64_t m, float *c) {
    if (mm == NULL || m <= 0 || m > mm->max_rows) {
        return -1;
    }
    ggml_backend_tensor_set(mm->x, a, 0, (size_t)(m * mm->k) * sizeof(float));
    enum ggml_status st = ggml_backend_graph_compute(mm->be, mm->gf);
    if (st != GGML_STATUS_SUCCESS) {
        return st == GGML_STATUS_ALLOC_FAILED ? -3 : -4;
    }
    ggml_backend_tensor_get(mm->r, c, 0, (size_t)(m * mm->n) * sizeof(float));
    return 0;
}

const char *wcos_matmul_device(const wcos_matmul *mm) {
    return mm == NULL ? "" : ggml_backend_dev_name(ggml_backend_get_device(mm->be));
}

int wcos_to_float(int type, const void *src, float *dst, int64_t n) {
    if (type < 0 || type >= GGML_TYPE_COUNT) {
        return -1;
    }
    if (type == GGML_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return 0;
    }
    const struct ggml_type_traits *tt = ggml_get_type_traits((enum ggml_type)type);
    if (tt == NULL || tt->to_float == NULL || tt->blck_size <= 0 || n % tt->blck_size != 0) {
        return -1;
    }
    tt->to_float(src, dst, n);
    return 0;
}
