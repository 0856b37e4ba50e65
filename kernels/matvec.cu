// Quantized matrix × vector (and small batches): dst[t][r] = Σ_c W[r][c]·x[t][c], t < n ≤ 8.
//
// One warp per weight row. The lanes take the row's blocks (or, for k-quants, quarters of super-blocks)
// in turn, so that a warp's loads cover consecutive bytes of the row; each lane loads its whole unit with
// the widest loads the GGUF layout allows (16-byte for Q4_K and aligned float rows, 2-byte pieces for the
// 18/34/210-byte blocks, which are only 2-byte aligned), dequantizes in registers, and multiplies with
// the activations read as float4 (16-byte loads). The warp reduces each token's sum at the end. Every token
// of the batch reuses the weights a lane has loaded.
#include "common.cuh"

#define MAXN 8

// Seg is up to three weights of the same type and row length, multiplied with the same activations in one
// launch (Q, K and V; gate and up): global row r belongs to the first weight while r < rows0, then to the
// second while r < rows0 + rows1, then to the third.
struct Seg {
    float* dst;
    const uint8_t* w;
    long long rows;
};

// segment finds the weight that global row r belongs to and r's row within it.
__device__ __forceinline__ Seg segment(long long& r, float* d0, const uint8_t* w0, long long rows0, float* d1,
                                       const uint8_t* w1, long long rows1, float* d2, const uint8_t* w2, long long rows2) {
    if (r < rows0) return Seg{d0, w0, rows0};
    r -= rows0;
    if (r < rows1) return Seg{d1, w1, rows1};
    r -= rows1;
    return Seg{d2, w2, rows2};
}

// store_sums reduces each token's per-lane partial sum over the warp; lane 0 writes dst[t][row].
__device__ __forceinline__ void store_sums(const float* acc, long long n, float* dst, long long rows, long long row, int lane) {
#pragma unroll
    for (int t = 0; t < MAXN; t++) {
        if (t >= n) break;
        float s = warp_sum(acc[t]);
        if (lane == 0) dst[t * rows + row] = s;
    }
}

__device__ __forceinline__ float4 ld4(const float* p) { return load<float4>(p); }

__device__ __forceinline__ float dot4(float4 x, float a, float b, float c, float d) {
    return x.x * a + x.y * b + x.z * c + x.w * d;
}

// The unit functions below dequantize four values (or two groups of four) at a time into registers and
// use them for every token before the next four, which keeps few registers live (occupancy) while the
// loads of a unit are all issued up front by the unrolled loops.

// Q4_0 (18 bytes: d, 16 bytes of nibbles; value j < 16 is the low nibble of byte j, j+16 its high nibble).
__device__ __forceinline__ void unit_q4_0(const uint8_t* blk, const float* x, long long cols, long long n, float* acc) {
    float d = half_at(blk);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        uint32_t v = load<uint16_t>(blk + 2 + 4 * i) | (uint32_t)load<uint16_t>(blk + 4 + 4 * i) << 16;
        float l0 = d * (float)((int)(v & 15) - 8), l1 = d * (float)((int)((v >> 8) & 15) - 8);
        float l2 = d * (float)((int)((v >> 16) & 15) - 8), l3 = d * (float)((int)((v >> 24) & 15) - 8);
        float h0 = d * (float)((int)((v >> 4) & 15) - 8), h1 = d * (float)((int)((v >> 12) & 15) - 8);
        float h2 = d * (float)((int)((v >> 20) & 15) - 8), h3 = d * (float)((int)(v >> 28) - 8);
#pragma unroll
        for (int t = 0; t < MAXN; t++) {
            if (t >= n) break;
            const float* xt = x + t * cols;
            acc[t] += dot4(ld4(xt + 4 * i), l0, l1, l2, l3) + dot4(ld4(xt + 16 + 4 * i), h0, h1, h2, h3);
        }
    }
}

// Q8_0 (34 bytes: d, 32 signed bytes).
__device__ __forceinline__ void unit_q8_0(const uint8_t* blk, const float* x, long long cols, long long n, float* acc) {
    float d = half_at(blk);
#pragma unroll
    for (int i = 0; i < 8; i++) {
        uint32_t v = load<uint16_t>(blk + 2 + 4 * i) | (uint32_t)load<uint16_t>(blk + 4 + 4 * i) << 16;
        float w0 = d * (float)(int8_t)(v & 0xFF), w1 = d * (float)(int8_t)((v >> 8) & 0xFF);
        float w2 = d * (float)(int8_t)((v >> 16) & 0xFF), w3 = d * (float)(int8_t)(v >> 24);
#pragma unroll
        for (int t = 0; t < MAXN; t++) {
            if (t >= n) break;
            acc[t] += dot4(ld4(x + t * cols + 4 * i), w0, w1, w2, w3);
        }
    }
}

// Q4_K quarter c of a super-block (144 bytes, 16-byte aligned): values 64c … 64c+63, sub-blocks 2c (low
// nibbles of qs[32c … 32c+31]) and 2c+1 (high nibbles); w = d·sc·q − dmin·m. x points at the super-block's
// first value.
__device__ __forceinline__ void unit_q4_k(const uint8_t* sb, int c, const float* x, long long cols, long long n, float* acc) {
    float d = half_at(sb), dmin = half_at(sb + 2);
    int sc0, m0, sc1, m1;
    q4k_scale_min(2 * c, sb + 4, &sc0, &m0);
    q4k_scale_min(2 * c + 1, sb + 4, &sc1, &m1);
    float d0 = d * (float)sc0, o0 = dmin * (float)m0, d1 = d * (float)sc1, o1 = dmin * (float)m1;
    uint4 qa = load<uint4>(sb + 16 + 32 * c), qb = load<uint4>(sb + 32 + 32 * c);
    uint32_t words[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
#pragma unroll
    for (int i = 0; i < 8; i++) {
        uint32_t v = words[i];
        float l0 = d0 * (float)(v & 15) - o0, l1 = d0 * (float)((v >> 8) & 15) - o0;
        float l2 = d0 * (float)((v >> 16) & 15) - o0, l3 = d0 * (float)((v >> 24) & 15) - o0;
        float h0 = d1 * (float)((v >> 4) & 15) - o1, h1 = d1 * (float)((v >> 12) & 15) - o1;
        float h2 = d1 * (float)((v >> 20) & 15) - o1, h3 = d1 * (float)(v >> 28) - o1;
#pragma unroll
        for (int t = 0; t < MAXN; t++) {
            if (t >= n) break;
            const float* xt = x + t * cols + 64 * c;
            acc[t] += dot4(ld4(xt + 4 * i), l0, l1, l2, l3) + dot4(ld4(xt + 32 + 4 * i), h0, h1, h2, h3);
        }
    }
}

// Q6_K part p of a super-block (210 bytes): half h = p/2, l ∈ [16(p%2), 16(p%2)+16) of each of the four
// groups g: value 128h + 32g + l has its low 4 bits in ql[64h + l + 32(g%2)] (high nibble when g ≥ 2), its
// top 2 bits at bit 2g of qh[32h + l], and the scale sc[8h + 2g + p%2]; w = d·sc·(q − 32).
__device__ __forceinline__ void unit_q6_k(const uint8_t* sb, int p, const float* x, long long cols, long long n, float* acc) {
    int h = p >> 1, l0 = 16 * (p & 1);
    float d = half_at(sb + 208);
    const uint8_t* qlA = sb + 64 * h + l0;
    const uint8_t* qlB = sb + 64 * h + 32 + l0;
    const uint8_t* qh = sb + 128 + 32 * h + l0;
    const int8_t* sc = reinterpret_cast<const int8_t*>(sb + 192 + 8 * h + (p & 1));
    float ds[4];
#pragma unroll
    for (int g = 0; g < 4; g++) ds[g] = d * (float)sc[2 * g];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        uint32_t a = load<uint16_t>(qlA + 4 * i) | (uint32_t)load<uint16_t>(qlA + 4 * i + 2) << 16;
        uint32_t b = load<uint16_t>(qlB + 4 * i) | (uint32_t)load<uint16_t>(qlB + 4 * i + 2) << 16;
        uint32_t u = load<uint16_t>(qh + 4 * i) | (uint32_t)load<uint16_t>(qh + 4 * i + 2) << 16;
#pragma unroll
        for (int g = 0; g < 4; g++) {
            uint32_t lo = g & 1 ? b : a;
            float w[4];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                int nib = (lo >> (8 * k + (g >= 2 ? 4 : 0))) & 15;
                int top = (u >> (8 * k + 2 * g)) & 3;
                w[k] = ds[g] * (float)((nib | (top << 4)) - 32);
            }
#pragma unroll
            for (int t = 0; t < MAXN; t++) {
                if (t >= n) break;
                acc[t] += dot4(ld4(x + t * cols + 128 * h + 32 * g + l0 + 4 * i), w[0], w[1], w[2], w[3]);
            }
        }
    }
}

// matvec_blocks: lanes take units in turn; UNITS units per block of BS values stored in TS bytes.
template <int BS, int TS, int UNITS, int KIND>
__device__ void matvec_blocks(const Seg& sg, const float* x, long long row, long long cols, long long n) {
    float* dst = sg.dst;
    const uint8_t* w = sg.w;
    long long rows = sg.rows;
    int lane = threadIdx.x & 31;
    long long nb = cols / BS;
    const uint8_t* wr = w + row * nb * TS;
    float acc[MAXN];
#pragma unroll
    for (int t = 0; t < MAXN; t++) acc[t] = 0.f;
    for (long long u = lane; u < nb * UNITS; u += 32) {
        long long b = u / UNITS;
        int part = (int)(u % UNITS);
        const uint8_t* blk = wr + b * TS;
        const float* xb = x + b * BS;
        if (KIND == 0) unit_q4_0(blk, xb, cols, n, acc);
        if (KIND == 1) unit_q8_0(blk, xb, cols, n, acc);
        if (KIND == 2) unit_q4_k(blk, part, xb, cols, n, acc);
        if (KIND == 3) unit_q6_k(blk, part, xb, cols, n, acc);
    }
    store_sums(acc, n, dst, rows, row, lane);
}

// Float weights: rows of any length. When a row's start is 16-byte aligned and its length a multiple of
// the vector width, lanes take 16-byte chunks (4 floats or 8 halves); otherwise single values.
template <typename T>
__device__ void matvec_float(const Seg& sg, const float* x, long long row, long long cols, long long n) {
    float* dst = sg.dst;
    long long rows = sg.rows;
    int lane = threadIdx.x & 31;
    const T* wr = reinterpret_cast<const T*>(sg.w) + row * cols;
    float acc[MAXN];
#pragma unroll
    for (int t = 0; t < MAXN; t++) acc[t] = 0.f;
    const int V = 16 / sizeof(T);
    if (cols % V == 0) {
        for (long long c = (long long)lane * V; c < cols; c += 32 * V) {
            uint4 raw = load<uint4>(wr + c);
            const T* v = reinterpret_cast<const T*>(&raw);
            float f[V];
#pragma unroll
            for (int i = 0; i < V; i++) f[i] = (float)v[i];
#pragma unroll
            for (int t = 0; t < MAXN; t++) {
                if (t >= n) break;
                const float* xt = x + t * cols + c;
                float s = 0.f;
#pragma unroll
                for (int i = 0; i < V; i += 4) s += dot4(ld4(xt + i), f[i], f[i + 1], f[i + 2], f[i + 3]);
                acc[t] += s;
            }
        }
    } else {
        for (long long c = lane; c < cols; c += 32) {
            float v = (float)wr[c];
#pragma unroll
            for (int t = 0; t < MAXN; t++)
                if (t < n) acc[t] += v * x[t * cols + c];
        }
    }
    store_sums(acc, n, dst, rows, row, lane);
}

// The kernels: dst_i[t][r] = Σ_c W_i[r][c]·x[t][c] for the (up to three) weights; one warp per row of all
// of them together (rows1 = rows2 = 0 for a single product).
#define MATVEC(name, CALL)                                                                                        \
    __global__ void name(float* d0, const uint8_t* w0, long long rows0, float* d1, const uint8_t* w1,             \
                         long long rows1, float* d2, const uint8_t* w2, long long rows2, const float* x,           \
                         long long cols, long long n) {                                                            \
        long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;                              \
        if (row >= rows0 + rows1 + rows2) return;                                                                  \
        Seg sg = segment(row, d0, w0, rows0, d1, w1, rows1, d2, w2, rows2);                                        \
        CALL;                                                                                                      \
    }

extern "C" {
MATVEC(matvec_f32, (matvec_float<float>(sg, x, row, cols, n)))
MATVEC(matvec_f16, (matvec_float<__half>(sg, x, row, cols, n)))
MATVEC(matvec_q4_0, (matvec_blocks<QK, 18, 1, 0>(sg, x, row, cols, n)))
MATVEC(matvec_q8_0, (matvec_blocks<QK, 34, 1, 1>(sg, x, row, cols, n)))
MATVEC(matvec_q4_k, (matvec_blocks<QK_K, 144, 4, 2>(sg, x, row, cols, n)))
MATVEC(matvec_q6_k, (matvec_blocks<QK_K, 210, 4, 3>(sg, x, row, cols, n)))

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
