// wcos native code: the per-element work on MLP activations and logits. It runs inside llama.cpp's
// eval callback (ggml_backend_sched_eval_callback) on the thread that called llama_decode, so it never
// calls back into Go. Node names follow llama.cpp's OLMo graph (engine.md §4): ffn_swiglu-L is
// TransformerLens hook_post, its src[0]/src[1] are ffn_gate-L (hook_pre) and ffn_up-L (hook_pre_linear).
#ifndef WCOS_NATIVE_H
#define WCOS_NATIVE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ggml_tensor;

enum wcos_kind { WCOS_GATE = 0, WCOS_UP = 1, WCOS_POST = 2, WCOS_NKINDS = 3 };

typedef struct wcos_hooks wcos_hooks;

// wcos_hooks_new allocates hook state for a model; max_rows bounds the tokens of one decode; norm_eps and
// norm_rms describe the final norm (an RMSNorm when norm_rms != 0, else a LayerNorm).
wcos_hooks *wcos_hooks_new(int n_layer, int n_ff, int n_embd, int max_rows, float norm_eps, int norm_rms);
void wcos_hooks_free(wcos_hooks *h);
// wcos_hooks_set_vanilla marks a model whose MLP is not gated (its activation's node has one source).
void wcos_hooks_set_vanilla(wcos_hooks *h, bool vanilla);

// Capture gate/up/post of layer `layer` for neurons idx[0..n) (n < 0: all n_ff; 0: none) into C buffers of
// [max_rows, n] floats, rows in decode order. Values are taken before any ablation at that layer.
int wcos_hooks_capture(wcos_hooks *h, int layer, const int32_t *idx, int n);
const float *wcos_hooks_captured(const wcos_hooks *h, int layer, int kind);

// Ablate neurons idx[0..n) of layer `layer` on post: set to values[i] (NULL: 0) where the condition of
// wcos_hooks_condition holds. signs[i] (NULL: all +1) is the refactor sign s_n used by the post
// condition (s_n·post).
int wcos_hooks_ablate(wcos_hooks *h, int layer, const int32_t *idx, const float *values, const int8_t *signs, int n);
// gate, post: 0 = no condition, +1 = only where > 0, -1 = only where < 0 (strict).
void wcos_hooks_condition(wcos_hooks *h, int gate, int post);

// Record the final LayerNorm scale sqrt(var(x)+eps) of the last layer's output per row.
void wcos_hooks_scale(wcos_hooks *h, bool on);
const float *wcos_hooks_scales(const wcos_hooks *h);

// Capture the residual stream after every layer (node l_out-L = TransformerLens hook_resid_post) at
// every token: n_embd floats per row and layer, [n_layer, max_rows, n_embd] in all (allocated on the
// first call with on). Values are those the next layer reads, i.e. after any ablation in layer L.
int wcos_hooks_residual(wcos_hooks *h, bool on);
// Layer `layer`'s rows of the last decode, [max_rows, n_embd] in decode order (NULL if never enabled),
// and how many rows it saw.
const float *wcos_hooks_residuals(const wcos_hooks *h, int layer);
int wcos_hooks_residual_rows(const wcos_hooks *h, int layer);

// Called before each llama_decode with the number of tokens it holds (all of which request logits).
int wcos_hooks_begin(wcos_hooks *h, int n_rows);
// Rows seen by layer `layer` in the current decode (equals n_rows after a complete decode).
int wcos_hooks_rows_seen(const wcos_hooks *h, int layer);
// wcos_hooks_layer_active reports whether the layer's MLP node is hooked (captures, ablation, statistics).
int wcos_hooks_layer_active(const wcos_hooks *h, int layer);
// The last error message, or NULL.
const char *wcos_hooks_error(const wcos_hooks *h);

// Next-token targets of the coming decode (n entries, -1: none). Once given, the hooks compute the
// per-token metrics in the callback wherever the logits are in device memory; wcos_hooks_metrics then
// returns the rows done (else 0: compute from llama.cpp's logits) and points at the results.
int wcos_hooks_targets(wcos_hooks *h, const int32_t *target, int n);
int wcos_hooks_metrics(const wcos_hooks *h, const double **entropy, const double **loss, const int32_t **rank);
// Tests: mode 1 sends host tensors through the device path's host emulation (wcos_dev.h), -1 keeps
// device tensors on the host path (copies, as WCOS_DEVICE_HOOKS=0 in the environment does), 0 leaves
// it; cand_cap and rows_per_thread (0: unchanged) size the device path's top-k candidates.
void wcos_hooks_tune_device(wcos_hooks *h, int mode, int64_t cand_cap, int rows_per_thread);
// The device implementation in use ("CUDA", "host emulation"), or NULL for the host path.
const char *wcos_hooks_device(const wcos_hooks *h);

// The eval callback: pass with the wcos_hooks pointer as user data.
bool wcos_hooks_eval(struct ggml_tensor *t, bool ask, void *user_data);

// Per-token metrics from logits [n_rows, n_vocab] (row-major), in float64: entropy
// -Σ p log(p + 1e-8); where target[r] >= 0 also loss = -log p[target] and rank = number of logits
// strictly greater than the target's (else loss 0, rank 0).
void wcos_token_metrics(const float *logits, int64_t n_vocab, int64_t n_rows, const int32_t *target,
                        double *entropy, double *loss, int32_t *rank);

// Index of the largest of x[0..n) (the first on ties, NaN never; -1 when n <= 0 or all are NaN):
// greedy decoding's next token.
int32_t wcos_argmax(const float *x, int64_t n);

// The indices of the k largest values of each row of x [rows, n], largest first, ties to the lower
// index (a NaN ranks below every number), into out [rows, min(k, n)]: the logit lens's top-k.
void wcos_topk_rows(const float *x, int64_t rows, int64_t n, int32_t k, int32_t *out);

// Index drawn from softmax(x / temperature) by the uniform u in [0, 1): the first i whose cumulative
// probability exceeds u (in float64, NaN logits never drawn; -1 when none is finite). Sampling's next
// token, the draw supplied by the caller so that seeds live in one place.
int32_t wcos_sample(const float *x, int64_t n, double temperature, double u);

// Quadrant statistics (paper-spec §6.1). Quadrant q = 2·(gate<0) + (in<0) with in = s_n·up:
// 0 gate+in+, 1 gate+in-, 2 gate-in+, 3 gate-in-. Variables: post (refactored, s_n·post), gate, in,
// swish = silu(gate). Top-k keeps the k largest |post| per (layer, quadrant, neuron) with (row, pos).
enum { WCOS_VAR_POST = 0, WCOS_VAR_GATE = 1, WCOS_VAR_IN = 2, WCOS_VAR_SWISH = 3, WCOS_NVARS = 4 };
enum { WCOS_STAT_COUNT = 0, WCOS_STAT_SUM = 1, WCOS_STAT_TOP = 2, WCOS_STAT_TOPN = 3 };
typedef struct wcos_stats wcos_stats;
wcos_stats *wcos_stats_new(int n_layer, int n_ff, int k);
void wcos_stats_free(wcos_stats *s);
void wcos_stats_set_signs(wcos_stats *s, int layer, const int8_t *signs);
// Neurons are split over this many threads inside the callback (results do not depend on it).
void wcos_stats_set_threads(wcos_stats *s, int threads);
void wcos_stats_accumulate(wcos_stats *s, int layer, const float *gate, const float *up, const float *post,
                           int64_t ld, int rows, const int64_t *row_id, const int32_t *row_pos);
int wcos_stats_merge(wcos_stats *a, const wcos_stats *b);
size_t wcos_stats_len(const wcos_stats *s, int what);
void wcos_stats_export(const wcos_stats *s, int64_t *count, int64_t *sum_hi, uint64_t *sum_lo, float *top_val,
                       int64_t *top_row, int32_t *top_pos, int32_t *top_n);
void wcos_stats_import(wcos_stats *s, const int64_t *count, const int64_t *sum_hi, const uint64_t *sum_lo,
                       const float *top_val, const int64_t *top_row, const int32_t *top_pos, const int32_t *top_n);
void wcos_stats_means(const wcos_stats *s, double *out);

// Attach statistics to the hooks (NULL detaches); row_id/row_pos give each token's data-set row and
// position for the next decode (n entries, copied).
void wcos_hooks_stats(wcos_hooks *h, wcos_stats *s);
int wcos_hooks_positions(wcos_hooks *h, const int64_t *row_id, const int32_t *row_pos, int n);

// Pin an already dlopened library (a ggml backend) in memory until exit; false if it is not loaded.
bool wcos_pin_library(const char *path);
// crashdiag.c: on the first fault, print the pc and the library callers on the stack, then let the
// previous (Go's) handler report it (WCOS_CRASH_DIAG=1).
void wcos_crash_diag_install(void);

// Log sink for llama.cpp/ggml: errors go to stderr, everything else only when verbose is set.
void wcos_log(int level, const char *text, void *user_data);
void wcos_log_verbose(bool on);
// matmul.c (experiments/classes): c[i*n+j] = dot(a_i, b_j) for row-major a [m,k], b [n,k], c [m,n],
// float32 on ggml's CPU backend; 0 on success.
int wcos_matmul_nt(const float *a, int64_t m, const float *b, int64_t n, int64_t k, float *c, int n_threads);

// The same product with b [n, k] fixed and kept in a backend's memory (a GPU's with gpu, where b is
// uploaded once), for up to max_rows rows of a a call. new returns NULL and sets *err (-5: no backend
// of that type) on failure; apply returns 0 or a negative error; device names the backend's device.
typedef struct wcos_matmul wcos_matmul;
wcos_matmul *wcos_matmul_new(const float *b, int64_t n, int64_t k, int64_t max_rows, int gpu, int n_threads, int *err);
int wcos_matmul_apply(wcos_matmul *mm, const float *a, int64_t m, float *c);
const char *wcos_matmul_device(const wcos_matmul *mm);
void wcos_matmul_free(wcos_matmul *mm);
// Dequantise n elements of ggml type `type` (any type with to_float, and F32) to float32; 0 on success.
int wcos_to_float(int type, const void *src, float *dst, int64_t n);
#endif
