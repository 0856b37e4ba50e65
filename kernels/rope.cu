// Rotary position embedding ("normal" mode) applied in place: in each head, pairs (2i, 2i+1) for
// i < ropeDim/2 rotate by θ = pos·freqScale·base^(−2i/ropeDim) / factor[i].
#include "common.cuh"

extern "C" __global__ void rope_f32(float* x, const int* pos, long long heads, long long headDim, long long ropeDim,
                                    double base, double freqScale, const float* factors) {
    long long t = blockIdx.x / heads, h = blockIdx.x % heads;
    float* v = x + (t * heads + h) * headDim;
    for (long long i = threadIdx.x; i < ropeDim / 2; i += blockDim.x) {
        double th = (double)pos[t] * freqScale * pow(base, -2.0 * (double)i / (double)ropeDim);
        if (factors) th /= (double)factors[i];
        double s, c;
        sincos(th, &s, &c);
        float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * (float)c - b * (float)s;
        v[2 * i + 1] = a * (float)s + b * (float)c;
    }
}
