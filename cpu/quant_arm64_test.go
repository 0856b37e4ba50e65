//go:build arm64 && !noasm

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestNEONFourRows: the four-row kernels with 8-bit activations, by SDOT where the CPU has it and by the
// widening multiply-adds otherwise, both against the portable loop, for rows of 1 to 65 blocks and
// activations at the ends of their range (±127). The integer sums are exact either way, so the kernels
// differ from the loop only in the order of the float sums.
func TestNEONFourRows(t *testing.T) {
	if !hasDotProd {
		t.Log("no dot product on this CPU: the SMLAL kernels only")
	}
	r := rand.New(rand.NewPCG(3, 4))
	defer func(v bool) { useDotProd = v }(useDotProd)
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		for _, nb := range []int{1, 2, 5, 64, 65} {
			rb := typ.RowBytes(nb * 32)
			wq := quantRow(t, typ, randRow(r, 4*nb*32, 1))
			x := randRow(r, nb*32, 2)
			x[0], x[len(x)-1] = 1e3, -1e3 // rounds to ±127
			xq := q16row(len(x))
			QuantizeRowQ8_0(x, xq)
			require.True(t, xq.Narrow)
			var want [4]float32
			require.True(t, dot4Go(typ, wq, rb, xq, nb, &want))
			for _, sdot := range []bool{false, true} {
				if sdot && !hasDotProd {
					continue
				}
				useDotProd = sdot
				var got [4]float32
				require.True(t, dot4(typ, wq, rb, xq, nb, &got))
				for i := range got {
					require.InDelta(t, want[i], got[i], 1e-5*(1+float64(abs32(want[i]))), "%s nb=%d row %d sdot=%v", typ, nb, i, sdot)
				}
			}
		}
	}
}

// TestNEONKQuants: the k-quant products against the portable loops, for rows of 1 to 70 super-blocks (more
// than one stack chunk of kSumsChunk), with 16-bit and 8-bit activations: Q6_K, whose integer sums NEON
// makes and Go scales in the loop's order, to the bit; Q4_K, all NEON, within float rounding.
func TestNEONKQuants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, nsb := range []int{1, 2, 3, kSumsChunk, kSumsChunk + 1, 70} {
			wq := quantRow(t, typ, randRow(r, nsb*256, 1))
			x := randRow(r, nsb*256, 2)
			for _, bits := range []int{16, 8} {
				xq := q16row(len(x))
				if bits == 8 {
					QuantizeRowQ8_K(x, xq)
				} else {
					QuantizeRowQ16(x, xq)
				}
				if typ == gguf.TypeQ6_K {
					require.Equal(t, dotQ6_KQ16Go(wq, xq, nsb), dotQ6_KQ16(wq, xq, nsb), "%s nsb=%d %d-bit activations", typ, nsb, bits)
					continue
				}
				// Q4_K: the same integer sums, the float arithmetic four sub-blocks at a time.
				want, got := dotQ4_KQ16Go(wq, xq, nsb), dotQ4_KQ16(wq, xq, nsb)
				require.InDelta(t, want, got, 1e-5*(1+math.Abs(float64(want))), "%s nsb=%d %d-bit activations", typ, nsb, bits)
			}
		}
	}
}
