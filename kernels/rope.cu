// Rotary position embedding ("normal" mode) applied in place: in each head, pairs (2i, 2i+1) for
// i < ropeDim/2 rotate by θ = pos·freqScale·base^(−2i/ropeDim) / factor[i].
#include "common.cuh"

__device__ __forceinline__ void rope_head(float* v, long long p, long long ropeDim, double base, double freqScale,
                                          const float* factors) {
    for (long long i = threadIdx.x; i < ropeDim / 2; i += blockDim.x) {
        double th = (double)p * freqScale * pow(base, -2.0 * (double)i / (double)ropeDim);
        if (factors) th /= (double)factors[i];
        double s, c;
        sincos(th, &s, &c);
        float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * (float)c - b * (float)s;
        v[2 * i + 1] = a * (float)s + b * (float)c;
    }
}

// rope_f32 rotates x (tokens × heads × headDim); one block per (token, head).
extern "C" __global__ void rope_f32(float* x, const int* pos, long long heads, long long headDim, long long ropeDim,
                                    double base, double freqScale, const float* factors) {
    long long t = blockIdx.x / heads, h = blockIdx.x % heads;
    rope_head(x + (t * heads + h) * headDim, pos[t], ropeDim, base, freqScale, factors);
}

// rope_store_f32 is rope_f32 on q and on k, then kv_store_f32, in one launch: blocks (token, head) for the
// heads query heads, then (token, KV head) for the kvHeads key heads, which also copy the rotated keys and
// the values of their head into the cache rows of the token's slot. Token t is at position pos[t] (the
// rotation) and goes to slot slot[t] of the paged cache (see attention.cu).
// rope_store_f16 stores them in a half-precision cache (see attention.cu).
#define ROPE_STORE_PARAMS(KV)                                                                                 \
    float *q, float *k, const float *v, KV *kc, KV *vc, const int *pos, const int *slot, long long heads,               \
        long long kvHeads, long long headDim, long long ropeDim, double base, double freqScale, const float *factors
#define ROPE_STORE_ARGS q, k, v, kc, vc, pos, slot, heads, kvHeads, headDim, ropeDim, base, freqScale, factors

template <typename KV> __device__ __forceinline__ void rope_store(ROPE_STORE_PARAMS(KV)) {
    long long per = heads + kvHeads, t = blockIdx.x / per, h = blockIdx.x % per, p = pos[t];
    if (h < heads) {
        rope_head(q + (t * heads + h) * headDim, p, ropeDim, base, freqScale, factors);
        return;
    }
    h -= heads;
    long long kvDim = kvHeads * headDim, off = t * kvDim + h * headDim, dst = (long long)slot[t] * kvDim + h * headDim;
    rope_head(k + off, p, ropeDim, base, freqScale, factors);
    __syncthreads(); // the rotated pairs were written by other threads
    for (long long i = threadIdx.x; i < headDim; i += blockDim.x) {
        kc[dst + i] = kv_from<KV>(k[off + i]);
        vc[dst + i] = kv_from<KV>(v[off + i]);
    }
}

KV_KERNELS(rope_store, ROPE_STORE_PARAMS, ROPE_STORE_ARGS)
