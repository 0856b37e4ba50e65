//go:build cudaemu && !cuda

// The kernels of kernels/*.cu compiled for the CPU emulator (kernels/emu/cuda_emu.h), and a launcher that
// takes each kernel's arguments as 8-byte words, as the CUDA driver does.
#include "cuda_emu.h"

#include "matvec.cu"
#include "norm.cu"
#include "rope.cu"
#include "attention.cu"

#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

template <class T>
T from_bits(uint64_t v) {
    T r;
    std::memcpy(&r, &v, sizeof r);
    return r;
}

template <auto K, class... A, size_t... I>
void call(const uint64_t* a, std::index_sequence<I...>) {
    K(from_bits<A>(a[I])...);
}

struct Entry {
    int nargs;
    void (*run)(unsigned grid, unsigned block, size_t shmem, const uint64_t* args);
};

template <auto K, class... A>
Entry entry_of(void (*)(A...)) {
    return Entry{int(sizeof...(A)), [](unsigned grid, unsigned block, size_t shmem, const uint64_t* a) {
                     std::vector<uint64_t> args(a, a + sizeof...(A));
                     emu::launch(grid, block, shmem, [&args] { call<K, A...>(args.data(), std::index_sequence_for<A...>{}); });
                 }};
}

#define KERNEL(name) {#name, entry_of<name>(name)}

const std::map<std::string, Entry>& kernels() {
    static const std::map<std::string, Entry> t = {
#define EMU_WEIGHT(T) KERNEL(matvec_##T), KERNEL(matvec1_rows2_##T), KERNEL(matvec1_rows4_##T), \
    KERNEL(matvec_swiglu_##T), KERNEL(matvec1_swiglu_##T), KERNEL(embed_##T)
#define EMU_COALESCED(T) KERNEL(matvec1c_rows1_##T), KERNEL(matvec1c_rows2_##T), KERNEL(matvec1c_rows4_##T), \
    KERNEL(matvec1c_swiglu_##T)
        EMU_WEIGHT(f32), EMU_WEIGHT(f16), EMU_WEIGHT(q4_0), EMU_WEIGHT(q8_0), EMU_WEIGHT(q4_k), EMU_WEIGHT(q6_k),
        EMU_COALESCED(q4_0), EMU_COALESCED(q8_0), KERNEL(rmsnorm_f32), KERNEL(swiglu_f32), KERNEL(add_f32),
        KERNEL(rope_f32), KERNEL(rope_store_f32), KERNEL(attention_f32), KERNEL(attention_tile_f32), KERNEL(kv_store_f32),
        KERNEL(rope_store_f16), KERNEL(attention_f16), KERNEL(attention_tile_f16), KERNEL(kv_store_f16),
        KERNEL(matmul_tc_f16), KERNEL(matmul_tc_q4_0), KERNEL(matmul_tc_q8_0), KERNEL(matmul_tc_q4_k), KERNEL(matmul_tc_q6_k),
    };
    return t;
}

} // namespace

// llamago_emu_launch runs kernel name over grid blocks of block threads; it returns 0, or -1 for an unknown
// kernel, -2 for a wrong number of arguments.
extern "C" int llamago_emu_launch(const char* name, unsigned grid, unsigned block, unsigned long shmem,
                                  const uint64_t* args, int nargs) {
    auto it = kernels().find(name);
    if (it == kernels().end()) return -1;
    if (nargs != it->second.nargs) return -2;
    it->second.run(grid, block, shmem, args);
    return 0;
}

// llamago_emu_has reports whether the emulator knows kernel name.
extern "C" int llamago_emu_has(const char* name) { return kernels().count(name) ? 1 : 0; }

// llamago_emu_profile starts (on ≠ 0) or stops the memory profile; starting resets its counts.
extern "C" void llamago_emu_profile(int on) {
    emu::profile = emu::Profile{on != 0, 0, 0, 0};
}

// llamago_emu_profile_read writes the profile's counts: load instructions, 128-byte lines, bytes.
extern "C" void llamago_emu_profile_read(uint64_t* out) {
    out[0] = emu::profile.instructions;
    out[1] = emu::profile.lines;
    out[2] = emu::profile.bytes;
}
