// The emulator's stand-in for CUDA's cuda_fp16.h (see cuda_emu.h).
#pragma once
#include "cuda_emu.h"

typedef _Float16 __half;
struct __align__half2 {
    __half x, y;
};
typedef __align__half2 __half2;
inline float __half2float(__half h) { return float(h); }
inline __half __float2half(float f) { return __half(f); }
inline __half __ushort_as_half(unsigned short v) {
    __half h;
    std::memcpy(&h, &v, sizeof h);
    return h;
}
