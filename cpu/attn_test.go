package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttend checks Attend against a float64 softmax(q·Kᵀ·scale)·V for head sizes with and without the
// vector kernels (multiples of 16, others), one to four queries seeing different numbers of keys, a KV head
// that is not the first, keys and values in blocks scattered over a pool, and captured probabilities.
func TestAttend(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, hd := range []int{8, 16, 48, 64, 80, 128} {
		for count := 1; count <= 4; count++ {
			t.Run(fmt.Sprintf("hd=%d/q=%d", hd, count), func(t *testing.T) {
				kvDim, off, positions := 3*hd, hd, 37
				keys, vals := randRow(r, positions*kvDim, 1), randRow(r, positions*kvDim, 1)
				// The sequence's blocks, out of order in a pool of 6 blocks of 16 positions; unused slots hold NaN,
				// which must not reach the result.
				const bs, poolBlocks = 2 * KTile, 6
				table := []int32{4, 0, 2}
				pk, pv := make([]float32, poolBlocks*bs*kvDim), make([]float32, poolBlocks*bs*kvDim)
				for i := range pk {
					pk[i], pv[i] = float32(math.NaN()), float32(math.NaN())
				}
				for p := 0; p < positions; p++ {
					blk := int(table[p/bs])
					for d := 0; d < kvDim; d++ {
						pk[PagedKIndex(blk, p, d, kvDim, bs)] = keys[p*kvDim+d]
						pv[(blk*bs+p%bs)*kvDim+d] = vals[p*kvDim+d]
					}
				}
				var a AttnQueries
				a.Count = count
				for i := 0; i < count; i++ {
					a.Q[i] = randRow(r, hd, 1)
					a.N[i] = []int{positions, 1, 17, 16}[i]
					a.Out[i] = make([]float32, hd)
					a.Probs[i] = make([]float32, a.N[i])
				}
				scale := float32(1 / math.Sqrt(float64(hd)))
				Attend(&a, pk, pv, table, bs, kvDim, off, hd, scale, make([]float32, AttnScratch(positions, bs)))
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
