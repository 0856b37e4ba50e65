package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestGemv checks the few-token product against a float64 product of the dequantized weights and the rounded
// activations (the widening, the activation layout and the folding), against the exact activations within
// what 16-bit rounding allows, and against MatMul's one-row kernels, for Q4_0, Q8_0, Q4_K and Q6_K, partial and whole
// token groups and rows split between workers. It skips where the CPU lacks the kernels.
func TestGemv(t *testing.T) {
	if !canGemv(gguf.TypeQ4_0, gemvMinTokens, gemvRows) {
		t.Skip("no few-token kernel on this CPU (it needs AVX-512 VNNI)")
	}
	r := rand.New(rand.NewPCG(5, 6))
	p := NewPool(3)
	defer p.Close()
	for _, c := range []struct {
		typ           gguf.Type
		rows, cols, n int
	}{{gguf.TypeQ4_0, 40, 512, 2}, {gguf.TypeQ4_0, 64, 256, 8}, {gguf.TypeQ4_0, 24, 2048, 13}, {gguf.TypeQ4_0, 16, 96, 48},
		{gguf.TypeQ4_K, 40, 512, 2}, {gguf.TypeQ4_K, 64, 256, 8}, {gguf.TypeQ4_K, 24, 2048, 13}, {gguf.TypeQ4_K, 16, 256, 48},
		{gguf.TypeQ6_K, 40, 512, 2}, {gguf.TypeQ6_K, 64, 256, 8}, {gguf.TypeQ6_K, 24, 2048, 13}, {gguf.TypeQ6_K, 16, 256, 48},
		{gguf.TypeQ8_0, 40, 512, 2}, {gguf.TypeQ8_0, 64, 256, 8}, {gguf.TypeQ8_0, 24, 2048, 13}, {gguf.TypeQ8_0, 16, 96, 48}} {
		rows, cols, n := c.rows, c.cols, c.n
		for _, bits := range []int{16, 8} {
			require.NoError(t, p.SetActivationBits(bits))
			rnd := p.rounding(c.typ)
			t.Run(fmt.Sprintf("%s/%dx%d/n=%d/bits=%d", c.typ, rows, cols, n, bits), func(t *testing.T) {
				wf := randRow(r, rows*cols, 0.5)
				w := &Weight{Type: c.typ, Rows: rows, Cols: cols, Data: quantRow(t, c.typ, wf)}
				require.NoError(t, w.Check())
				wd := make([]float32, rows*cols)
				require.NoError(t, gguf.Dequantize(c.typ, w.Data, wd))
				x := randRow(r, n*cols, 2)
				x[7] = -40 // an outlier in one block
				a := quantizeActivations16(p, x, n, cols, rnd, layAll)
				xr := dequant16(a)
				dst := make([]float32, n*rows)
				for i := range dst {
					dst[i] = float32(math.NaN())
				}
				gemv(p, dst, w, a, n)
				var got, ref, exact []float64
				for tok := 0; tok < n; tok++ {
					for row := 0; row < rows; row++ {
						var s, e float64
						for k := 0; k < cols; k++ {
							s += float64(wd[row*cols+k]) * float64(xr[tok][k])
							e += float64(wd[row*cols+k]) * float64(x[tok*cols+k])
						}
						ref, exact = append(ref, s), append(exact, e)
						got = append(got, float64(dst[tok*rows+row]))
					}
				}
				require.Less(t, nmse(got, ref), 1e-11, "vs float64 of the rounded activations")
				tol := 1e-8
				if bits == 8 { // 8 bits, and for the k-quants one scale per 256 values (llama.cpp's Q8_K)
					tol = 1e-3
				}
				require.Less(t, nmse(got, exact), tol, "vs exact activations")
				// The one-row kernels, token by token, give the same products up to float rounding.
				one := make([]float32, rows)
				for tok := 0; tok < n; tok++ {
					quantizeActivations(p, x[tok*cols:(tok+1)*cols], 1, cols, rnd)
					matMulQ16Rows(p, one, w, 1)
					for row := range one {
						require.InDelta(t, one[row], dst[tok*rows+row], 1e-4*(1+math.Abs(float64(one[row]))), "token %d row %d", tok, row)
					}
				}
			})
		}
	}
}
