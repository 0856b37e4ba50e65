// Causal attention over the paged KV cache, split along the keys (flash-decoding), in one launch.
//
// The cache: each layer's keys (and values) are rows of kvDim values (floats, or halves: see below), one
// per slot; a slot is
// block·blockSize + offset, so a block is blockSize consecutive rows. A sequence's positions 0, 1, … live in
// the blocks its block table lists in order: position j is row table[j / blockSize]·blockSize + j % blockSize.
// A batch may hold tokens of several sequences: token t attends to positions 0…pos[t] of its own sequence,
// whose block table starts at tables + tableOf[t] (the host packs the tables of the batch's sequences).
//
// attention_f32 (attention_f16): one block per (query token, head, split); split s takes the cache blocks [s·chunk, (s+1)·chunk)
// of the token's table, cut at position pos[t]. In each cache block, warp w takes the keys w, w + NW, …: the
// lanes share the head's dimensions for the score (a warp sum), and the warp keeps an online softmax (running
// maximum m, sum l, output o). The block then merges its warps and writes (m, l, o) for the split (a split
// past the token's last position writes m = −∞). The last of a query's split blocks to finish (last_block)
// merges the splits: out = Σ_s o_s·e^(m_s−M) / Σ_s l_s·e^(m_s−M), M = max_s m_s.
// GQA/MQA: query head h reads KV head h / (heads/kvHeads), and the query heads of one KV head are
// neighbouring blocks, so they find its keys and values in L2.
//
// When capture is not null each split writes its raw scores to capture[t][h][j] (stride maxPos) and the
// merge turns them into probabilities e^(s−M)/L, for attention inspection.
//
// Every kernel that reads or writes the cache comes in two: _f32 for a cache of floats, _f16 for one of
// half-precision floats, widened exactly as they are read and rounded to nearest (even) as they are stored
// (kv_load, kv_from in common.cuh: the KV type is the kernels' template parameter).
#include "common.cuh"

#define ATT_MAXD 8 // head dimensions per lane: head sizes up to 256

// merge_splits: out[th] from the splits' (m, l, o) of query th (read through L2: other blocks wrote them);
// sh holds a float per split.
__device__ __forceinline__ void merge_splits(float* outp, const float* part, long long th, long long n, long long headDim,
                                             long long splits, float* capture, long long maxPos, float* sh) {
    long long stride = headDim + 2;
    const float* p = part + th * splits * stride;
    float M = -INFINITY;
    for (long long s = 0; s < splits; s++) M = fmaxf(M, __ldcg(p + s * stride));
    for (long long s = threadIdx.x; s < splits; s += blockDim.x) {
        float ms = __ldcg(p + s * stride);
        sh[s] = ms == -INFINITY ? 0.f : __expf(ms - M);
    }
    __syncthreads();
    float L = 0.f;
    for (long long s = 0; s < splits; s++) L += sh[s] * __ldcg(p + s * stride + 1);
    for (long long d = threadIdx.x; d < headDim; d += blockDim.x) {
        float acc = 0.f;
        for (long long s = 0; s < splits; s++) acc += sh[s] * __ldcg(p + s * stride + 2 + d);
        outp[th * headDim + d] = acc / L;
    }
    if (capture) {
        for (long long j = threadIdx.x; j < n; j += blockDim.x) {
            float* c = capture + th * maxPos + j;
            *c = __expf(__ldcg(c) - M) / L;
        }
    }
}

#define ATTENTION_PARAMS(KV)                                                                                  \
    float *outp, float *part, unsigned *counters, const float *q, const KV *kc, const KV *vc, const int *pos,            \
        const int *tableOf, const int *tables, long long blockSize, long long heads, long long kvHeads,                  \
        long long headDim, double scale, long long splits, long long chunk, float *capture, long long maxPos
#define ATTENTION_ARGS \
    outp, part, counters, q, kc, vc, pos, tableOf, tables, blockSize, heads, kvHeads, headDim, scale, splits, chunk, capture, maxPos

template <typename KV> __device__ __forceinline__ void attention(ATTENTION_PARAMS(KV)) {
    DYNAMIC_SHARED(float, sh); // per warp: m, l, then headDim outputs; then a float per split for the merge
    long long s = blockIdx.x % splits, th = blockIdx.x / splits;
    long long t = th / heads, h = th % heads;
    long long kvDim = kvHeads * headDim, kh = (h / (heads / kvHeads)) * headDim;
    const float* qh = q + th * headDim;
    const int* table = tables + tableOf[t]; // the cache blocks of token t's sequence, in position order
    long long n = (long long)pos[t] + 1;    // keys 0…pos[t]
    long long b0 = s * chunk, b1 = min((n + blockSize - 1) / blockSize, b0 + chunk); // this split's cache blocks
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float qv[ATT_MAXD], o[ATT_MAXD];
#pragma unroll
    for (int i = 0; i < ATT_MAXD; i++) {
        long long d = lane + 32 * i;
        qv[i] = d < headDim ? qh[d] : 0.f;
        o[i] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (long long b = b0; b < b1; b++) {
        long long j0 = b * blockSize;                    // the position of the cache block's first row
        long long row0 = (long long)table[b] * blockSize; // that row in the cache
        long long len = min(blockSize, n - j0);           // the block's keys up to position pos[t]
        for (long long i = warp; i < len; i += nw) {
            long long j = j0 + i;
            const KV* k = kc + (row0 + i) * kvDim + kh;
            float dot = 0.f;
#pragma unroll
            for (int e = 0; e < ATT_MAXD; e++) {
                long long d = lane + 32 * e;
                if (d < headDim) dot += qv[e] * kv_load(k[d]);
            }
            float sc = warp_sum(dot) * (float)scale;
            if (capture && lane == 0) capture[th * maxPos + j] = sc;
            float mnew = fmaxf(m, sc);
            float corr = __expf(m - mnew), p = __expf(sc - mnew);
            l = l * corr + p;
            const KV* v = vc + (row0 + i) * kvDim + kh;
#pragma unroll
            for (int e = 0; e < ATT_MAXD; e++) {
                long long d = lane + 32 * e;
                o[e] = o[e] * corr + (d < headDim ? p * kv_load(v[d]) : 0.f);
            }
            m = mnew;
        }
    }
    // Merge the warps: each writes (m, l, o) to shared memory, then the threads combine per dimension.
    long long stride = headDim + 2;
    float* mine = sh + warp * stride;
    if (lane == 0) {
        mine[0] = m;
        mine[1] = l;
    }
#pragma unroll
    for (int i = 0; i < ATT_MAXD; i++) {
        long long d = lane + 32 * i;
        if (d < headDim) mine[2 + d] = o[i];
    }
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < nw; w++) M = fmaxf(M, sh[w * stride]);
    float* out = part + (th * splits + s) * stride;
    for (long long d = threadIdx.x; d < headDim + 1; d += blockDim.x) {
        float acc = 0.f;
        for (int w = 0; w < nw; w++) {
            float mw = sh[w * stride];
            if (mw == -INFINITY) continue; // a warp that saw no key
            acc += sh[w * stride + (d == 0 ? 1 : 1 + d)] * __expf(mw - M);
        }
        if (d == 0) {
            out[0] = M;
            out[1] = acc; // l
        } else {
            out[1 + d] = acc; // o[d-1]
        }
    }
    if (last_block(counters + th, (unsigned)splits)) merge_splits(outp, part, th, n, headDim, splits, capture, maxPos, sh);
}

KV_KERNELS(attention, ATTENTION_PARAMS, ATTENTION_ARGS)

// kv_store_f32 (kv_store_f16): copies each token's key and value (kvDim floats each) into the cache rows of
// its slot (block·blockSize + position mod blockSize). One block per token.
#define KV_STORE_PARAMS(KV) KV *kc, KV *vc, const float *k, const float *v, const int *slot, long long kvDim
#define KV_STORE_ARGS kc, vc, k, v, slot, kvDim

template <typename KV> __device__ __forceinline__ void kv_store(KV_STORE_PARAMS(KV)) {
    long long t = blockIdx.x, r = slot[t];
    for (long long i = threadIdx.x; i < kvDim; i += blockDim.x) {
        kc[r * kvDim + i] = kv_from<KV>(k[t * kvDim + i]);
        vc[r * kvDim + i] = kv_from<KV>(v[t * kvDim + i]);
    }
}

KV_KERNELS(kv_store, KV_STORE_PARAMS, KV_STORE_ARGS)

// attention_tile_f32 (attention_tile_f16): causal attention for prompt chunks, query tiles against key/value tiles (flash
// attention), one block of ATT_TQ·8 threads per (tile, head). A tile is up to ATT_TQ consecutive tokens of
// the batch from one sequence: tiles[2i] is its first token, tiles[2i+1] its count. The block walks the
// sequence's cache blocks from position 0 to the tile's last position, one cache block (blockSize keys) at a
// time: the keys and values go to shared memory once for all the tile's queries, each query's scores
// against them are computed (−∞ past its position), and its online softmax (maximum m, sum l) and output o
// updated. Eight threads share a query: thread `sub` takes keys sub, sub + 8, … for the scores and head
// dimensions sub, sub + 8, … for the output. Nothing of size queries × keys is ever stored, except with
// capture: the raw scores go to capture[t][h][j] (stride maxPos) and become probabilities e^(s−m)/l at the
// end, as attention_f32 writes them. Host conditions: head size ≤ 8·ATT_TD, blockSize a multiple of 8.
#define ATT_TQ 16 // queries per tile
#define ATT_TD 16 // head dimensions per thread: head sizes up to 128

#define ATTENTION_TILE_PARAMS(KV)                                                                              \
    float *outp, const float *q, const KV *kc, const KV *vc, const int *pos, const int *tableOf, const int *tables,     \
        const int *tiles, long long blockSize, long long heads, long long kvHeads, long long headDim, double scale,     \
        float *capture, long long maxPos
#define ATTENTION_TILE_ARGS \
    outp, q, kc, vc, pos, tableOf, tables, tiles, blockSize, heads, kvHeads, headDim, scale, capture, maxPos

template <typename KV> __device__ __forceinline__ void attention_tile(ATTENTION_TILE_PARAMS(KV)) {
    DYNAMIC_SHARED(float, sh);
    if (blockDim.x != ATT_TQ * 8) __trap(); // the shared arrays are sized for ATT_TQ queries of 8 threads
    const long long D = headDim, BS = blockSize, QD = D + 8, SB = BS + 8;
    // Rows padded so that a warp's reads fall in distinct banks: its 4 queries' rows of Qs and Ss (8
    // banks apart), the 8 key rows the score loop reads at once (D+1 apart).
    float* Qs = sh;                // [ATT_TQ][QD]: the tile's queries
    float* Ks = Qs + ATT_TQ * QD;  // [BS][D+1]: a cache block's keys
    float* Vs = Ks + BS * (D + 1); // [BS][D]: its values
    float* Ss = Vs + BS * D;       // [ATT_TQ][SB]: the scores, then the weights e^(s−m)
    const long long tile = blockIdx.x / heads, h = blockIdx.x % heads;
    const int t0 = tiles[2 * tile], count = tiles[2 * tile + 1];
    const long long kvDim = kvHeads * D, kh = (h / (heads / kvHeads)) * D;
    const int* table = tables + tableOf[t0]; // the cache blocks of the tile's sequence, in position order
    const int qi = threadIdx.x >> 3, sub = threadIdx.x & 7;
    const bool live = qi < count;
    const long long t = t0 + qi, th = t * heads + h;
    const long long mypos = live ? (long long)pos[t] : -1;
    long long last = 0; // the tile's last position: its keys are 0…last
    for (int i = 0; i < count; i++) last = max(last, (long long)pos[t0 + i]);
    for (long long i = threadIdx.x; i < ATT_TQ * D; i += blockDim.x) {
        long long r = i / D, d = i % D;
        Qs[r * QD + d] = r < count ? q[((t0 + r) * heads + h) * D + d] : 0.f;
    }
    float o[ATT_TD];
#pragma unroll
    for (int e = 0; e < ATT_TD; e++) o[e] = 0.f;
    float m = -INFINITY, l = 0.f;
    for (long long b = 0; b * BS <= last; b++) {
        __syncthreads(); // the queries are in, the previous block's keys and values used up
        const long long j0 = b * BS, row0 = (long long)table[b] * BS, len = min(BS, last + 1 - j0);
        for (long long i = threadIdx.x; i < len * D; i += blockDim.x) {
            long long r = i / D, d = i % D;
            Ks[r * (D + 1) + d] = kv_load(kc[(row0 + r) * kvDim + kh + d]);
            Vs[r * D + d] = kv_load(vc[(row0 + r) * kvDim + kh + d]);
        }
        __syncthreads();
        float mloc = -INFINITY;
        for (long long k = sub; k < BS; k += 8) {
            float sc = -INFINITY;
            if (k < len && j0 + k <= mypos) {
                float dot = 0.f;
                for (long long d = 0; d < D; d++) dot += Qs[qi * QD + d] * Ks[k * (D + 1) + d];
                sc = dot * (float)scale;
                if (capture) capture[th * maxPos + j0 + k] = sc;
            }
            Ss[qi * SB + k] = sc;
            mloc = fmaxf(mloc, sc);
        }
        // The query's maximum and sum over its eight threads (neighbouring lanes of one warp).
        mloc = fmaxf(mloc, __shfl_xor_sync(0xffffffffu, mloc, 1));
        mloc = fmaxf(mloc, __shfl_xor_sync(0xffffffffu, mloc, 2));
        mloc = fmaxf(mloc, __shfl_xor_sync(0xffffffffu, mloc, 4));
        const float mnew = fmaxf(m, mloc);
        const float corr = mnew == -INFINITY ? 1.f : __expf(m - mnew); // a query with no key yet keeps 0s
        float sloc = 0.f;
        for (long long k = sub; k < BS; k += 8) {
            float s = Ss[qi * SB + k], p = s == -INFINITY ? 0.f : __expf(s - mnew);
            Ss[qi * SB + k] = p;
            sloc += p;
        }
        sloc += __shfl_xor_sync(0xffffffffu, sloc, 1);
        sloc += __shfl_xor_sync(0xffffffffu, sloc, 2);
        sloc += __shfl_xor_sync(0xffffffffu, sloc, 4);
        l = l * corr + sloc;
        m = mnew;
        __syncthreads(); // every weight of the query written before its threads read them all
        // Only the keys the query sees: a later position's weight is 0, but its value may be ±inf (a half
        // past 65504), and 0·inf is NaN.
        const long long kend = max(0LL, min(len, mypos - j0 + 1));
#pragma unroll
        for (int e = 0; e < ATT_TD; e++) {
            long long d = sub + 8 * e;
            if (d < D) {
                float acc = o[e] * corr;
                for (long long k = 0; k < kend; k++) acc += Ss[qi * SB + k] * Vs[k * D + d];
                o[e] = acc;
            }
        }
    }
    if (!live) return;
#pragma unroll
    for (int e = 0; e < ATT_TD; e++) {
        long long d = sub + 8 * e;
        if (d < D) outp[th * D + d] = o[e] / l;
    }
    if (capture) {
        // Each thread wrote the scores of positions ≡ sub (mod 8) (blockSize is a multiple of 8): it turns
        // those into probabilities.
        for (long long j = sub; j <= mypos; j += 8) {
            float* c = capture + th * maxPos + j;
            *c = __expf(*c - m) / l;
        }
    }
}

KV_KERNELS(attention_tile, ATTENTION_TILE_PARAMS, ATTENTION_TILE_ARGS)
