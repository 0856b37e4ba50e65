// The emulator's stand-in for CUDA's mma.h: the warp matrix functions (nvcuda::wmma) for 16×16×16 tiles of
// __half with float accumulators, the shapes llamago's kernels use. On a GPU a fragment is spread over the
// warp's 32 threads in an unspecified layout, so a kernel can only load, multiply and store it whole; here
// lane 0 of the warp holds the whole tile and does the warp's whole operation, the other lanes nothing
// (their fragments are never read: a store is lane 0's). Loads read memory that the block wrote before a
// __syncthreads, as the GPU requires.
#pragma once
#include "cuda_emu.h"
#include "cuda_fp16.h"

namespace nvcuda {
namespace wmma {

// lane0 reports whether the calling thread is its warp's lane 0, the one that does the warp's operations.
inline bool lane0() { return (threadIdx.x & 31) == 0; }

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

// fragment holds a tile in logical row-major order: element (i, j) at v[i·cols + j], where a matrix_a
// fragment is M×K, a matrix_b K×N and an accumulator M×N.
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
    static constexpr int rows = std::is_same<Use, matrix_b>::value ? K : M;
    static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
    T v[rows * cols];
};

template <class Use, int M, int N, int K, class T, class Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, T x) {
    if (!lane0()) return;
    for (auto& e : f.v) e = x;
}

template <class Use, int M, int N, int K, class T, class Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
    using F = fragment<Use, M, N, K, T, Layout>;
    if (!lane0()) return;
    for (int i = 0; i < F::rows; i++)
        for (int j = 0; j < F::cols; j++)
            f.v[i * F::cols + j] = std::is_same<Layout, row_major>::value ? p[i * ldm + j] : p[i + j * ldm];
}

template <int M, int N, int K>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, __half, row_major>& a,
                     const fragment<matrix_b, M, N, K, __half, col_major>& b, const fragment<accumulator, M, N, K, float>& c) {
    if (!lane0()) return;
    float out[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = c.v[i * N + j];
            for (int k = 0; k < K; k++) s += float(a.v[i * K + k]) * float(b.v[k * N + j]);
            out[i * N + j] = s;
        }
    std::memcpy(d.v, out, sizeof out);
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
    if (!lane0()) return;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) (layout == mem_row_major ? p[i * ldm + j] : p[i + j * ldm]) = f.v[i * N + j];
}

} // namespace wmma
} // namespace nvcuda
