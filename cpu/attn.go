package cpu

import (
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

// Attention over a key/value cache, a few queries at a time.
//
// Keys are stored in tiles of KTile positions, dimension-major inside a tile ([tile][hd][KTile]), so that
// one vector load reads one dimension of 16 consecutive keys: the scores of a query against 16 keys are
// hd multiply-adds with no horizontal sums, and the up to four queries of a kernel call, which read the same
// keys (query heads of one KV head, GQA), share each load. Values stay one row per position ([position][hd]): the weighted sum
// adds whole rows. A call takes up to AttnMaxQueries queries of one KV head and runs them four at a time block
// by block, so that a block's keys and values come from memory once for all of them: the other fours find
// them in the cache.

// KTile is the number of positions in a key tile.
const KTile = 16

// KIndex returns where key (pos, dim) is in one KV head's tiled keys of hd dimensions per position.
func KIndex(pos, dim, hd int) int { return (pos/KTile)*hd*KTile + dim*KTile + pos%KTile }

// AttnMaxQueries is the most queries one Attend call takes: two tokens' query heads of one KV head in
// models with groups of 8 (TinyLlama), four tokens' with groups of 4 (Llama 3 8B).
const AttnMaxQueries = 16

// AttnQueries is up to AttnMaxQueries queries that attend to the same KV head. Q[i] (hd values) sees keys
// [0, N[i]); its output goes to Out[i] (hd values) and, when Probs[i] is not nil, its attention weights to
// Probs[i][:N[i]].
type AttnQueries struct {
	Count int
	Q     [AttnMaxQueries][]float32
	N     [AttnMaxQueries]int
	Out   [AttnMaxQueries][]float32
	Probs [AttnMaxQueries][]float32
}

// quads splits a's queries into the fours the kernels take (the kernels read only the first four of each).
func (a *AttnQueries) quads(dst *[AttnMaxQueries / 4]AttnQueries) []AttnQueries {
	n := (a.Count + 3) / 4
	for g := range n {
		d := &dst[g]
		d.Count = min(4, a.Count-4*g)
		copy(d.Q[:4], a.Q[4*g:])
		copy(d.N[:4], a.N[4*g:])
		copy(d.Out[:4], a.Out[4*g:])
	}
	return dst[:n]
}

// AttnScratch returns the scratch length Attend needs for up to AttnMaxQueries queries that see at most n
// keys, in blocks of blockSize positions.
func AttnScratch(n, blockSize int) int {
	return AttnMaxQueries * ((n + blockSize - 1) / blockSize * blockSize)
}

// KVLayout is where a layer's paged keys and values are: a pool of Blocks blocks of BlockSize positions (a
// multiple of KTile), KVHeads heads of HeadDim values per position, stored head by head: head h's part of
// block b, at Part(h, b) in the layer's keys and in its values, holds its BlockSize·HeadDim keys tiled
// ([tile][HeadDim][KTile], see KIndex) and its values one row of HeadDim per position. One head's blocks
// follow each other, so that a sequence whose blocks are consecutive (one conversation, or every sequence
// of a fresh pool) has each head's keys and values in one run each, which the hardware prefetchers follow:
// with the heads side by side in every block, a head's reading was a run of one block (8 KiB for
// TinyLlama) every 32 KiB, which one thread of a Zen 3 streamed at 17 GB/s against 29–33 for one run. A
// sequence's positions 0, 1, … are in the blocks its block table lists, BlockSize positions per block.
type KVLayout struct{ Blocks, BlockSize, KVHeads, HeadDim int }

// Len is the number of keys (and of values) of a layer.
func (l KVLayout) Len() int { return l.Blocks * l.BlockSize * l.KVHeads * l.HeadDim }

// Part is where head h's part of block b starts.
func (l KVLayout) Part(h, b int) int { return (h*l.Blocks + b) * l.BlockSize * l.HeadDim }

// K is where key dimension dim (of KVHeads·HeadDim) of position p of block b is.
func (l KVLayout) K(b, p, dim int) int {
	return l.Part(dim/l.HeadDim, b) + KIndex(p, dim%l.HeadDim, l.HeadDim)
}

// V is where value dimension dim of position p of block b is.
func (l KVLayout) V(b, p, dim int) int { return l.Part(dim/l.HeadDim, b) + p*l.HeadDim + dim%l.HeadDim }

// Attend computes softmax(scale·q·Kᵀ)·V for the queries in a, which belong to one sequence and attend to KV
// head h. k and v are one layer's paged keys and values laid out as l says, blocks the sequence's block
// table; s is scratch of at least AttnScratch(max N, l.BlockSize) values.
func Attend(a *AttnQueries, k, v []float32, blocks []int32, l KVLayout, h int, scale float32, s []float32) {
	attend(a, k, v, nil, nil, blocks, l, h, scale, s)
}

// AttendF16 is Attend over keys and values stored as IEEE 754 half-precision floats (uint16 bits, as
// StoreF16 rounds them), which halves the bytes attention reads: the same sums, each key and value widened
// exactly to a float32 as it is read.
func AttendF16(a *AttnQueries, k, v []uint16, blocks []int32, l KVLayout, h int, scale float32, s []float32) {
	attend(a, nil, nil, k, v, blocks, l, h, scale, s)
}

// attend is Attend over float32 keys and values (k, v) or half-precision ones (k16, v16, when k is nil).
// The kernels are called directly, not through function values, whose arguments would escape: a call
// would then allocate.
func attend(a *AttnQueries, k, v []float32, k16, v16 []uint16, blocks []int32, l KVLayout, h int, scale float32, s []float32) {
	blockSize, hd := l.BlockSize, l.HeadDim
	if a.Count > AttnMaxQueries || uint(h) >= uint(l.KVHeads) {
		panic("cpu.Attend: more queries than AttnMaxQueries, or no such KV head")
	}
	nmax := 0
	for i := 0; i < a.Count; i++ {
		nmax = max(nmax, a.N[i])
		clear(a.Out[i][:hd])
	}
	nb := (nmax + blockSize - 1) / blockSize
	stride := nb * blockSize
	var qs [AttnMaxQueries / 4]AttnQueries
	quads := a.quads(&qs)
	s = s[:4*len(quads)*stride] // the kernels write four rows for every four queries
	part := blockSize * hd
	for b, blk := range blocks[:nb] {
		if uint(blk) >= uint(l.Blocks) { // another head's part otherwise: the engine checks its tables
			panic("cpu.Attend: a block outside the pool")
		}
		base := l.Part(h, int(blk))
		for g := range quads {
			if k != nil {
				attnScores(&quads[g], k[base:base+part], hd, blockSize/KTile, s[4*g*stride+b*blockSize:], stride, scale)
			} else {
				attnScoresF16(&quads[g], k16[base:base+part], hd, blockSize/KTile, s[4*g*stride+b*blockSize:], stride, scale)
			}
		}
	}
	for i := 0; i < a.Count; i++ {
		row := s[i*stride : i*stride+nmax]
		Softmax(row[:a.N[i]])
		clear(row[a.N[i]:])
		if a.Probs[i] != nil {
			copy(a.Probs[i], row[:a.N[i]])
		}
	}
	for b, blk := range blocks[:nb] {
		base, n := l.Part(h, int(blk)), min(blockSize, nmax-b*blockSize)
		for g := range quads {
			if k != nil {
				attnValues(&quads[g], s[4*g*stride+b*blockSize:], stride, n, v[base:base+n*hd], hd)
			} else {
				attnValuesF16(&quads[g], s[4*g*stride+b*blockSize:], stride, n, v16[base:base+n*hd], hd)
			}
		}
	}
}

// attnScoresGo writes s[i·stride + j] = scale·Q[i]·K[j] for the tiles of keys (one KV head's: [tile][hd][KTile]).
func attnScoresGo(a *AttnQueries, k []float32, hd, tiles int, s []float32, stride int, scale float32) {
	for i := 0; i < a.Count; i++ {
		q := a.Q[i][:hd]
		for t := 0; t < tiles; t++ {
			var acc [KTile]float32
			kt := k[t*hd*KTile:]
			for d, qd := range q {
				kd := kt[d*KTile : d*KTile+KTile]
				for j := range acc {
					acc[j] += qd * kd[j]
				}
			}
			for j := range acc {
				s[i*stride+t*KTile+j] = acc[j] * scale
			}
		}
	}
}

// attnScoresGoF16 is attnScoresGo over half-precision keys.
func attnScoresGoF16(a *AttnQueries, k []uint16, hd, tiles int, s []float32, stride int, scale float32) {
	var kd [KTile]float32
	for i := 0; i < a.Count; i++ {
		q := a.Q[i][:hd]
		for t := 0; t < tiles; t++ {
			var acc [KTile]float32
			kt := k[t*hd*KTile:]
			for d, qd := range q {
				widenF16(kd[:], kt[d*KTile:d*KTile+KTile])
				for j := range acc {
					acc[j] += qd * kd[j]
				}
			}
			for j := range acc {
				s[i*stride+t*KTile+j] = acc[j] * scale
			}
		}
	}
}

// attnValuesGo adds Σ_{j<n} s[i·stride + j]·V[j] to Out[i] (V one KV head's rows of hd).
func attnValuesGo(a *AttnQueries, s []float32, stride, n int, v []float32, hd int) {
	for i := 0; i < a.Count; i++ {
		o := a.Out[i][:hd]
		for j := 0; j < n; j++ {
			if p := s[i*stride+j]; p != 0 {
				AXPY(o, p, v[j*hd:j*hd+hd])
			}
		}
	}
}

// attnValuesGoF16 is attnValuesGo over half-precision values: each row widened once for the queries, in
// pieces of 64.
func attnValuesGoF16(a *AttnQueries, s []float32, stride, n int, v []uint16, hd int) {
	var row [64]float32
	for c := 0; c < hd; c += len(row) {
		w := min(len(row), hd-c)
		for j := 0; j < n; j++ {
			widenF16(row[:w], v[j*hd+c:j*hd+c+w])
			for i := 0; i < a.Count; i++ {
				if p := s[i*stride+j]; p != 0 {
					AXPY(a.Out[i][c:c+w], p, row[:w])
				}
			}
		}
	}
}

// widenF16 widens half-precision floats to float32 (exactly), with SIMD where widenRow has it.
func widenF16(dst []float32, src []uint16) {
	if len(src) > 0 && widenRow(gguf.TypeF16, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 2*len(src)), dst[:len(src)]) {
		return
	}
	for i, h := range src {
		dst[i] = gguf.FP16ToFP32(h)
	}
}

// StoreF16 writes src rounded to half precision (to nearest, ties to even: gguf.FP32ToFP16) into dst.
func StoreF16(dst []uint16, src []float32) {
	for i, x := range src {
		dst[i] = gguf.FP32ToFP16(x)
	}
}
