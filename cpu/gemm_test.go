package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// dequant16 returns the activations a holds, as the kernels see them (d·q per block of 32).
func dequant16(a *act16) [][]float32 {
	x := make([][]float32, a.n)
	for t := range x {
		g, tt := t/gemmT, t%gemmT
		q := a.q[g*a.cols/2*gemmT:]
		d := a.d32[g*a.cols/32*gemmT:]
		x[t] = make([]float32, a.cols)
		for k := range x[t] {
			word := q[(k/2)*gemmT+tt]
			x[t][k] = d[(k/32)*gemmT+tt] * float32(int16(word>>(16*(k%2))))
		}
	}
	return x
}

func nmse(got, want []float64) float64 {
	var num, den float64
	for i := range want {
		num += (got[i] - want[i]) * (got[i] - want[i])
		den += want[i] * want[i]
	}
	return num / den
}

// TestGemm checks the prompt-sized product for every type it unpacks, with a partial row strip and a partial
// token group: the portable and the selected implementations against a float64 product of the dequantized
// weights and the rounded activations (which checks the unpackers, the widening, the activation layout and
// the kernel's algebra), and against the exact activations within what the rounding allows; with 16-bit
// and 8-bit activations (where the 8-bit kernels take the strip's bytes unwidened).
func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := NewPool(3)
	defer p.Close()
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, c := range [][4]int{{40, 512, 19, 16}, {16, 256, 8, 16}, {33, 768, 3, 16}, {40, 512, 19, 8}, {33, 768, 11, 8}} {
			rows, cols, n, bits := c[0], c[1], c[2], c[3]
			require.NoError(t, p.SetActivationBits(bits))
			rnd := p.rounding(typ)
			t.Run(fmt.Sprintf("%s/%dx%d/n=%d/bits=%d", typ, rows, cols, n, bits), func(t *testing.T) {
				wf := randRow(r, rows*cols, 0.5)
				w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, wf)}
				require.NoError(t, w.Check())
				wd := make([]float32, rows*cols)
				require.NoError(t, gguf.Dequantize(typ, w.Data, wd))
				x := randRow(r, n*cols, 2)
				x[5] = 40 // an outlier in one block
				a := quantizeActivations16(p, x, n, cols, rnd, layAll)
				xr := dequant16(a)

				var ref, exact []float64
				for tok := 0; tok < n; tok++ {
					for row := 0; row < rows; row++ {
						var s, e float64
						for k := 0; k < cols; k++ {
							s += float64(wd[row*cols+k]) * float64(xr[tok][k])
							e += float64(wd[row*cols+k]) * float64(x[tok*cols+k])
						}
						ref, exact = append(ref, s), append(exact, e)
					}
				}
				for _, k := range []struct {
					name string
					impl gemmImpl
				}{{"go", gemmImpl{widenGo, gemmKernelGo, nil, nil}}, {"go8", gemmImpl{widenGo, gemmKernelGo, gemmKernel8Go, nil}},
					{Kernels(), gemmFast}, {"avx2", gemmAVX2Impl()}} {
					dst := make([]float32, n*rows)
					for i := range dst {
						dst[i] = float32(math.NaN())
					}
					gemm(p, dst, w, a, k.impl)
					got := make([]float64, len(dst))
					for i, v := range dst {
						got[i] = float64(v)
					}
					require.Less(t, nmse(got, ref), 1e-11, "%s kernel vs float64 of the rounded activations", k.name)
					tol := 1e-8
					if bits == 8 { // and one scale per 256 values for the k-quants (llama.cpp's Q8_K)
						tol = 1e-3
					}
					require.Less(t, nmse(got, exact), tol, "%s kernel vs exact activations", k.name)
				}
			})
		}
	}
}

// TestQuantizeActivations16 checks the rounding and the layout: the values are round16's for each token,
// the sums match, blocks of zeros have zero scales, and padding tokens are zero.
func TestQuantizeActivations16(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := NewPool(2)
	defer p.Close()
	n, cols := 11, 96
	x := randRow(r, n*cols, 1)
	for k := 32; k < 64; k++ {
		x[2*cols+k] = 0
	}
	a := quantizeActivations16(p, x, n, cols, rounding16, layAll)
	xr := dequant16(a)
	row := q16row(cols)
	for tok := 0; tok < n; tok++ {
		QuantizeRowQ16(x[tok*cols:(tok+1)*cols], row)
		for b := 0; b < cols/32; b++ {
			at := (tok/gemmT)*cols/32*gemmT + b*gemmT + tok%gemmT
			require.Equal(t, row.D[b], a.d32[at])
			require.Equal(t, -row.D[b]*float32(row.S[b]), a.s32[at])
			for h := 0; h < 2; h++ {
				require.Equal(t, row.D[b], a.d16[(tok/gemmT)*cols/16*gemmT+(2*b+h)*gemmT+tok%gemmT])
			}
			for k := b * 32; k < b*32+32; k++ {
				require.Equal(t, row.D[b]*float32(row.Q[k]), xr[tok][k])
				require.InDelta(t, x[tok*cols+k], xr[tok][k], float64(row.D[b])/2*1.0001)
			}
		}
	}
	require.Zero(t, a.d32[(2/gemmT)*cols/32*gemmT+1*gemmT+2%gemmT], "block of zeros")
	for tok := n; tok < a.groups()*gemmT; tok++ {
		for k := 0; k < cols/2; k++ {
			require.Zero(t, a.q[(tok/gemmT)*cols/2*gemmT+k*gemmT+tok%gemmT])
		}
	}
}

// TestRoundEven checks the one-addition rounding.
func TestRoundEven(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int64
	}{{0, 0}, {2.5, 2}, {3.5, 4}, {-2.5, -2}, {-126.6, -127}, {32766.7, 32767}, {0.49999999, 0}, {-0.5000001, -1}} {
		require.Equal(t, c.want, roundEven(c.v), "%v", c.v)
	}
}

// TestQuantizeRow16 checks that the kernel in use rounds exactly as the portable loop: random blocks,
// a block of zeros, a block whose values are exact multiples of d and halves between them (ties), and
// a NaN, which must leave a NaN scale.
func TestQuantizeRow16(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	n := 32 * 9
	x := randRow(r, n, 3)
	for k := 32; k < 64; k++ {
		x[k] = 0
	}
	for k := 64; k < 96; k++ {
		x[k] = float32(k-80) + 0.5 // with the maximum q16Max below, d = 1 and every value is a tie
	}
	x[64] = q16Max
	x[100] = 1e30
	x[200] = float32(math.NaN())
	q, d, s := make([]int16, n), make([]float32, n/32), make([]int32, n/32)
	qg, dg, sg := make([]int16, n), make([]float32, n/32), make([]int32, n/32)
	quantizeRow16(x, q, d, s)
	quantizeRow16Go(x, qg, dg, sg)
	for b := 0; b < n/32; b++ {
		if b == 200/32 {
			require.True(t, math.IsNaN(float64(d[b])) && math.IsNaN(float64(dg[b])), "NaN block: d=%v, Go %v", d[b], dg[b])
			continue
		}
		require.Equal(t, dg[b], d[b], "block %d scale", b)
		require.Equal(t, sg[b], s[b], "block %d sum", b)
		require.Equal(t, qg[b*32:b*32+32], q[b*32:b*32+32], "block %d values (%s)", b, Kernels())
	}
	require.Zero(t, d[1])
	require.Equal(t, float32(1), d[2])
	require.Equal(t, []int16{-14, -14, -12, -12, -10}, q[65:70], "ties to even") // -14.5, -13.5, -12.5, …
}

// TestGemmFloat checks the float tiles (F32, F16, BF16 weights) against a float64 product, with a partial
// row strip and a partial token group, for the portable and the selected kernel.
func TestGemmFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16} {
		for _, shape := range [][3]int{{40, 96, 19}, {16, 172, 8}} {
			rows, cols, n := shape[0], shape[1], shape[2]
			w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 0.5))}
			require.NoError(t, w.Check())
			wd := make([]float32, rows*cols)
			require.NoError(t, gguf.Dequantize(typ, w.Data, wd))
			x := randRow(r, n*cols, 2)
			var want []float64
			for tok := 0; tok < n; tok++ {
				for row := 0; row < rows; row++ {
					var s float64
					for k := 0; k < cols; k++ {
						s += float64(wd[row*cols+k]) * float64(x[tok*cols+k])
					}
					want = append(want, s)
				}
			}
			for name, k := range map[string]gemmFKernel{"go": gemmFKernelGo, Kernels(): gemmFFast} {
				dst := make([]float32, n*rows)
				gemmFloat(p, dst, w, transposeActivations(p, x, n, cols), k)
				got := make([]float64, len(dst))
				for i, v := range dst {
					got[i] = float64(v)
				}
				require.Less(t, nmse(got, want), 1e-12, "%s %v %s kernel", typ, shape, name)
			}
		}
	}
}
