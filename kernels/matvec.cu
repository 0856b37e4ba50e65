// Quantized matrix × vector (and small batches): dst[t][r] = Σ_c W[r][c]·x[t][c].
// One warp per weight row; lanes stride over the row's blocks, dequantize in registers and accumulate in
// float; the warp reduces. Every token of the batch (n ≤ 8) reuses the weights a lane has loaded.
#include "common.cuh"

#define MAXN 8

// store_sums reduces each token's per-lane partial sum over the warp; lane 0 writes dst[t][row].
__device__ __forceinline__ void store_sums(const float* acc, long long n, float* dst, long long rows, long long row, int lane) {
    for (int t = 0; t < MAXN; t++) {
        if (t >= n) break;
        float s = warp_sum(acc[t]);
        if (lane == 0) dst[t * rows + row] = s;
    }
}

template <int BS, int TS, float (*DEQ)(const uint8_t*, int)>
__device__ void matvec_blocks(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    long long nb = cols / BS;
    const uint8_t* wr = w + row * nb * TS;
    float acc[MAXN];
    for (int t = 0; t < MAXN; t++) acc[t] = 0.f;
    // Each lane takes one element of a block per step: 32 lanes cover QK elements together, so loads of a
    // block are spread across the warp.
    for (long long b = 0; b < nb; b++) {
        const uint8_t* blk = wr + b * TS;
        for (int j = lane; j < BS; j += 32) {
            float v = DEQ(blk, j);
            long long c = b * BS + j;
            for (int t = 0; t < MAXN; t++)
                if (t < n) acc[t] += v * x[t * cols + c];
        }
    }
    store_sums(acc, n, dst, rows, row, lane);
}

// Float weights: rows of any length (no blocks), one warp per row, lanes stride over the columns.
template <typename T>
__device__ void matvec_float(float* dst, const T* w, const float* x, long long rows, long long cols, long long n) {
    long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const T* wr = w + row * cols;
    float acc[MAXN];
    for (int t = 0; t < MAXN; t++) acc[t] = 0.f;
    for (long long c = lane; c < cols; c += 32) {
        float v = (float)wr[c];
        for (int t = 0; t < MAXN; t++)
            if (t < n) acc[t] += v * x[t * cols + c];
    }
    store_sums(acc, n, dst, rows, row, lane);
}

extern "C" {
__global__ void matvec_f32(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    matvec_float<float>(dst, reinterpret_cast<const float*>(w), x, rows, cols, n);
}
__global__ void matvec_f16(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    matvec_float<__half>(dst, reinterpret_cast<const __half*>(w), x, rows, cols, n);
}
__global__ void matvec_q4_0(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    matvec_blocks<QK, 18, deq_q4_0>(dst, w, x, rows, cols, n);
}
__global__ void matvec_q8_0(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    matvec_blocks<QK, 34, deq_q8_0>(dst, w, x, rows, cols, n);
}
__global__ void matvec_q4_k(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    matvec_blocks<QK_K, 144, deq_q4_k>(dst, w, x, rows, cols, n);
}
__global__ void matvec_q6_k(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, long long n) {
    matvec_blocks<QK_K, 210, deq_q6_k>(dst, w, x, rows, cols, n);
}

// Embedding rows: dst[t] = row ids[t] of the table, dequantized. One block per token.
#define EMBED(name, BS, TS, DEQ)                                                                         \
    __global__ void name(float* dst, const uint8_t* table, const int* ids, long long cols) {             \
        long long t = blockIdx.x;                                                                        \
        const uint8_t* row = table + (long long)ids[t] * (cols / BS) * TS;                               \
        for (long long c = threadIdx.x; c < cols; c += blockDim.x)                                       \
            dst[t * cols + c] = DEQ(row + (c / BS) * TS, (int)(c % BS));                                 \
    }
__device__ __forceinline__ float deq_f32(const uint8_t* b, int) { return *reinterpret_cast<const float*>(b); }
__device__ __forceinline__ float deq_f16(const uint8_t* b, int) { return __half2float(*reinterpret_cast<const __half*>(b)); }
EMBED(embed_f32, 1, 4, deq_f32)
EMBED(embed_f16, 1, 2, deq_f16)
EMBED(embed_q4_0, QK, 18, deq_q4_0)
EMBED(embed_q8_0, QK, 34, deq_q8_0)
EMBED(embed_q4_k, QK_K, 144, deq_q4_k)
EMBED(embed_q6_k, QK_K, 210, deq_q6_k)
}
