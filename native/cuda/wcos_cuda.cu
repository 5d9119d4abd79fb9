// libwcos-cuda.so: the device hooks of wcos_dev.h on CUDA. The kernel bodies are devkern.h's, which
// the CPU tests run through the host emulation (devemu.c); this file only maps thread indices to them.
// hooks.c dlopens the library beside libggml-cuda.so (make cuda builds both) and calls its table from
// ggml's eval callback, after ggml has synchronised the node: each entry point runs on this library's
// own stream and waits for it, so ggml's next kernel sees what we wrote.
#include <cuda_runtime.h>
#include <stdio.h>

#include "../devkern.h"
#include "../wcos_dev.h"

namespace {

constexpr int kThreads = 128;
constexpr int kMaxDevices = 16;
constexpr int kMaxGridY = 65535;

thread_local char last_error[256];
cudaStream_t streams[kMaxDevices];
int current = -1;

int fail(const char *what, cudaError_t e) {
    snprintf(last_error, sizeof last_error, "%s: %s", what, cudaGetErrorString(e));
    return -1;
}

// stream makes the hooks' device current on the calling thread (the eval callback runs on whichever
// thread called llama_decode) and returns this library's stream there.
cudaStream_t stream() {
    const int d = current < 0 ? 0 : current;
    cudaSetDevice(d);
    if (d >= kMaxDevices) return 0;
    if (!streams[d]) cudaStreamCreateWithFlags(&streams[d], cudaStreamNonBlocking);
    return streams[d];
}

// finish waits for the launched work and reports launch or execution errors.
int finish(const char *what) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return fail(what, e);
    e = cudaStreamSynchronize(stream());
    return e == cudaSuccess ? 0 : fail(what, e);
}

__global__ void ablate_kernel(const float *gate, float *post, int64_t ld, int rows, const int32_t *idx, const float *val,
                              const int8_t *sign, int n, int gc, int pc) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    for (int r = blockIdx.y; r < rows; r += gridDim.y) wcos_k_ablate(gate, post, ld, r, idx[i], val[i], sign[i], gc, pc);
}

__global__ void gather_kernel(const float *src, int64_t ld, int rows, const int32_t *idx, int n, float *dst) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    for (int r = blockIdx.y; r < rows; r += gridDim.y) dst[(int64_t)r * n + i] = src[(int64_t)r * ld + idx[i]];
}

__global__ void accumulate_kernel(uint64_t *tot_lo, uint64_t *tot_hi, const uint64_t *lo, const uint64_t *hi, size_t n,
                                  uint64_t *tot_count, const uint64_t *count, size_t n_count) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    wcos_k_accumulate(tot_lo, tot_hi, lo, hi, n, tot_count, count, n_count, i);
}

// Thread = neuron (coalesced across a warp) × a range of rows_per_thread rows (blockIdx.y).
__global__ void quadrant_kernel(wcos_quad_args a) {
    const int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= a.n_ff) return;
    for (int c = blockIdx.y; (int64_t)c * a.rows_per_thread < a.rows; c += gridDim.y) {
        const int r0 = c * a.rows_per_thread;
        wcos_k_quadrants(&a, n, r0, min(a.rows, r0 + a.rows_per_thread));
    }
}

__global__ void scale_kernel(const float *x, int64_t n_embd, int rows, float eps, int rms, float *out) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) out[r] = wcos_k_scale(x, n_embd, r, eps, rms);
}

// Eight consecutive threads are the eight lanes of one row; each combines them in lane order, as the
// emulation does, so the float64 sums are the host's. Every thread of the warp reaches each shuffle.
__global__ void metrics_kernel(const float *logits, int64_t n_vocab, int rows, const int32_t *target, double *entropy,
                               double *loss, int32_t *rank) {
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    const int r = g / WCOS_LANES, j = g % WCOS_LANES;
    const bool live = r < rows;
    const int base = threadIdx.x % 32 / WCOS_LANES * WCOS_LANES;
    const float *x = logits + (int64_t)(live ? r : 0) * n_vocab;
    const int32_t t = live ? target[r] : -1;
    const float xt = t >= 0 && t < n_vocab ? x[t] : INFINITY;
    const float ml = wcos_k_lane_max(x, n_vocab, j);
    float mx = __shfl_sync(0xffffffffu, ml, base);
    for (int k = 1; k < WCOS_LANES; k++) {
        const float m = __shfl_sync(0xffffffffu, ml, base + k);
        mx = m > mx ? m : mx;
    }
    const double zl = wcos_k_lane_z(x, n_vocab, j, mx);
    double z = 0;
    for (int k = 0; k < WCOS_LANES; k++) z += __shfl_sync(0xffffffffu, zl, base + k);
    int32_t above;
    const double hl = wcos_k_lane_h(x, n_vocab, j, mx, (float)(1.0 / z), xt, &above);
    double h = 0;
    int32_t ab = 0;
    for (int k = 0; k < WCOS_LANES; k++) {
        h += __shfl_sync(0xffffffffu, hl, base + k);
        ab += __shfl_sync(0xffffffffu, above, base + k);
    }
    if (live && j == 0) wcos_k_metrics_finish(x, n_vocab, r, t, mx, z, h, ab, entropy, loss, rank);
}

dim3 rows_grid(int n, int rows) { return dim3((n + kThreads - 1) / kThreads, rows < kMaxGridY ? rows : kMaxGridY); }

int device_of(const void *p) {
    cudaPointerAttributes at;
    if (cudaPointerGetAttributes(&at, p) != cudaSuccess) {
        cudaGetLastError(); // clear the error a non-CUDA pointer leaves
        return -1;
    }
    return at.type == cudaMemoryTypeDevice ? at.device : -1;
}

void *alloc(int device, size_t n) {
    if (device != current) {
        cudaError_t e = cudaSetDevice(device);
        if (e != cudaSuccess) {
            fail("cudaSetDevice", e);
            return nullptr;
        }
        current = device;
    }
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, n ? n : 1);
    if (e != cudaSuccess) {
        fail("cudaMalloc", e);
        return nullptr;
    }
    return p;
}

void release(void *p) { cudaFree(p); }

void *host_alloc(size_t n) {
    void *p = nullptr;
    cudaError_t e = cudaMallocHost(&p, n ? n : 1);
    if (e != cudaSuccess) {
        fail("cudaMallocHost", e);
        return nullptr;
    }
    return p;
}

void host_release(void *p) { cudaFreeHost(p); }

int copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
    cudaError_t e = cudaMemcpyAsync(dst, src, n, kind, stream());
    if (e != cudaSuccess) return fail("cudaMemcpy", e);
    return finish("cudaMemcpy");
}
int upload(void *dst, const void *src, size_t n) { return copy(dst, src, n, cudaMemcpyHostToDevice); }
int download(void *dst, const void *src, size_t n) { return copy(dst, src, n, cudaMemcpyDeviceToHost); }
int zero(void *dst, size_t n) {
    cudaError_t e = cudaMemsetAsync(dst, 0, n, stream());
    return e == cudaSuccess ? 0 : fail("cudaMemset", e);
}

int accumulate(uint64_t *tot_lo, uint64_t *tot_hi, const uint64_t *lo, const uint64_t *hi, size_t n, uint64_t *tot_count,
               const uint64_t *count, size_t n_count) {
    const size_t m = n > n_count ? n : n_count;
    if (m == 0) return 0;
    accumulate_kernel<<<(unsigned)((m + kThreads - 1) / kThreads), kThreads, 0, stream()>>>(tot_lo, tot_hi, lo, hi, n,
                                                                                           tot_count, count, n_count);
    return finish("accumulate kernel");
}

int ablate(const float *gate, float *post, int64_t ld, int rows, const int32_t *idx, const float *val, const int8_t *sign,
           int n, int gc, int pc) {
    if (n <= 0 || rows <= 0) return 0;
    ablate_kernel<<<rows_grid(n, rows), kThreads, 0, stream()>>>(gate, post, ld, rows, idx, val, sign, n, gc, pc);
    return finish("ablation kernel");
}

int gather(const float *src, int64_t ld, int rows, const int32_t *idx, int n, float *dst) {
    if (n <= 0 || rows <= 0) return 0;
    gather_kernel<<<rows_grid(n, rows), kThreads, 0, stream()>>>(src, ld, rows, idx, n, dst);
    return finish("gather kernel");
}

int quadrants(const wcos_quad_args *a) {
    if (a->rows <= 0 || a->n_ff <= 0) return 0;
    wcos_quad_args args = *a;
    if (args.rows_per_thread <= 0) args.rows_per_thread = a->rows;
    const int chunks = (a->rows + args.rows_per_thread - 1) / args.rows_per_thread;
    quadrant_kernel<<<rows_grid(a->n_ff, chunks), kThreads, 0, stream()>>>(args);
    return finish("quadrant kernel");
}

int scale(const float *x, int64_t n_embd, int rows, float eps, int rms, float *out) {
    if (rows <= 0) return 0;
    scale_kernel<<<(rows + kThreads - 1) / kThreads, kThreads, 0, stream()>>>(x, n_embd, rows, eps, rms, out);
    return finish("scale kernel");
}

int metrics(const float *logits, int64_t n_vocab, int rows, const int32_t *target, double *entropy, double *loss,
            int32_t *rank) {
    if (rows <= 0) return 0;
    const int64_t threads = (int64_t)rows * WCOS_LANES;
    const unsigned blocks = (unsigned)((threads + kThreads - 1) / kThreads);
    metrics_kernel<<<blocks, kThreads, 0, stream()>>>(logits, n_vocab, rows, target, entropy, loss, rank);
    return finish("metrics kernel");
}

const char *error() { return last_error; }

const wcos_dev_ops table = {
    "CUDA", device_of, alloc,  release,   host_alloc, host_release, upload, download,
    zero,   accumulate, ablate, gather, quadrants,  scale,        metrics, error,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const wcos_dev_ops *WCOS_CUDA_OPS(void) { return &table; }
