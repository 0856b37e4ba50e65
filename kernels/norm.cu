// RMSNorm fused with its weight, SwiGLU, residual add.
#include "common.cuh"

extern "C" {
// dst[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ w; one block per row.
__global__ void rmsnorm_f32(float* dst, const float* x, const float* w, long long dim, double eps) {
    __shared__ float red[32];
    rmsnorm_row(x + blockIdx.x * dim, dst + blockIdx.x * dim, w, dim, (float)eps, red);
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
