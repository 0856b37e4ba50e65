// Quantized matrix × vector (and small batches): dst[t][r] = Σ_c W[r][c]·x[t][c], t < n ≤ 8.
//
// A warp takes R weight rows (R = 1 for batches; 2 or 4 for one token, see below). The lanes take the rows'
// blocks (or, for k-quants, quarters of super-blocks) in turn, so that a warp's loads cover consecutive
// bytes of a row; each lane loads its whole unit with the widest loads the GGUF layout allows (16-byte for
// Q4_K and aligned float rows, 2-byte pieces for the 18/34/210-byte blocks, which are only 2-byte aligned),
// dequantizes in registers, and multiplies with the activations read as float4 (16-byte loads). The warp
// reduces each token's sum at the end. Every token of the batch reuses the weights a lane has loaded; with
// R > 1 every row reuses the activations a lane has loaded, which divides the activation traffic through L1
// (each lane reads its own 128 bytes of x per 32 values: more than the weights' bytes for one token) by R.
//
// One-token products of Q4_0 and Q8_0 weights can also read the activations coalesced (dot_rows_coalesced).
//
// Fused epilogues: add ≠ 0 accumulates (dst += W·x, the residual stream), and with a norm weight the last
// block then normalizes the result for the next sub-layer (norm_after); the swiglu kernels compute a row of
// gate and the same row of up in one warp and store silu(g)·u.
#include "common.cuh"
#include <mma.h>

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

__device__ __forceinline__ float4 ld4(const float* p) { return load<float4>(p); }

// The unit functions below take the same unit of R rows (blk[r]): they dequantize four values (or two groups
// of four) of every row at a time into registers, then load each token's activations for those values once
// and use them for every row, before the next four. That keeps few registers live (occupancy) while the
// loads of a unit are all issued up front by the unrolled loops. N bounds the batch at compile time (1 for
// the one-token kernels, whose loops then vanish).

__device__ __forceinline__ float dot4(float4 x, const float* w) { return x.x * w[0] + x.y * w[1] + x.z * w[2] + x.w * w[3]; }

// Q4_0 (18 bytes: d, 16 bytes of nibbles; value j < 16 is the low nibble of byte j, j+16 its high nibble).
template <int R, int N>
__device__ __forceinline__ void unit_q4_0(const uint8_t* const* blk, int, const float* x, long long cols, long long n, float (*acc)[N]) {
    float d[R];
#pragma unroll
    for (int r = 0; r < R; r++) d[r] = half_at(blk[r]);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float lo[R][4], hi[R][4];
#pragma unroll
        for (int r = 0; r < R; r++) {
            uint32_t v = load_weight<uint16_t>(blk[r] + 2 + 4 * i) | (uint32_t)load_weight<uint16_t>(blk[r] + 4 + 4 * i) << 16;
            uint32_t vl = v & 0x0F0F0F0F, vh = (v >> 4) & 0x0F0F0F0F;
#pragma unroll
            for (int k = 0; k < 4; k++) {
                lo[r][k] = d[r] * (byte_f(vl, k) - (F2P23 + 8));
                hi[r][k] = d[r] * (byte_f(vh, k) - (F2P23 + 8));
            }
        }
#pragma unroll
        for (int t = 0; t < N; t++) {
            if (t >= n) break;
            float4 xl = ld4(x + t * cols + 4 * i), xh = ld4(x + t * cols + 16 + 4 * i);
#pragma unroll
            for (int r = 0; r < R; r++) acc[r][t] += dot4(xl, lo[r]) + dot4(xh, hi[r]);
        }
    }
}

// Q8_0 (34 bytes: d, 32 signed bytes).
template <int R, int N>
__device__ __forceinline__ void unit_q8_0(const uint8_t* const* blk, int, const float* x, long long cols, long long n, float (*acc)[N]) {
    float d[R];
#pragma unroll
    for (int r = 0; r < R; r++) d[r] = half_at(blk[r]);
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float w[R][4];
#pragma unroll
        for (int r = 0; r < R; r++) {
            uint32_t v = load_weight<uint16_t>(blk[r] + 2 + 4 * i) | (uint32_t)load_weight<uint16_t>(blk[r] + 4 + 4 * i) << 16;
            v ^= 0x80808080; // signed bytes + 128
#pragma unroll
            for (int k = 0; k < 4; k++) w[r][k] = d[r] * (byte_f(v, k) - (F2P23 + 128));
        }
#pragma unroll
        for (int t = 0; t < N; t++) {
            if (t >= n) break;
            float4 xv = ld4(x + t * cols + 4 * i);
#pragma unroll
            for (int r = 0; r < R; r++) acc[r][t] += dot4(xv, w[r]);
        }
    }
}

// Q4_K quarter c of a super-block (144 bytes, 16-byte aligned): values 64c … 64c+63, sub-blocks 2c (low
// nibbles of qs[32c … 32c+31]) and 2c+1 (high nibbles); w = d·sc·q − dmin·m. x points at the super-block's
// first value.
template <int R, int N>
__device__ __forceinline__ void unit_q4_k(const uint8_t* const* sb, int c, const float* x, long long cols, long long n, float (*acc)[N]) {
    float d0[R], o0[R], d1[R], o1[R];
    uint32_t words[R][8];
#pragma unroll
    for (int r = 0; r < R; r++) {
        float d = half_at(sb[r]), dmin = half_at(sb[r] + 2);
        int sc0, m0, sc1, m1;
        q4k_scale_min(2 * c, sb[r] + 4, &sc0, &m0);
        q4k_scale_min(2 * c + 1, sb[r] + 4, &sc1, &m1);
        d0[r] = d * (float)sc0, o0[r] = dmin * (float)m0, d1[r] = d * (float)sc1, o1[r] = dmin * (float)m1;
        uint4 qa = load_weight<uint4>(sb[r] + 16 + 32 * c), qb = load_weight<uint4>(sb[r] + 32 + 32 * c);
        words[r][0] = qa.x, words[r][1] = qa.y, words[r][2] = qa.z, words[r][3] = qa.w;
        words[r][4] = qb.x, words[r][5] = qb.y, words[r][6] = qb.z, words[r][7] = qb.w;
    }
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float lo[R][4], hi[R][4];
#pragma unroll
        for (int r = 0; r < R; r++) {
            uint32_t vl = words[r][i] & 0x0F0F0F0F, vh = (words[r][i] >> 4) & 0x0F0F0F0F;
#pragma unroll
            for (int k = 0; k < 4; k++) {
                lo[r][k] = d0[r] * (byte_f(vl, k) - F2P23) - o0[r];
                hi[r][k] = d1[r] * (byte_f(vh, k) - F2P23) - o1[r];
            }
        }
#pragma unroll
        for (int t = 0; t < N; t++) {
            if (t >= n) break;
            const float* xt = x + t * cols + 64 * c;
            float4 xl = ld4(xt + 4 * i), xh = ld4(xt + 32 + 4 * i);
#pragma unroll
            for (int r = 0; r < R; r++) acc[r][t] += dot4(xl, lo[r]) + dot4(xh, hi[r]);
        }
    }
}

// Q6_K part p of a super-block (210 bytes): half h = p/2, l ∈ [16(p%2), 16(p%2)+16) of each of the four
// groups g: value 128h + 32g + l has its low 4 bits in ql[64h + l + 32(g%2)] (high nibble when g ≥ 2), its
// top 2 bits at bit 2g of qh[32h + l], and the scale sc[8h + 2g + p%2]; w = d·sc·(q − 32).
template <int R, int N>
__device__ __forceinline__ void unit_q6_k(const uint8_t* const* sb, int p, const float* x, long long cols, long long n, float (*acc)[N]) {
    int h = p >> 1, l0 = 16 * (p & 1);
    float ds[R][4];
#pragma unroll
    for (int r = 0; r < R; r++) {
        float d = half_at(sb[r] + 208);
        const int8_t* sc = reinterpret_cast<const int8_t*>(sb[r] + 192 + 8 * h + (p & 1));
#pragma unroll
        for (int g = 0; g < 4; g++) ds[r][g] = d * (float)sc[2 * g];
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        uint32_t a[R], b[R], u[R];
#pragma unroll
        for (int r = 0; r < R; r++) {
            const uint8_t* qlA = sb[r] + 64 * h + l0 + 4 * i;
            const uint8_t* qh = sb[r] + 128 + 32 * h + l0 + 4 * i;
            a[r] = load_weight<uint16_t>(qlA) | (uint32_t)load_weight<uint16_t>(qlA + 2) << 16;
            b[r] = load_weight<uint16_t>(qlA + 32) | (uint32_t)load_weight<uint16_t>(qlA + 34) << 16;
            u[r] = load_weight<uint16_t>(qh) | (uint32_t)load_weight<uint16_t>(qh + 2) << 16;
        }
#pragma unroll
        for (int g = 0; g < 4; g++) {
            float w[R][4];
#pragma unroll
            for (int r = 0; r < R; r++) {
                uint32_t lo = g & 1 ? b[r] : a[r];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    int nib = (lo >> (8 * k + (g >= 2 ? 4 : 0))) & 15;
                    int top = (u[r] >> (8 * k + 2 * g)) & 3;
                    w[r][k] = ds[r][g] * (float)((nib | (top << 4)) - 32);
                }
            }
#pragma unroll
            for (int t = 0; t < N; t++) {
                if (t >= n) break;
                float4 xv = ld4(x + t * cols + 128 * h + 32 * g + l0 + 4 * i);
#pragma unroll
                for (int r = 0; r < R; r++) acc[r][t] += dot4(xv, w[r]);
            }
        }
    }
}

// Float weights: a 16-byte chunk (4 floats or 8 halves) where a row's start is 16-byte aligned and its length
// a multiple of the chunk, else a single value (rows of any length: stories260K's feed-forward is 172 wide).
// chunk_floats converts a 16-byte chunk of floats or halves (the type of the last argument) to floats.
__device__ __forceinline__ void chunk_floats(uint4 c, float* f, float) {
    f[0] = __uint_as_float(c.x), f[1] = __uint_as_float(c.y), f[2] = __uint_as_float(c.z), f[3] = __uint_as_float(c.w);
}

__device__ __forceinline__ void chunk_floats(uint4 c, float* f, __half) {
    uint32_t w[4] = {c.x, c.y, c.z, c.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f[2 * i] = __half2float(__ushort_as_half((unsigned short)(w[i] & 0xFFFF)));
        f[2 * i + 1] = __half2float(__ushort_as_half((unsigned short)(w[i] >> 16)));
    }
}

template <typename T, int R, int N>
__device__ __forceinline__ void unit_float_chunk(const uint8_t* const* p, int, const float* x, long long cols, long long n, float (*acc)[N]) {
    const int V = 16 / sizeof(T);
    float f[R][V];
#pragma unroll
    for (int r = 0; r < R; r++) chunk_floats(load_weight<uint4>(p[r]), f[r], T());
#pragma unroll
    for (int t = 0; t < N; t++) {
        if (t >= n) break;
#pragma unroll
        for (int i = 0; i < V; i += 4) {
            float4 xv = ld4(x + t * cols + i);
#pragma unroll
            for (int r = 0; r < R; r++) acc[r][t] += dot4(xv, f[r] + i);
        }
    }
}

template <typename T, int R, int N>
__device__ __forceinline__ void unit_float_one(const uint8_t* const* p, int, const float* x, long long cols, long long n, float (*acc)[N]) {
    float v[R];
#pragma unroll
    for (int r = 0; r < R; r++) v[r] = (float)load_weight<T>(p[r]);
#pragma unroll
    for (int t = 0; t < N; t++) {
        if (t >= n) break;
        float xv = x[t * cols];
#pragma unroll
        for (int r = 0; r < R; r++) acc[r][t] += v[r] * xv;
    }
}

// Formats: BS values per block stored in TS bytes, UNITS lane work units per block, and the unit function.
enum { F_Q4_0, F_Q8_0, F_Q4_K, F_Q6_K, F_F32, F_F32_ONE, F_F16, F_F16_ONE };
template <int F> struct Fmt;
template <> struct Fmt<F_Q4_0> { static const int BS = QK, TS = 18, UNITS = 1; };
template <> struct Fmt<F_Q8_0> { static const int BS = QK, TS = 34, UNITS = 1; };
template <> struct Fmt<F_Q4_K> { static const int BS = QK_K, TS = 144, UNITS = 4; };
template <> struct Fmt<F_Q6_K> { static const int BS = QK_K, TS = 210, UNITS = 4; };
template <> struct Fmt<F_F32> { static const int BS = 4, TS = 16, UNITS = 1; };
template <> struct Fmt<F_F32_ONE> { static const int BS = 1, TS = 4, UNITS = 1; };
template <> struct Fmt<F_F16> { static const int BS = 8, TS = 16, UNITS = 1; };
template <> struct Fmt<F_F16_ONE> { static const int BS = 1, TS = 2, UNITS = 1; };

template <int F, int R, int N>
__device__ __forceinline__ void unit(const uint8_t* const* blk, int part, const float* x, long long cols, long long n, float (*acc)[N]) {
    if (F == F_Q4_0) unit_q4_0<R, N>(blk, part, x, cols, n, acc);
    if (F == F_Q8_0) unit_q8_0<R, N>(blk, part, x, cols, n, acc);
    if (F == F_Q4_K) unit_q4_k<R, N>(blk, part, x, cols, n, acc);
    if (F == F_Q6_K) unit_q6_k<R, N>(blk, part, x, cols, n, acc);
    if (F == F_F32) unit_float_chunk<float, R, N>(blk, part, x, cols, n, acc);
    if (F == F_F32_ONE) unit_float_one<float, R, N>(blk, part, x, cols, n, acc);
    if (F == F_F16) unit_float_chunk<__half, R, N>(blk, part, x, cols, n, acc);
    if (F == F_F16_ONE) unit_float_one<__half, R, N>(blk, part, x, cols, n, acc);
}

// row_bytes is the size of a row of cols values of format F.
template <int F>
__device__ __forceinline__ long long row_bytes(long long cols) { return cols / Fmt<F>::BS * Fmt<F>::TS; }

// dot_rows leaves in acc[r][t] each lane's part of row r of the weights (rows wr[r]) times token t's activations.
template <int F, int R, int N>
__device__ __forceinline__ void dot_rows(const uint8_t* const* wr, const float* x, long long cols, long long n, float (*acc)[N]) {
    int lane = threadIdx.x & 31;
    long long units = cols / Fmt<F>::BS * Fmt<F>::UNITS;
    for (long long u = lane; u < units; u += 32) {
        long long b = u / Fmt<F>::UNITS;
        int part = (int)(u % Fmt<F>::UNITS);
        const uint8_t* blk[R];
#pragma unroll
        for (int r = 0; r < R; r++) blk[r] = wr[r] + b * Fmt<F>::TS;
        unit<F, R, N>(blk, part, x + b * Fmt<F>::BS, cols, n, acc);
    }
}

// dot_rows_coalesced is dot_rows for one token of Q4_0 or Q8_0 weights with the activations read coalesced:
// per step a warp takes four blocks (128 values) of each row, lane l the four values 4(l%8) … 4(l%8)+3 of
// block l/8, so that the warp's float4 loads of x cover 512 consecutive bytes (in dot_rows each lane reads
// its own block's 128 bytes, and a warp's load touches 32 cache lines). The lanes of a block load its scale
// and their 4 bytes of it (2-byte loads: blocks are 2-byte aligned); the block's sum is scaled once.
template <int F, int R>
__device__ __forceinline__ void dot_rows_coalesced(const uint8_t* const* wr, const float* x, long long cols, float (*acc)[1]) {
    int lane = threadIdx.x & 31, p = 4 * (lane & 7);
    long long nb = cols / QK;
#pragma unroll 2
    for (long long b = lane >> 3; b < nb; b += 4) {
        float4 xv = ld4(x + b * QK + p);
#pragma unroll
        for (int r = 0; r < R; r++) {
            const uint8_t* blk = wr[r] + b * Fmt<F>::TS;
            float w[4];
            if (F == F_Q4_0) { // values p … p+3: the low nibbles of bytes p … p+3, or the high ones of p−16 …
                uint32_t v = load_weight<uint16_t>(blk + 2 + (p & 15)) | (uint32_t)load_weight<uint16_t>(blk + 4 + (p & 15)) << 16;
                v = (p & 16 ? v >> 4 : v) & 0x0F0F0F0F;
#pragma unroll
                for (int k = 0; k < 4; k++) w[k] = byte_f(v, k) - (F2P23 + 8);
            } else { // Q8_0: bytes p … p+3
                uint32_t v = load_weight<uint16_t>(blk + 2 + p) | (uint32_t)load_weight<uint16_t>(blk + 4 + p) << 16;
                v ^= 0x80808080;
#pragma unroll
                for (int k = 0; k < 4; k++) w[k] = byte_f(v, k) - (F2P23 + 128);
            }
            acc[r][0] += half_at(blk) * dot4(xv, w);
        }
    }
}

// store_sums reduces each token's per-lane partial sum over the warp; lane 0 writes (or adds to) dst[t][row].
template <int N>
__device__ __forceinline__ void store_sums(const float* acc, long long n, float* dst, long long rows, long long row, int lane, long long add) {
#pragma unroll
    for (int t = 0; t < N; t++) {
        if (t >= n) break;
        float s = warp_sum(acc[t]);
        if (lane == 0) dst[t * rows + row] = add ? dst[t * rows + row] + s : s;
    }
}

// matvec: the warp's R consecutive rows of the (up to three) weights taken together. Rows past the last are
// computed on the last row again (the warp stays whole for its shuffles) and not stored.
template <int F, int R, int N, bool COALESCED = false>
__device__ __forceinline__ void matvec(float* d0, const uint8_t* w0, long long rows0, float* d1, const uint8_t* w1,
                                       long long rows1, float* d2, const uint8_t* w2, long long rows2, const float* x,
                                       long long cols, long long n, long long add) {
    long long total = rows0 + rows1 + rows2;
    long long first = ((long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32) * R;
    if (first >= total) return;
    const uint8_t* wr[R];
    Seg sg[R];
    long long row[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        row[r] = min(first + r, total - 1);
        sg[r] = segment(row[r], d0, w0, rows0, d1, w1, rows1, d2, w2, rows2);
        wr[r] = sg[r].w + row[r] * row_bytes<F>(cols);
    }
    float acc[R][N];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int t = 0; t < N; t++) acc[r][t] = 0.f;
    if (N == 1) n = 1;
    if (COALESCED) dot_rows_coalesced<F, R>(wr, x, cols, reinterpret_cast<float(*)[1]>(acc));
    else dot_rows<F, R, N>(wr, x, cols, n, acc);
#pragma unroll
    for (int r = 0; r < R; r++)
        if (first + r < total) store_sums<N>(acc[r], n, sg[r].dst, sg[r].rows, row[r], threadIdx.x & 31, add);
}

// matvec_swiglu: dst[t][r] = silu(gate[r]·x[t]) · up[r]·x[t]; a warp per row of both.
template <int F, int N, bool COALESCED = false>
__device__ __forceinline__ void matvec_swiglu(float* dst, const uint8_t* gate, const uint8_t* up, long long rows,
                                              const float* x, long long cols, long long n) {
    long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const uint8_t* wr[2] = {gate + row * row_bytes<F>(cols), up + row * row_bytes<F>(cols)};
    float acc[2][N];
#pragma unroll
    for (int t = 0; t < N; t++) acc[0][t] = acc[1][t] = 0.f;
    if (N == 1) n = 1;
    if (COALESCED) dot_rows_coalesced<F, 2>(wr, x, cols, reinterpret_cast<float(*)[1]>(acc));
    else dot_rows<F, 2, N>(wr, x, cols, n, acc);
#pragma unroll
    for (int t = 0; t < N; t++) {
        if (t >= n) break;
        float g = warp_sum(acc[0][t]), u = warp_sum(acc[1][t]);
        if ((threadIdx.x & 31) == 0) dst[t * rows + row] = g / (1.f + __expf(-g)) * u;
    }
}

// norm_after: with w set, the launch's last block normalizes the n rows of dst (the residual stream after
// the add) into out with weight w — the RMSNorm before the next sub-layer, without a launch of its own, and
// with the same arithmetic as rmsnorm_f32 (same block size). The launch must hold the one weight of d0.
__device__ __forceinline__ void norm_after(const float* dst, long long rows, long long n, const float* w, float* out,
                                           double eps, unsigned* counter) {
    __shared__ float red[32];
    if (!w || !last_block(counter, gridDim.x)) return;
    for (long long t = 0; t < n; t++) rmsnorm_row(dst + t * rows, out + t * rows, w, rows, (float)eps, red);
}

// The kernels of one weight type: F is its format, ONE the format of rows whose length is not a multiple of
// F's block (float types only; for block types ONE == F and the test is settled at compile time).
// matvec_T (batches of up to 8 tokens, a row per warp), matvec1_rows2_T and matvec1_rows4_T (one token, two
// or four rows per warp), matvec_swiglu_T and matvec1_swiglu_T.
#define PICK(F, ONE, CALL_F, CALL_ONE) \
    if (F == ONE || cols % Fmt<F>::BS == 0) CALL_F; \
    else CALL_ONE;
#define MATVEC_ARGS                                                                                             \
    float *d0, const uint8_t *w0, long long rows0, float *d1, const uint8_t *w1, long long rows1, float *d2,    \
        const uint8_t *w2, long long rows2, const float *x, long long cols, long long n, long long add,         \
        const float *nw, float *nout, double eps, unsigned *counter
#define MATVEC_CALL d0, w0, rows0, d1, w1, rows1, d2, w2, rows2, x, cols, n, add
#define NORM_AFTER norm_after(d0, rows0, n, nw, nout, eps, counter);
#define KERNELS(T, F, ONE)                                                                                      \
    __global__ void matvec_##T(MATVEC_ARGS) { PICK(F, ONE, (matvec<F, 1, MAXN>(MATVEC_CALL)), (matvec<ONE, 1, MAXN>(MATVEC_CALL))) NORM_AFTER } \
    __global__ void matvec1_rows2_##T(MATVEC_ARGS) { PICK(F, ONE, (matvec<F, 2, 1>(MATVEC_CALL)), (matvec<ONE, 2, 1>(MATVEC_CALL))) NORM_AFTER } \
    __global__ void matvec1_rows4_##T(MATVEC_ARGS) { PICK(F, ONE, (matvec<F, 4, 1>(MATVEC_CALL)), (matvec<ONE, 4, 1>(MATVEC_CALL))) NORM_AFTER } \
    __global__ void matvec_swiglu_##T(float* dst, const uint8_t* gate, const uint8_t* up, long long rows, const float* x, \
                                      long long cols, long long n) {                                            \
        PICK(F, ONE, (matvec_swiglu<F, MAXN>(dst, gate, up, rows, x, cols, n)), (matvec_swiglu<ONE, MAXN>(dst, gate, up, rows, x, cols, n))) \
    }                                                                                                           \
    __global__ void matvec1_swiglu_##T(float* dst, const uint8_t* gate, const uint8_t* up, long long rows, const float* x, \
                                       long long cols, long long n) {                                           \
        PICK(F, ONE, (matvec_swiglu<F, 1>(dst, gate, up, rows, x, cols, n)), (matvec_swiglu<ONE, 1>(dst, gate, up, rows, x, cols, n))) \
    }

// Q4_0 and Q8_0 also have one-token kernels with the coalesced layout (dot_rows_coalesced):
// matvec1c_rows{1,2,4}_T and matvec1c_swiglu_T.
#define COALESCED_KERNELS(T, F)                                                                                 \
    __global__ void matvec1c_rows1_##T(MATVEC_ARGS) { matvec<F, 1, 1, true>(MATVEC_CALL); NORM_AFTER }        \
    __global__ void matvec1c_rows2_##T(MATVEC_ARGS) { matvec<F, 2, 1, true>(MATVEC_CALL); NORM_AFTER }        \
    __global__ void matvec1c_rows4_##T(MATVEC_ARGS) { matvec<F, 4, 1, true>(MATVEC_CALL); NORM_AFTER }        \
    __global__ void matvec1c_swiglu_##T(float* dst, const uint8_t* gate, const uint8_t* up, long long rows,    \
                                        const float* x, long long cols, long long n) {                         \
        matvec_swiglu<F, 1, true>(dst, gate, up, rows, x, cols, n);                                             \
    }

// matmul_tc_T: dst[t][r] = Σ_c W[r][c]·x[t][c] for prompt-sized batches, on the tensor cores (warp matrix
// functions, 16×16×16 tiles of f16 with float accumulators). A block of four warps takes 64 rows × 64
// tokens: for each step of 32 columns its threads dequantize the weights' 64 × 32 tile into f16 in shared
// memory and round the tokens' 64 × 32 activations to f16 beside it; warp w then multiplies rows
// 16w…16w+15 with the four 16-token tiles, accumulating in float over all the columns. The weights are
// read once per 64 tokens (matvec_T: once per 8), and their scales are applied as they are dequantized, so
// the accumulators need no per-block step. f16 ends at 65504: each token's activations are divided by a
// power of two s_t with max|x_t|/s_t < 2^15 before rounding (found in a first pass over the block's
// tokens), and its results multiplied by s_t (exact: a power of two along the whole row). The result goes
// through shared memory to dst (added to it when add), rows and tokens past the edges left out. cols must
// be a multiple of TC_K.
#define TC_ROWS 64
#define TC_TOKS 64
#define TC_K 32
#define TC_LD (TC_K + 8)    // halves per row of the staged tiles (a multiple of 8, as wmma loads need)
#define TC_CL (TC_ROWS + 4) // floats per token of the output tile

// deq16 writes elements c0…c0+15 (c0 a multiple of 16) of a weight row of format F to out: what deq_<type>
// gives for each (the same float operations), with the block's scale (and a k-quant's sub-block scale and
// minimum) read once for the sixteen. SHARED: row is in shared memory (a cp.async stage).
template <int F, bool SHARED>
__device__ __forceinline__ void deq16(const uint8_t* row, long long c0, float* out) {
    // From global memory the scales go through the read-only path (half_at); from a stage in shared memory
    // through a plain load (ld.global.nc on a shared address faults).
    auto half_at = [](const uint8_t* p) { return SHARED ? half_plain(p) : ::half_at(p); };
    if (F == F_Q4_0) {
        const uint8_t* b = row + (c0 / QK) * 18;
        const int shift = (c0 % QK) >= 16 ? 4 : 0; // values 16…31 are the high nibbles
        const float d = half_at(b);
#pragma unroll
        for (int i = 0; i < 16; i++) out[i] = (float)(((b[2 + i] >> shift) & 15) - 8) * d;
    } else if (F == F_Q8_0) {
        const uint8_t* b = row + (c0 / QK) * 34 + 2 + c0 % QK;
        const float d = half_at(row + (c0 / QK) * 34);
#pragma unroll
        for (int i = 0; i < 16; i++) out[i] = (float)(int8_t)b[i] * d;
    } else if (F == F_Q4_K) {
        const uint8_t* b = row + (c0 / QK_K) * 144;
        const int j0 = (int)(c0 % QK_K), c = j0 / 64, upper = (j0 % 64) >= 32;
        int sc, m;
        q4k_scale_min(2 * c + upper, b + 4, &sc, &m);
        const float ds = half_at(b) * (float)sc, dm = half_at(b + 2) * (float)m;
        const uint8_t* q = b + 16 + 32 * c + j0 % 32;
#pragma unroll
        for (int i = 0; i < 16; i++) out[i] = ds * (float)((q[i] >> (upper ? 4 : 0)) & 15) - dm;
    } else if (F == F_Q6_K) {
        const uint8_t* b = row + (c0 / QK_K) * 210;
        const int j0 = (int)(c0 % QK_K), n = j0 / 128, g = (j0 % 128) / 32, l0 = j0 % 32;
        const uint8_t* ql = b + 64 * n + ((g & 1) ? 32 : 0) + l0;
        const uint8_t* qh = b + 128 + 32 * n + l0;
        const float ds = half_at(b + 208) * (float)reinterpret_cast<const int8_t*>(b + 192 + 8 * n)[l0 / 16 + 2 * g];
#pragma unroll
        for (int i = 0; i < 16; i++) {
            int lo = g >= 2 ? (ql[i] >> 4) : (ql[i] & 15);
            out[i] = ds * (float)((lo | (((qh[i] >> (2 * g)) & 3) << 4)) - 32);
        }
    } else { // F_F16
#pragma unroll
        for (int i = 0; i < 16; i++) out[i] = half_at(row + 2 * (c0 + i));
    }
}

// tc_stage<F>: the raw weight stages of matmul_tc. Where cols is a multiple of KS, the weights go through
// shared memory in stages of KS columns of the block's 64 rows (SB bytes of each row), copied with cp.async
// (16 bytes at a time where every row's span is 16-byte aligned, else the 4-byte words that cover it) while
// the tensor cores work on the stage before: two stages in flight, in the space the output tile takes once
// the columns are done. LD is a row's bytes in a stage (its span, 2 bytes of misalignment and the words'
// overhang, rounded to 16).
template <int F>
struct tc_stage {
    static constexpr int KS = F == F_F16 ? 128 : 256;
    static constexpr int SB = F == F_Q4_0 ? 144 : F == F_Q8_0 ? 272 : F == F_Q4_K ? 144 : F == F_Q6_K ? 210 : 256;
    static constexpr int LD = (SB + 2 + 3 + 15) / 16 * 16;
    static constexpr int BYTES = 2 * TC_ROWS * LD;
};

// tc_issue starts the copy of stage s (columns s·KS…) of rows r0… into buf: each thread takes words in turn.
// Rows past the end are not copied (nothing reads them). Words may reach up to 3 bytes past a row's span,
// into the next row or the allocation's padding (LoadWeight pads every weight with zeros). w is 256-byte
// aligned (cuMemAlloc), so a row's span starts 0 or 2 bytes past a word (every row size is even).
template <int F>
__device__ __forceinline__ void tc_issue(unsigned char* buf, const uint8_t* w, long long rb, long long r0, long long rows,
                                         long long s, bool wide) {
    using S = tc_stage<F>;
    const long long span = s * S::SB;
    if (wide) {
        constexpr int n = S::SB / 16;
        for (int i = threadIdx.x; i < TC_ROWS * n; i += blockDim.x) {
            const int lr = i / n, k = i % n;
            if (r0 + lr < rows) cp_async16(buf + lr * S::LD + 16 * k, w + (r0 + lr) * rb + span + 16 * k);
        }
    } else {
        constexpr int n = (S::SB + 2 + 3) / 4;
        for (int i = threadIdx.x; i < TC_ROWS * n; i += blockDim.x) {
            const int lr = i / n, k = i % n;
            if (r0 + lr < rows) {
                const uint8_t* src = w + (r0 + lr) * rb + span;
                const uint8_t* a = reinterpret_cast<const uint8_t*>(reinterpret_cast<uintptr_t>(src) & ~uintptr_t(3));
                cp_async4(buf + lr * S::LD + 4 * k, a + 4 * k);
            }
        }
    }
    cp_async_commit();
}

template <int F>
__device__ __forceinline__ void matmul_tc(float* dst, const uint8_t* w, const float* x, long long rows, long long cols,
                                          long long n, long long add, long long stages) {
    using namespace nvcuda;
    using S = tc_stage<F>;
    alignas(32) __shared__ __half Ws[TC_ROWS * TC_LD];
    alignas(32) __shared__ __half Xs[TC_TOKS * TC_LD];
    // The output tile at the end; the raw weight stages before it.
    alignas(32) __shared__ unsigned char big[S::BYTES > 4 * TC_TOKS * TC_CL ? S::BYTES : 4 * TC_TOKS * TC_CL];
    float* Cs = reinterpret_cast<float*>(big);
    __shared__ float scale[TC_TOKS], inv[TC_TOKS]; // each token's s_t and 1/s_t
    const long long rowTiles = (rows + TC_ROWS - 1) / TC_ROWS;
    const long long r0 = (blockIdx.x % rowTiles) * TC_ROWS, t0 = (blockIdx.x / rowTiles) * TC_TOKS;
    const long long rb = row_bytes<F>(cols);
    const int warp = threadIdx.x >> 5;
    const int lr = threadIdx.x >> 1, lc = (threadIdx.x & 1) * (TC_K / 2); // this thread stages row/token lr, columns lc…
    const bool staged = stages && cols % S::KS == 0; // stages = 0: the weights read directly (for comparing)
    const bool wide = S::SB % 16 == 0 && rb % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
    if (staged) tc_issue<F>(big, w, rb, r0, rows, 0, wide); // the first stage's copy runs during the scales
    {   // Each token's scale: its two threads (neighbouring lanes) take half of its columns each.
        const long long t = t0 + lr;
        float m = 0.f;
        if (t < n)
            for (long long c = threadIdx.x & 1; c < cols; c += 2) m = fmaxf(m, fabsf(x[t * cols + c]));
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
        int e = 0;
        if (m > 0.f) frexpf(m, &e); // m < 2^e
        if ((threadIdx.x & 1) == 0) {
            scale[lr] = ldexpf(1.f, e - 15);
            inv[lr] = ldexpf(1.f, 15 - e);
        }
    }
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[TC_TOKS / 16];
#pragma unroll
    for (int j = 0; j < TC_TOKS / 16; j++) wmma::fill_fragment(acc[j], 0.f);
    __syncthreads();
    // step: the 32 columns k0… — the weights from row (its columns counted from kc), the activations from x.
    auto step = [&](const uint8_t* row, bool shared, long long kc, long long k0) {
        const long long r = r0 + lr, t = t0 + lr;
        const float xs = inv[lr];
        float wv[TC_K / 2];
        if (r < rows) {
            if (shared) deq16<F, true>(row, kc + lc, wv);
            else deq16<F, false>(row, kc + lc, wv);
        }
#pragma unroll
        for (int c = 0; c < TC_K / 2; c++) {
            Ws[lr * TC_LD + lc + c] = __float2half(r < rows ? wv[c] : 0.f);
            Xs[lr * TC_LD + lc + c] = __float2half(t < n ? x[t * cols + k0 + lc + c] * xs : 0.f);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TC_K; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
            wmma::load_matrix_sync(a, Ws + warp * 16 * TC_LD + kk, TC_LD);
#pragma unroll
            for (int j = 0; j < TC_TOKS / 16; j++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
                wmma::load_matrix_sync(b, Xs + j * 16 * TC_LD + kk, TC_LD);
                wmma::mma_sync(acc[j], a, b, acc[j]);
            }
        }
        __syncthreads(); // the tiles are used up before the next step overwrites them
    };
    if (staged) {
        const long long nst = cols / S::KS;
        for (long long s = 0; s < nst; s++) {
            unsigned char* buf = big + (s & 1) * (TC_ROWS * S::LD);
            if (s + 1 < nst) { // the next stage into the other buffer, which every thread is done with
                tc_issue<F>(big + ((s + 1) & 1) * (TC_ROWS * S::LD), w, rb, r0, rows, s + 1, wide);
                cp_async_wait<1>();
            } else {
                cp_async_wait<0>();
            }
            __syncthreads(); // every thread's copies of stage s have landed
            const uint8_t* row = buf + lr * S::LD + (reinterpret_cast<uintptr_t>(w + (r0 + lr) * rb + s * S::SB) & 3);
            for (long long kc = 0; kc < S::KS; kc += TC_K) step(row, true, kc, s * S::KS + kc);
        }
    } else {
        for (long long k0 = 0; k0 < cols; k0 += TC_K) step(w + (r0 + lr) * rb, false, k0, k0);
    }
#pragma unroll
    for (int j = 0; j < TC_TOKS / 16; j++)
        wmma::store_matrix_sync(Cs + j * 16 * TC_CL + warp * 16, acc[j], TC_CL, wmma::mem_col_major);
    __syncthreads();
    for (int i = threadIdx.x; i < TC_ROWS * TC_TOKS; i += blockDim.x) {
        const int rr = i % TC_ROWS, tt = i / TC_ROWS;
        const long long r = r0 + rr, t = t0 + tt;
        if (r < rows && t < n) {
            float v = Cs[tt * TC_CL + rr] * scale[tt];
            float* d = dst + t * rows + r;
            *d = add ? *d + v : v;
        }
    }
}

extern "C" {
COALESCED_KERNELS(q4_0, F_Q4_0)
COALESCED_KERNELS(q8_0, F_Q8_0)
KERNELS(f32, F_F32, F_F32_ONE)
KERNELS(f16, F_F16, F_F16_ONE)
KERNELS(q4_0, F_Q4_0, F_Q4_0)
KERNELS(q8_0, F_Q8_0, F_Q8_0)
KERNELS(q4_k, F_Q4_K, F_Q4_K)
KERNELS(q6_k, F_Q6_K, F_Q6_K)

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

// The tensor-core products (matmul_tc above): 128 threads a block, one block per 64 rows × 64 tokens.
#define MATMUL_TC(T, F)                                                                                  \
    __global__ void matmul_tc_##T(float* dst, const uint8_t* w, const float* x, long long rows, long long cols, \
                                  long long n, long long add, long long stages) {                        \
        matmul_tc<F>(dst, w, x, rows, cols, n, add, stages);                                             \
    }
MATMUL_TC(f16, F_F16)
MATMUL_TC(q4_0, F_Q4_0)
MATMUL_TC(q8_0, F_Q8_0)
MATMUL_TC(q4_k, F_Q4_K)
MATMUL_TC(q6_k, F_Q6_K)
}
