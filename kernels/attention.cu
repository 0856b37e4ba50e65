// Causal attention over the KV cache for a batch of queries. One block per (query token, head), one thread
// per output dimension (headDim ≤ blockDim.x ≤ 1024). Keys are taken in tiles of blockDim.x: each thread
// scores one key, the block finds the tile maximum, and every thread rescales its running output with an
// online softmax. GQA/MQA: query head h reads KV head h / (heads/kvHeads).
// When capture is not null, the probabilities of every key are written to capture[t][h][0 … pos[t]]
// (stride maxPos), for attention inspection.
#include "common.cuh"

extern "C" __global__ void attention_f32(float* out, const float* q, const float* kc, const float* vc, const int* pos,
                                         long long heads, long long kvHeads, long long headDim, double scale,
                                         float* capture, long long maxPos) {
    DYNAMIC_SHARED(float, sh); // [blockDim.x] scores, then 32 for reductions
    float* sc = sh;
    float* red = sh + blockDim.x;
    long long t = blockIdx.x / heads, h = blockIdx.x % heads;
    long long kvDim = kvHeads * headDim, kh = (h / (heads / kvHeads)) * headDim;
    const float* qh = q + (t * heads + h) * headDim;
    long long n = (long long)pos[t] + 1;
    int d = threadIdx.x;
    float m = -INFINITY, l = 0.f, acc = 0.f;
    for (long long j0 = 0; j0 < n; j0 += blockDim.x) {
        long long j = j0 + threadIdx.x;
        float s = -INFINITY;
        if (j < n) {
            const float* k = kc + j * kvDim + kh;
            s = 0.f;
            for (long long i = 0; i < headDim; i++) s += qh[i] * k[i];
            s *= (float)scale;
            if (capture) capture[(t * heads + h) * maxPos + j] = s;
        }
        sc[threadIdx.x] = s;
        float mt = block_max(s, red);
        float mnew = fmaxf(m, mt);
        float corr = __expf(m - mnew);
        l *= corr;
        acc *= corr;
        long long tile = min((long long)blockDim.x, n - j0);
        for (long long u = 0; u < tile; u++) {
            float p = __expf(sc[u] - mnew);
            l += p;
            if (d < headDim) acc += p * vc[(j0 + u) * kvDim + kh + d];
        }
        m = mnew;
        __syncthreads();
    }
    if (d < headDim) out[(t * heads + h) * headDim + d] = acc / l;
    if (capture) {
        __syncthreads();
        for (long long j = threadIdx.x; j < n; j += blockDim.x) {
            float* c = capture + (t * heads + h) * maxPos + j;
            *c = __expf(*c - m) / l;
        }
    }
}
