package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExpf checks expf against math.Exp across the float32 range, at the edges and for NaN.
func TestExpf(t *testing.T) {
	for x := -87.0; x <= 88.7; x += 0.0137 {
		want := math.Exp(float64(float32(x)))
		got := float64(expf(float32(x)))
		require.InDelta(t, 1, got/want, 3e-7, "expf(%v)", x)
	}
	require.Equal(t, float32(1), expf(0))
	require.Zero(t, expf(-100))
	require.True(t, math.IsInf(float64(expf(89)), 1))
	require.True(t, math.IsNaN(float64(expf(float32(math.NaN())))))
	require.InDelta(t, 1, float64(expf(88.72))/math.Exp(float64(float32(88.72))), 3e-7, "top of the range")
}

// TestSoftmaxSwiGLU checks Softmax and SwiGLU (vector kernels for whole vectors of 16, scalar code for the
// rest) against float64 for lengths around the vector size, with large and small inputs.
func TestSoftmaxSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 5, 15, 16, 17, 31, 32, 33, 100, 1000} {
		for _, scale := range []float64{0.1, 5, 40} {
			x := randRow(r, n, scale)
			x[r.IntN(n)] = float32(scale * 3) // a clear maximum somewhere
			want := make([]float64, n)
			mx := math.Inf(-1)
			for _, v := range x {
				mx = max(mx, float64(v))
			}
			var sum float64
			for i, v := range x {
				want[i] = math.Exp(float64(v) - mx)
				sum += want[i]
			}
			got := append([]float32(nil), x...)
			Softmax(got)
			for i := range want {
				require.InDelta(t, want[i]/sum, got[i], 1e-6, "softmax n=%d scale=%v i=%d", n, scale, i)
			}

			up := randRow(r, n, 1)
			dst := make([]float32, n)
			SwiGLU(dst, x, up)
			for i, g := range x {
				w := float64(g) / (1 + math.Exp(-float64(g))) * float64(up[i])
				require.InDelta(t, w, dst[i], 1e-6*(1+math.Abs(w)), "swiglu n=%d scale=%v i=%d g=%v", n, scale, i, g)
			}
		}
	}
	dst := make([]float32, 32)
	gate := make([]float32, 32)
	for i := range gate {
		gate[i] = float32(i*10) - 150 // −150 … 160: e^−g under- and overflows
	}
	SwiGLU(dst, gate, make([]float32, 32))
	for i := range dst {
		require.False(t, math.IsNaN(float64(dst[i])), "swiglu(%v)·0", gate[i])
	}
}
