package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestAttend checks Attend against a float64 softmax(q·Kᵀ·scale)·V for head sizes with and without the
// vector kernels (multiples of 16, others), one to AttnMaxQueries queries (the kernels take four at a time)
// seeing different numbers of keys, a KV head that is not the first, keys and values in blocks scattered
// over a pool, and captured probabilities; keys and values in float32 (Attend) and in half precision
// (AttendF16, against the float64 answer for the rounded keys and values).
func TestAttend(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, hd := range []int{8, 16, 48, 64, 80, 128} {
		for _, count := range []int{1, 2, 3, 4, 5, 8, 13, AttnMaxQueries} {
			for _, kv := range []string{"f32", "f16"} {
				t.Run(fmt.Sprintf("hd=%d/q=%d/kv=%s", hd, count, kv), func(t *testing.T) {
					kvDim, off, positions := 3*hd, hd, 37 // the second of three KV heads
					keys, vals := randRow(r, positions*kvDim, 1), randRow(r, positions*kvDim, 1)
					if kv == "f16" {
						for i := range keys {
							keys[i] = gguf.FP16ToFP32(gguf.FP32ToFP16(keys[i]))
							vals[i] = gguf.FP16ToFP32(gguf.FP32ToFP16(vals[i]))
						}
					}
					// The sequence's blocks, out of order in a pool of 6 blocks of 32 positions; unused slots hold NaN,
					// which must not reach the result.
					const bs, poolBlocks = 2 * KTile, 6
					table := []int32{4, 0, 2}
					l := KVLayout{Blocks: poolBlocks, BlockSize: bs, KVHeads: 3, HeadDim: hd}
					pk, pv := make([]float32, l.Len()), make([]float32, l.Len())
					for i := range pk {
						pk[i], pv[i] = float32(math.NaN()), float32(math.NaN())
					}
					for p := 0; p < positions; p++ {
						blk := int(table[p/bs])
						for d := 0; d < kvDim; d++ {
							pk[l.K(blk, p%bs, d)] = keys[p*kvDim+d]
							pv[l.V(blk, p%bs, d)] = vals[p*kvDim+d]
						}
					}
					var a AttnQueries
					a.Count = count
					for i := 0; i < count; i++ {
						a.Q[i] = randRow(r, hd, 1)
						a.N[i] = []int{positions, 1, 17, 16, 33, 2, 32, 31}[i%8]
						a.Out[i] = make([]float32, hd)
						a.Probs[i] = make([]float32, a.N[i])
					}
					scale := float32(1 / math.Sqrt(float64(hd)))
					scratch := make([]float32, AttnScratch(positions, bs))
					if kv == "f16" {
						hk, hv := make([]uint16, len(pk)), make([]uint16, len(pv))
						StoreF16(hk, pk) // NaN stays NaN
						StoreF16(hv, pv)
						AttendF16(&a, hk, hv, table, l, off/hd, scale, scratch)
					} else {
						Attend(&a, pk, pv, table, l, off/hd, scale, scratch)
					}
					for i := 0; i < count; i++ {
						n := a.N[i]
						s := make([]float64, n)
						mx := math.Inf(-1)
						for j := range s {
							for d := 0; d < hd; d++ {
								s[j] += float64(a.Q[i][d]) * float64(keys[j*kvDim+off+d])
							}
							s[j] *= float64(scale)
							mx = max(mx, s[j])
						}
						var sum float64
						for j := range s {
							s[j] = math.Exp(s[j] - mx)
							sum += s[j]
						}
						for j := range s {
							s[j] /= sum
							require.InDelta(t, s[j], a.Probs[i][j], 1e-6, "query %d probability %d", i, j)
						}
						for d := 0; d < hd; d++ {
							var o float64
							for j := range s {
								o += s[j] * float64(vals[j*kvDim+off+d])
							}
							require.InDelta(t, o, a.Out[i][d], 1e-5, "query %d output %d", i, d)
						}
					}
				})
			}
		}
	}
}

// BenchmarkAttend runs one decoding step's attention of a TinyLlama-shape layer (32 query heads on 4 KV
// heads of 64, a sequence of 2048 positions in consecutive blocks of 32, the engine's calls of 8 queries, and
// of 4 to compare) on one thread: "warm" on one layer's cache, which stays in the last-level cache, "cold"
// on 22 layers' in turn (92 MB in float32, as decoding meets them; 46 MB in half precision): ns per query.
func BenchmarkAttend(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const hd, kvHeads, bs, n, layers = 64, 4, 32, 2048, 22
	l := KVLayout{Blocks: n / bs, BlockSize: bs, KVHeads: kvHeads, HeadDim: hd}
	pk, pv := randRow(r, layers*l.Len(), 1), randRow(r, layers*l.Len(), 1)
	hk, hv := make([]uint16, len(pk)), make([]uint16, len(pv))
	StoreF16(hk, pk)
	StoreF16(hv, pv)
	table := make([]int32, n/bs)
	for i := range table {
		table[i] = int32(i)
	}
	s := make([]float32, AttnScratch(n, bs))
	for _, cache := range []struct {
		name   string
		layers int
	}{{"warm", 1}, {"cold", layers}} {
		for _, count := range []int{4, 8} {
			var a AttnQueries
			a.Count = count
			for i := 0; i < count; i++ {
				a.Q[i], a.N[i], a.Out[i] = randRow(r, hd, 1), n, make([]float32, hd)
			}
			for _, kv := range []string{"f32", "f16"} {
				b.Run(fmt.Sprintf("cache=%s/queries=%d/kv=%s", cache.name, count, kv), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						at := i % cache.layers * l.Len()
						for h := range kvHeads {
							for range 8 / count {
								if kv == "f16" {
									AttendF16(&a, hk[at:at+l.Len()], hv[at:at+l.Len()], table, l, h, 0.125, s)
								} else {
									Attend(&a, pk[at:at+l.Len()], pv[at:at+l.Len()], table, l, h, 0.125, s)
								}
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(kvHeads*8), "ns/query")
				})
			}
		}
	}
}

// TestAttendRefusesOutsideBlocks: a block number outside the pool would read another head's part of the
// layer; Attend panics instead (the engine checks its block tables before it calls).
func TestAttendRefusesOutsideBlocks(t *testing.T) {
	l := KVLayout{Blocks: 2, BlockSize: KTile, KVHeads: 2, HeadDim: 16}
	k, v := make([]float32, l.Len()), make([]float32, l.Len())
	var a AttnQueries
	a.Count, a.Q[0], a.N[0], a.Out[0] = 1, make([]float32, 16), 2*KTile, make([]float32, 16)
	s := make([]float32, AttnScratch(2*KTile, KTile))
	require.NotPanics(t, func() { Attend(&a, k, v, []int32{1, 0}, l, 0, 1, s) })
	require.Panics(t, func() { Attend(&a, k, v, []int32{1, 2}, l, 0, 1, s) })
	require.Panics(t, func() { Attend(&a, k, v, []int32{1, 0}, l, 2, 1, s) })
}
