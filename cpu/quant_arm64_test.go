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

// TestNEONKQuants: the k-quant products against the portable loops, for rows of 1 to 70 super-blocks, with
// 16-bit and 8-bit activations (widened, and by SDOT): the same integer sums, so within float rounding.
func TestNEONKQuants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	defer func(v bool) { useDotProd = v }(useDotProd)
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, nsb := range []int{1, 2, 3, 32, 33, 70} {
			wq := quantRow(t, typ, randRow(r, nsb*256, 1))
			x := randRow(r, nsb*256, 2)
			for _, bits := range []int{16, 8, 88} { // 88: 8-bit activations by SDOT, where the CPU has it
				if bits == 88 && !hasDotProd {
					continue
				}
				useDotProd = bits == 88
				xq := q16row(len(x))
				if bits == 16 {
					QuantizeRowQ16(x, xq)
				} else {
					QuantizeRowQ8_K(x, xq)
				}
				// The same integer sums, the float arithmetic four groups at a time.
				want, got := dotQ4_KQ16Go(wq, xq, nsb), dotQ4_KQ16(wq, xq, nsb)
				if typ == gguf.TypeQ6_K {
					want, got = dotQ6_KQ16Go(wq, xq, nsb), dotQ6_KQ16(wq, xq, nsb)
				}
				require.InDelta(t, want, got, 1e-5*(1+math.Abs(float64(want))), "%s nsb=%d %d-bit activations", typ, nsb, bits)
			}
		}
	}
}

// TestNEONTwoByTwo: the prompts' two-rows-by-two-tokens kernels (SMMLA) against the one-row loops, with
// 8-bit activations at the ends of their range, for 1 to 65 blocks; with 16-bit activations, or without the
// instruction, there is no such kernel.
func TestNEONTwoByTwo(t *testing.T) {
	if !hasI8MM {
		t.Skip("no int8 matrix multiply on this CPU (SMMLA)")
	}
	t.Logf("kernels: %s", Kernels())
	r := rand.New(rand.NewPCG(7, 8))
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		for _, nb := range []int{1, 2, 5, 64, 65} {
			rb := typ.RowBytes(nb * 32)
			wq := quantRow(t, typ, randRow(r, 2*nb*32, 1))
			var xs [2]*Q16Row
			for i := range xs {
				x := randRow(r, nb*32, 2)
				x[i], x[len(x)-1-i] = 1e3, -1e3 // rounds to ±127
				xs[i] = q16row(len(x))
				QuantizeRowQ8_0(x, xs[i])
			}
			var got [4]float32
			require.True(t, dot2x2(typ, wq, rb, xs[0], xs[1], nb, &got))
			for row := range 2 {
				for tok := range 2 {
					wr := wq[row*rb : (row+1)*rb]
					want := dotQ4_0Q16Go(wr, xs[tok], nb)
					if typ == gguf.TypeQ8_0 {
						want = dotQ8_0Q16Go(wr, xs[tok], nb)
					}
					require.InDelta(t, want, got[2*row+tok], 1e-5*(1+math.Abs(float64(want))), "%s nb=%d row %d token %d", typ, nb, row, tok)
				}
			}
			x16 := q16row(nb * 32)
			QuantizeRowQ16(randRow(r, nb*32, 1), x16)
			require.False(t, dot2x2(typ, wq, rb, x16, xs[1], nb, &got), "16-bit activations")
			useI8MM = false
			require.False(t, dot2x2(typ, wq, rb, xs[0], xs[1], nb, &got), "SMMLA off")
			useI8MM = true
		}
	}
}

// TestNEONExtremes: full-range codes and activations through every NEON product kernel, against the
// portable loops: Q8_0 weights −128…127 and Q4_0 nibbles 0…15 with 16-bit activations ±32767 (the four-row
// SMLAL kernels) and ±127 (SDOT, SMMLA), and random bytes as Q4_K/Q6_K super-blocks (every code, scale and
// minimum, Q6_K's 0 and 63 among them) with activations ±32767.
func TestNEONExtremes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const nb = 6
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		rb := typ.RowBytes(nb * 32)
		w := make([]byte, 4*rb)
		for i := range w {
			w[i] = byte(r.IntN(256))
		}
		for row := range 4 {
			for b := range nb {
				w[row*rb+b*typ.TypeSize()], w[row*rb+b*typ.TypeSize()+1] = 0x00, 0x3c // d = 1
			}
		}
		w[2] = 0x80 // a −128 weight (Q8_0) / nibbles 0 and 8 (Q4_0)
		for _, amp := range []int{32767, 127} {
			x := q16row(nb * 32)
			for b := range nb {
				x.D[b] = 1
				var s int32
				for j := range 32 {
					v := int16(amp)
					if r.IntN(2) == 0 {
						v = -v
					}
					x.Q[b*32+j] = v
					s += int32(v)
				}
				x.S[b] = s
			}
			x.Narrow = amp == 127
			var want, four [4]float32
			require.True(t, dot4Go(typ, w, rb, x, nb, &want))
			require.True(t, dot4(typ, w, rb, x, nb, &four))
			require.Equal(t, want, four, "%s four rows, |x| = %d (%s)", typ, amp, Kernels())
			if hasI8MM && x.Narrow {
				var two [4]float32
				require.True(t, dot2x2(typ, w, rb, x, x, nb, &two))
				require.Equal(t, [4]float32{want[0], want[0], want[1], want[1]}, two, "%s two by two", typ)
			}
		}
	}
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K} {
		const nsb = 3
		w := make([]byte, nsb*typ.TypeSize())
		for i := range w {
			w[i] = byte(r.IntN(256))
		}
		for sb := range nsb {
			if typ == gguf.TypeQ4_K {
				w[sb*144], w[sb*144+1], w[sb*144+2], w[sb*144+3] = 0x00, 0x3c, 0x00, 0x38 // d = 1, dmin = 0.5
			} else {
				w[sb*210+208], w[sb*210+209] = 0x00, 0x3c
			}
		}
		x := q16row(nsb * 256)
		for b := range nsb * 8 {
			x.D[b] = 1
			var s int32
			for j := range 32 {
				v := int16(32767 - 65534*r.IntN(2))
				x.Q[b*32+j], s = v, s+int32(v)
			}
			x.S[b] = s
		}
		want, got := dotQ4_KQ16Go(w, x, nsb), dotQ4_KQ16(w, x, nsb)
		if typ == gguf.TypeQ6_K {
			want, got = dotQ6_KQ16Go(w, x, nsb), dotQ6_KQ16(w, x, nsb)
		}
		require.InDelta(t, want, got, 1e-5*(1+math.Abs(float64(want))), "%s", typ)
	}
}
