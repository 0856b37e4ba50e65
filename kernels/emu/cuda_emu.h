// A CPU emulator of the CUDA C++ that llamago's kernels use, so that their logic — indexing, reductions,
// barriers, the launch geometry the host chooses — is tested without a GPU (go test -tags cudaemu).
//
// Each block runs on the calling OS thread, its threads as green threads with their own stacks, switched
// by hand-written context switches. __syncthreads waits for all live threads of the block; warp shuffles
// exchange values through the warp's buffer between two waits for the warp's live threads. A thread that
// returns leaves its block's and warp's barriers. Blocks run one after the other, so a kernel's static
// __shared__ arrays are the current block's. It models no timing, memory spaces or races: it answers
// "does this kernel compute the right thing", not "is it fast".
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <type_traits>
#include <utility>
#include <functional>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __restrict__

#define LLAMAGO_EMU 1

struct dim3_emu {
    unsigned x, y, z;
};

// CUDA's vector types, with the alignment the GPU requires of their loads.
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

namespace emu {

struct Barrier {
    int expected = 0, arrived = 0;
    uint64_t gen = 0;
};

// AsyncCopy is a cp.async a thread issued and has not waited for: it lands in shared memory only when the
// thread waits for its group (cp_async_wait), so a kernel that reads a stage before waiting reads what was
// there before, as it may on a GPU.
struct AsyncCopy {
    void* dst;
    const void* src;
    unsigned size;
    int group;
};

struct Thread {
    void* sp = nullptr;
    dim3_emu tid{0, 0, 0};
    bool done = false;
    Barrier* waiting = nullptr;
    uint64_t wait_gen = 0;
    uint32_t loads = 0; // checked loads so far (the memory profile's instruction sequence)
    std::vector<AsyncCopy> copies; // cp.async issued, not yet waited for
    int group = 0;                 // the open (uncommitted) group's number
};

struct Block {
    std::vector<Thread> threads;
    std::vector<char> stacks;
    Barrier block_bar;
    std::vector<Barrier> warp_bars;
    std::vector<uint64_t> warp_vals; // 32 per warp
    std::vector<unsigned char> dyn;  // dynamic shared memory
    void* sched_sp = nullptr;
    int cur = 0;
    std::function<void()> body;
    std::vector<std::pair<uint64_t, uintptr_t>> loads; // memory profile: (warp, sequence), 128-byte line
};

// The memory profile (llamago_emu_profile in engine/cuda/emu.cc): the loads kernels make through load<T>
// and load_weight<T> (common.cuh), grouped as a GPU issues them — the k-th such load of each lane of a warp
// is one instruction, as long as the warp does not diverge — and counted as instructions, distinct 128-byte
// lines per instruction (roughly the L1 wavefronts a load costs: a warp's load of 512 consecutive bytes
// takes 4, one whose lanes hit 32 different lines takes 32) and bytes requested.
struct Profile {
    bool on = false;
    uint64_t instructions = 0, lines = 0, bytes = 0;
};
inline Profile profile;

inline Block* B = nullptr;

// check_aligned stops the test with a message when a kernel loads size bytes from an address the GPU
// would fault on; it also records the load for the memory profile.
inline void check_aligned(const void* p, size_t size) {
    if ((uintptr_t)p % size != 0) {
        std::fprintf(stderr, "cuda emulator: misaligned %zu-byte load at %p\n", size, p);
        std::abort();
    }
    if (profile.on && B) {
        Thread& t = B->threads[B->cur];
        B->loads.push_back({uint64_t(t.tid.x / 32) << 32 | t.loads++, (uintptr_t)p / 128});
        profile.bytes += size;
    }
}

extern "C" char _end[]; // the end of the program's static data (GNU ld)

// check_global stops the test when a load that the GPU makes through the global (read-only) path reads
// shared memory — a __shared__ variable (a static here, below _end, where device memory, from the C heap,
// never is) or the launch's dynamic shared memory: on a GPU that address is not a global one, and the load
// faults or reads garbage.
inline void check_global(const void* p) {
    const char* c = static_cast<const char*>(p);
    bool shared = c < _end ||
                  (B && !B->dyn.empty() && c >= (const char*)B->dyn.data() && c < (const char*)B->dyn.data() + B->dyn.size());
    if (shared) {
        std::fprintf(stderr, "cuda emulator: a global-memory load (load_weight, __ldg, __ldcg) of shared memory at %p\n", p);
        std::abort();
    }
}

// count_loads adds the block's recorded loads to the profile.
inline void count_loads(Block& blk) {
    std::sort(blk.loads.begin(), blk.loads.end());
    for (size_t i = 0; i < blk.loads.size(); i++) {
        bool new_instruction = i == 0 || blk.loads[i].first != blk.loads[i - 1].first;
        profile.instructions += new_instruction;
        profile.lines += new_instruction || blk.loads[i].second != blk.loads[i - 1].second;
    }
    blk.loads.clear();
}
inline dim3_emu grid_dim{1, 1, 1}, block_dim{1, 1, 1}, block_idx{0, 0, 0};

extern "C" void llamago_emu_switch(void** save_sp, void* load_sp);

// Saves the callee-saved registers and the stack pointer of the current context into *save_sp, then resumes
// the context whose stack pointer is load_sp (System V x86-64).
asm(R"(
.text
.globl llamago_emu_switch
.type llamago_emu_switch,@function
llamago_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.section .note.GNU-stack,"",@progbits
.text
)");

inline void yield() { llamago_emu_switch(&B->threads[B->cur].sp, B->sched_sp); }

inline void release(Barrier& b) {
    b.arrived = 0;
    b.gen++;
}

inline void arrive(Barrier& b) {
    if (++b.arrived >= b.expected) {
        release(b);
        return;
    }
    Thread& t = B->threads[B->cur];
    t.waiting = &b;
    t.wait_gen = b.gen;
    yield();
}

inline void leave(Barrier& b) {
    b.expected--;
    if (b.arrived > 0 && b.arrived >= b.expected) release(b);
}

[[noreturn]] inline void entry() {
    B->body();
    Thread& t = B->threads[B->cur];
    t.done = true;
    leave(B->block_bar);
    leave(B->warp_bars[t.tid.x / 32]);
    yield();
    std::abort(); // a finished thread is never resumed
}

// run_block runs body once per thread of block bidx.
inline void run_block(unsigned bidx, unsigned nthreads, size_t shmem, const std::function<void()>& body) {
    static Block blk;
    const size_t stack = 64 << 10;
    blk.threads.assign(nthreads, Thread{});
    if (blk.stacks.size() < nthreads * stack) blk.stacks.resize(nthreads * stack);
    unsigned nwarps = (nthreads + 31) / 32;
    blk.block_bar = Barrier{int(nthreads), 0, 0};
    blk.warp_bars.assign(nwarps, Barrier{});
    for (unsigned w = 0; w < nwarps; w++) blk.warp_bars[w].expected = int(std::min(32u, nthreads - 32 * w));
    blk.warp_vals.assign(32 * nwarps, 0);
    blk.dyn.assign(shmem, 0);
    blk.body = body;
    B = &blk;
    block_idx = dim3_emu{bidx, 0, 0};
    for (unsigned i = 0; i < nthreads; i++) {
        Thread& t = blk.threads[i];
        t.tid = dim3_emu{i, 0, 0};
        // A fresh stack whose first switch "returns" into entry: six zero registers, then entry's address,
        // placed so that entry starts with the stack aligned as after a call.
        uintptr_t top = (uintptr_t)(blk.stacks.data() + (i + 1) * stack) & ~uintptr_t(15);
        void** sp = (void**)(top - 8);
        *--sp = (void*)&entry;
        for (int r = 0; r < 6; r++) *--sp = nullptr;
        t.sp = sp;
    }
    for (;;) {
        bool all_done = true, ran = false;
        for (unsigned i = 0; i < nthreads; i++) {
            Thread& t = blk.threads[i];
            if (t.done) continue;
            all_done = false;
            if (t.waiting && t.waiting->gen == t.wait_gen) continue;
            t.waiting = nullptr;
            blk.cur = int(i);
            llamago_emu_switch(&blk.sched_sp, t.sp);
            ran = true;
        }
        if (all_done) break;
        if (!ran) {
            std::fprintf(stderr, "cuda emulator: deadlock in block %u (threads wait at a barrier others never reach)\n", bidx);
            std::abort();
        }
    }
    if (profile.on) count_loads(blk);
    B = nullptr;
}

template <class F>
void launch(unsigned grid, unsigned block, size_t shmem, F&& call) {
    grid_dim = dim3_emu{grid, 1, 1};
    block_dim = dim3_emu{block, 1, 1};
    std::function<void()> body(call);
    for (unsigned b = 0; b < grid; b++) run_block(b, block, shmem, body);
}

} // namespace emu

#define threadIdx (emu::B->threads[emu::B->cur].tid)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(emu::B->dyn.data())

inline void __syncthreads() { emu::arrive(emu::B->block_bar); }

namespace emu {
// exchange gives every lane of the warp the value v of lane src(lane): each writes its own, waits for the
// warp, reads, and waits again so that the buffer can be reused.
template <class T, class F>
T exchange(T v, F src) {
    unsigned lane = threadIdx.x & 31, warp = threadIdx.x / 32;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    B->warp_vals[32 * warp + lane] = bits;
    arrive(B->warp_bars[warp]);
    uint64_t o = B->warp_vals[32 * warp + (src(lane) & 31)];
    arrive(B->warp_bars[warp]);
    T r;
    std::memcpy(&r, &o, sizeof r);
    return r;
}
} // namespace emu

template <class T>
T __shfl_xor_sync(unsigned, T v, int mask) {
    return emu::exchange(v, [mask](unsigned lane) { return lane ^ unsigned(mask); });
}

template <class T>
T __shfl_sync(unsigned, T v, int src) {
    return emu::exchange(v, [src](unsigned) { return unsigned(src); });
}

template <class T>
T __ldg(const T* p) {
    emu::check_global(p);
    return *p;
}

inline float __expf(float x) { return std::exp(x); }
// Blocks run one after the other, so atomics need no atomicity and fences order nothing.
inline unsigned atomicAdd(unsigned* p, unsigned v) {
    unsigned old = *p;
    *p = old + v;
    return old;
}
inline void __threadfence() {}
[[noreturn]] inline void __trap() {
    std::fprintf(stderr, "cuda emulator: __trap() in a kernel\n");
    std::abort();
}
template <class T>
T __ldcg(const T* p) {
    emu::check_global(p);
    return *p;
}
inline float __int_as_float(int v) {
    float f;
    std::memcpy(&f, &v, sizeof f);
    return f;
}
// __byte_perm(x, y, s): byte i of the result is byte (s >> 4i) & 7 of the eight bytes y:x.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    uint64_t v = (uint64_t)y << 32 | x;
    unsigned r = 0;
    for (int i = 0; i < 4; i++) r |= (unsigned)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return r;
}
inline float __uint_as_float(unsigned v) {
    float f;
    std::memcpy(&f, &v, sizeof f);
    return f;
}
inline float __fdividef(float a, float b) { return a / b; }

// cp.async (common.cuh): size bytes from global src to shared dst, both aligned to size (checked), in the
// thread's open group; commit closes the group; wait<N> lands every copy of the groups but the N newest.
inline void cp_async(void* dst, const void* src, unsigned size) {
    if ((uintptr_t)dst % size != 0 || (uintptr_t)src % size != 0) {
        std::fprintf(stderr, "cuda emulator: misaligned %u-byte cp.async from %p to %p\n", size, src, dst);
        std::abort();
    }
    emu::Thread& t = emu::B->threads[emu::B->cur];
    t.copies.push_back({dst, src, size, t.group});
    if (emu::profile.on) emu::check_aligned(src, size);
}
inline void cp_async_commit() { emu::B->threads[emu::B->cur].group++; }
template <int N>
void cp_async_wait() {
    emu::Thread& t = emu::B->threads[emu::B->cur];
    std::vector<emu::AsyncCopy> keep;
    for (const auto& c : t.copies) {
        if (c.group < t.group - N) std::memcpy(c.dst, c.src, c.size);
        else keep.push_back(c);
    }
    t.copies.swap(keep);
}
using std::max;
using std::min;
