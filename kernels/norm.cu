// RMSNorm fused with its weight, SwiGLU, residual add.
#include "common.cuh"

extern "C" {
// dst[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ w; one block per row.
__global__ void rmsnorm_f32(float* dst, const float* x, const float* w, long long dim, double eps) {
    __shared__ float red[32];
    const float* xr = x + blockIdx.x * dim;
    float* dr = dst + blockIdx.x * dim;
    float ss = 0.f;
    for (long long i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, red);
    float scale = 1.f / sqrtf(ss / (float)dim + (float)eps);
    for (long long i = threadIdx.x; i < dim; i += blockDim.x) dr[i] = xr[i] * scale * w[i];
}

// dst = silu(gate) ⊙ up.
__global__ void swiglu_f32(float* dst, const float* gate, const float* up, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { float g = gate[i]; dst[i] = g / (1.f + __expf(-g)) * up[i]; }
}

// dst += x.
__global__ void add_f32(float* dst, const float* x, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] += x[i];
}
}
