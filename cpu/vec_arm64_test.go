//go:build arm64 && !noasm

package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNEONExp: the kernels' exponential (through expSubSumVec with a maximum of 0) against expf over its
// whole range — underflow to 0 below −87.3, the top where 2^k needs k = 128, +Inf above ln(MaxFloat32), NaN —
// within 2 ulp, and the sum it returns.
func TestNEONExp(t *testing.T) {
	var xs []float32
	for v := -90.0; v <= 89.5; v += 0.173 {
		xs = append(xs, float32(v))
	}
	xs = append(xs, -87.31, -87.29, 88.0, 88.5, 88.7, 88.72, 88.73, 0, float32(math.Copysign(0, -1)), float32(math.NaN()))
	for len(xs)%4 != 0 {
		xs = append(xs, 1)
	}
	got := append([]float32(nil), xs...)
	sum := expSubSumVec(got, 0)
	for i, v := range xs {
		e := expf(v)
		switch {
		case math.IsNaN(float64(e)):
			require.True(t, math.IsNaN(float64(got[i])), "e^%v", v)
			continue
		case e == 0 || math.IsInf(float64(e), 0):
			require.Equal(t, e, got[i], "e^%v", v)
		default:
			require.InDelta(t, 1, float64(got[i])/float64(e), 2.5e-7, "e^%v", v)
		}
	}
	require.True(t, math.IsNaN(float64(sum)), "the sum of values with a NaN among them: %v", sum)
	// The sum of finite values.
	ys := make([]float32, 64)
	var want float64
	for i := range ys {
		ys[i] = -20 + float32(i)*0.3
		want += float64(expf(ys[i]))
	}
	require.InDelta(t, 1, float64(expSubSumVec(ys, 0))/want, 1e-6)
}
