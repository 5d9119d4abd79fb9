// Sketch (not wired in yet, docs/cuda.md §5): device-side versions of the two hot hook paths of
// native/hooks.c, so that a GPU run no longer copies whole gate/up/post tensors to the host per layer.
// Built by native/cmake with WCOS_CUDA=ON as libwcos-cuda-hooks.so; the eval callback would call these
// on tensors whose buffer is not host memory, passing device pointers (tensor->data).
//
// The callback runs after ggml has synchronised the node, and ggml's CUDA streams do not synchronise
// with others, so each entry point finishes its work (cudaStreamSynchronize) before returning: the
// next ggml kernel then reads the ablated post.
#include <cuda_runtime.h>
#include <stdint.h>

namespace {

// Conditional ablation: post[r, idx[i]] = val[i] where the gate and s_i·post conditions hold
// (cond: 0 none, +1 strictly positive, -1 strictly negative), as on_swiglu in hooks.c.
__global__ void ablate_kernel(const float *__restrict__ gate, float *__restrict__ post, int64_t ld, int rows,
                              const int32_t *__restrict__ idx, const float *__restrict__ val,
                              const int8_t *__restrict__ sign, int n, int gate_cond, int post_cond) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int r = blockIdx.y;
    if (i >= n || r >= rows) return;
    const int64_t o = (int64_t)r * ld + idx[i];
    const float g = gate[o], p = post[o];
    if (gate_cond > 0 && !(g > 0.0f)) return;
    if (gate_cond < 0 && !(g < 0.0f)) return;
    const float sp = sign[i] * p;
    if (post_cond > 0 && !(sp > 0.0f)) return;
    if (post_cond < 0 && !(sp < 0.0f)) return;
    post[o] = val[i];
}

// Fixed-point scale of native/stats.c (2^40). A batch's sums fit int64 while |sum| < 2^23 per neuron
// and quadrant (e.g. |value| < 2^10 over 8192 rows; the caller must check the bound or split the
// batch); the host adds them to its __int128 totals, so counts and the post/gate/in sums are exact and
// independent of the order of the atomic additions. swish uses the device expf (within 2 ulp of the
// host's), so its sums may differ from the CPU path in the last bits.
constexpr double kFix = 1099511627776.0;

// Quadrant statistics without top-k: thread = neuron (coalesced across the warp), blockIdx.y = a
// chunk of rows; registers accumulate, then one atomic add per counter.
// count: [4, n_ff]; sum: [4, 4 vars (post, gate, in, swish), n_ff], two's complement in uint64.
__global__ void quadrant_kernel(const float *__restrict__ gate, const float *__restrict__ up,
                                const float *__restrict__ post, int64_t ld, int rows, int n_ff, int rows_per_block,
                                const int8_t *__restrict__ sign, unsigned long long *__restrict__ count,
                                unsigned long long *__restrict__ sum) {
    const int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= n_ff) return;
    const int r0 = blockIdx.y * rows_per_block;
    const int r1 = min(rows, r0 + rows_per_block);
    const float s = sign[n];
    long long c[4] = {0, 0, 0, 0};
    long long acc[4][4] = {};
#pragma unroll 4
    for (int r = r0; r < r1; r++) {
        const int64_t o = (int64_t)r * ld + n;
        const float gv = gate[o], iv = s * up[o];
        if (gv == 0.0f || iv == 0.0f) continue;  // strict signs, as stats.c
        const int q = (gv < 0.0f) * 2 + (iv < 0.0f);
        const float pv = s * post[o];
        const float sw = gv / (1.0f + expf(-gv));  // no fast math: same as the host's expf up to 1 ulp
        const float v[4] = {pv, gv, iv, sw};
        // q is run-time: branch to constant indices so c and acc stay in registers.
#pragma unroll
        for (int k = 0; k < 4; k++) {
            if (k != q) continue;
            c[k]++;
#pragma unroll
            for (int j = 0; j < 4; j++) acc[k][j] += __double2ll_rn((double)v[j] * kFix);
        }
    }
#pragma unroll
    for (int k = 0; k < 4; k++) {
        if (c[k] == 0) continue;
        atomicAdd(&count[(size_t)k * n_ff + n], (unsigned long long)c[k]);
#pragma unroll
        for (int j = 0; j < 4; j++) atomicAdd(&sum[((size_t)k * 4 + j) * n_ff + n], (unsigned long long)acc[k][j]);
    }
}

int finish(cudaStream_t st) {
    if (cudaGetLastError() != cudaSuccess) return -1;
    return cudaStreamSynchronize(st) == cudaSuccess ? 0 : -2;
}

}  // namespace

extern "C" {

// Device pointers throughout; stream may be NULL (the legacy default stream).
int wcos_cuda_ablate(const float *gate, float *post, int64_t ld, int rows, const int32_t *idx, const float *val,
                     const int8_t *sign, int n, int gate_cond, int post_cond, void *stream) {
    if (n <= 0 || rows <= 0) return 0;
    cudaStream_t st = (cudaStream_t)stream;
    dim3 grid((n + 127) / 128, rows);
    ablate_kernel<<<grid, 128, 0, st>>>(gate, post, ld, rows, idx, val, sign, n, gate_cond, post_cond);
    return finish(st);
}

int wcos_cuda_quadrants(const float *gate, const float *up, const float *post, int64_t ld, int rows, int n_ff,
                        const int8_t *sign, unsigned long long *count, unsigned long long *sum, void *stream) {
    if (rows <= 0 || n_ff <= 0) return 0;
    cudaStream_t st = (cudaStream_t)stream;
    const int rows_per_block = 64;  // 4096 rows × 11008 neurons: 86 × 64 blocks of 128 threads
    dim3 grid((n_ff + 127) / 128, (rows + rows_per_block - 1) / rows_per_block);
    quadrant_kernel<<<grid, 128, 0, st>>>(gate, up, post, ld, rows, n_ff, rows_per_block, sign, count, sum);
    return finish(st);
}

}  // extern "C"
