// Shared helpers of llamago's CUDA kernels. Kernel parameters are all 8 bytes wide (pointers, long long,
// double): gorgonia.org/cu copies every argument as 8 bytes.
#pragma once
#include <cuda_fp16.h>
#include <stdint.h>

#define QK 32
#define QK_K 256

// DYNAMIC_SHARED declares the kernel's dynamic shared memory (the launch's shared bytes) as T name[]; the
// CPU emulator (kernels/emu) defines its own.
#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

// load reads a T at p, which must be aligned to sizeof(T) as the GPU requires (the emulator checks it).
// A plain load: the compiler may merge loads of one address (matvec's rows share the activations so).
template <class T>
__device__ __forceinline__ T load(const void* p) {
#ifdef LLAMAGO_EMU
    emu::check_aligned(p, sizeof(T));
#endif
    return *reinterpret_cast<const T*>(p);
}

// load_weight is load through the read-only data path (ld.global.nc, where a plain load through a pointer
// the compiler cannot place would be a generic one), for weights: read once, never written by a kernel.
template <class T>
__device__ __forceinline__ T load_weight(const void* p) {
#ifdef LLAMAGO_EMU
    emu::check_aligned(p, sizeof(T));
#endif
    return __ldg(reinterpret_cast<const T*>(p)); // (the emulator's __ldg checks the memory space)
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}

// byte_f returns byte k of w as a float plus 2^23, without an int → float conversion (which GPUs run at a
// quarter of the rate of float arithmetic): the float with bits 0x4B0000bb is 2^23 + bb. One byte permute;
// callers subtract 2^23 and any offset of the quantization with one exact float add.
__device__ __forceinline__ float byte_f(uint32_t w, int k) { return __int_as_float(__byte_perm(w, 0x4B000000u, 0x7440u | k)); }
#define F2P23 8388608.f // 2^23

// Asynchronous copies from global to shared memory (cp.async, sm_80): cp_async4/cp_async16 issue a copy of
// 4 or 16 bytes (both addresses aligned to it), cp_async_commit closes the thread's group of copies, and
// cp_async_wait<N> waits until at most the N newest groups are still in flight; a __syncthreads after it
// makes every thread's copies visible to the block. The emulator lands a copy only at the wait.
#ifndef LLAMAGO_EMU
__device__ __forceinline__ void cp_async4(void* dst, const void* src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
#else
inline void cp_async4(void* dst, const void* src) { cp_async(dst, src, 4); }
inline void cp_async16(void* dst, const void* src) { cp_async(dst, src, 16); }
#endif

__device__ __forceinline__ float half_at(const uint8_t* p) { return __half2float(load_weight<__half>(p)); }
// half_plain is half_at through a plain (generic) load: for halves in shared memory.
__device__ __forceinline__ float half_plain(const uint8_t* p) { return __half2float(load<__half>(p)); }

// block_sum reduces v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the sum.
__device__ __forceinline__ float block_sum(float v, float* shared32) {
    v = warp_sum(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    float t = lane < (blockDim.x >> 5) ? shared32[lane] : 0.f;
    return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v, float* shared32) {
    v = warp_max(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    float t = lane < (blockDim.x >> 5) ? shared32[lane] : -INFINITY;
    return warp_max(t);
}

// last_block tells every thread of a block whether its block is the last of `blocks` blocks sharing counter
// to get here (the counter is zero before and reset by that block). The other blocks' global writes made
// before their call are then visible to it, read through L2 (__ldcg: L1 may hold stale lines). A kernel that
// ends with a step over what all its blocks wrote (a norm of rows, a merge of splits) so needs no launch of
// its own. Every thread of the block must call it.
__device__ __forceinline__ bool last_block(unsigned* counter, unsigned blocks) {
    __shared__ unsigned is_last;
    __threadfence(); // this thread's writes, before the ticket
    __syncthreads();
    if (threadIdx.x == 0) {
        is_last = atomicAdd(counter, 1u) == blocks - 1;
        if (is_last) *counter = 0;
        __threadfence();
    }
    __syncthreads();
    return is_last;
}

// rmsnorm_row: out = x / sqrt(mean(x²) + eps) ⊙ w over one row of dim values, by the whole block. x is read
// through L2, so the row may have been written by other blocks of the kernel (see last_block).
__device__ __forceinline__ void rmsnorm_row(const float* x, float* out, const float* w, long long dim, float eps, float* red32) {
    float ss = 0.f;
    for (long long i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = __ldcg(x + i);
        ss += v * v;
    }
    ss = block_sum(ss, red32);
    float scale = 1.f / sqrtf(ss / (float)dim + eps);
    for (long long i = threadIdx.x; i < dim; i += blockDim.x) out[i] = __ldcg(x + i) * scale * w[i];
}

// Dequantization of one element pair of each block format, as gguf/ (the CPU reference) defines them.
// deq_<type>(block, j) returns element j (0 ≤ j < block size) of the block at `block`.
__device__ __forceinline__ float deq_q4_0(const uint8_t* b, int j) {
    uint8_t q = b[2 + (j & 15)];
    int v = j < 16 ? (q & 15) : (q >> 4);
    return (float)(v - 8) * half_at(b);
}

__device__ __forceinline__ float deq_q8_0(const uint8_t* b, int j) {
    return (float)(int8_t)b[2 + j] * half_at(b);
}

__device__ __forceinline__ void q4k_scale_min(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) { *sc = q[j] & 63; *m = q[j + 4] & 63; }
    else { *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
}

__device__ __forceinline__ float deq_q4_k(const uint8_t* b, int j) {
    int c = j / 64, r = j % 64, sub = 2 * c + (r >= 32);
    int sc, m;
    q4k_scale_min(sub, b + 4, &sc, &m);
    uint8_t q = b[16 + 32 * c + (r & 31)];
    int v = r < 32 ? (q & 15) : (q >> 4);
    return half_at(b) * (float)sc * (float)v - half_at(b + 2) * (float)m;
}

__device__ __forceinline__ float deq_q6_k(const uint8_t* b, int j) {
    int n = j / 128, r = j % 128, g = r / 32, l = r % 32;
    const uint8_t* ql = b + 64 * n;
    const uint8_t* qh = b + 128 + 32 * n;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * n);
    int lo = (g & 1) ? ql[l + 32] : ql[l];
    lo = (g >= 2) ? (lo >> 4) : (lo & 15);
    int hi = (qh[l] >> (2 * g)) & 3;
    int q = (lo | (hi << 4)) - 32;
    return half_at(b + 208) * (float)sc[l / 16 + 2 * g] * (float)q;
}

// The KV cache's elements: floats, or half-precision floats widened exactly as they are read (kv_load) and
// rounded to nearest, ties to even, as they are stored (kv_from).
__device__ __forceinline__ float kv_load(float x) { return x; }
__device__ __forceinline__ float kv_load(__half x) { return __half2float(x); }
template <typename KV> __device__ __forceinline__ KV kv_from(float x);
template <> __device__ __forceinline__ float kv_from<float>(float x) { return x; }
template <> __device__ __forceinline__ __half kv_from<__half>(float x) { return __float2half(x); }

// The kernels of both cache types from one template body: NAME_f32 and NAME_f16 call NAME<KV>(args).
#define KV_KERNELS(NAME, PARAMS, ARGS) \
    extern "C" __global__ void NAME##_f32(PARAMS(float)) { NAME<float>(ARGS); } \
    extern "C" __global__ void NAME##_f16(PARAMS(__half)) { NAME<__half>(ARGS); }
