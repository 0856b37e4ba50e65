package gguf

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func roundTrip(t *testing.T, typ Type, x []float32) []float32 {
	t.Helper()
	buf := make([]byte, typ.RowBytes(len(x)))
	require.NoError(t, Quantize(typ, x, buf))
	y := make([]float32, len(x))
	require.NoError(t, Dequantize(typ, buf, y))
	return y
}

// TestQuantizeLlamaCppBound applies llama.cpp's own acceptance test for quantizers (test-quantize-fns):
// data 0.1 + 2·cos(i), error sqrt(Σd²)/n, at most 0.002 (0.004 for 3-bit, 0.0075 for 2-bit types).
func TestQuantizeLlamaCppBound(t *testing.T) {
	const n = 32 * 128
	x := make([]float32, n)
	for i := range x {
		x[i] = 0.1 + 2*float32(math.Cos(float64(i)))
	}
	for typ := range blockQuantizers {
		bound := 0.002
		switch typ {
		case TypeQ2_K:
			bound = 0.0075
		case TypeQ3_K:
			bound = 0.004
		}
		y := roundTrip(t, typ, x)
		var s float64
		for i := range x {
			d := float64(x[i] - y[i])
			s += d * d
		}
		e := math.Sqrt(s) / n
		t.Logf("%-7s llama.cpp-metric error %.6f (bound %.4f)", typ, e, bound)
		require.LessOrEqual(t, e, bound, typ.String())
	}
}

// TestQuantizeGaussianRMSE bounds the relative RMSE of every quantizer on N(0,1) data, 10–20% above what
// they measured when written (Q8_0 0.0054, Q6_K 0.0173, Q5_K 0.0359, Q4_K 0.0713, Q4_0 0.0862,
// Q3_K 0.144, Q2_K 0.268), so a change that makes a quantizer worse fails here. The comparison with
// llama.cpp's reference quantizers is TestQuantizeLlamaCppBound.
func TestQuantizeGaussianRMSE(t *testing.T) {
	bounds := map[Type]float64{
		TypeQ8_0: 0.0062, TypeQ8_K: 0.0080, TypeQ6_K: 0.020, TypeQ5_0: 0.049, TypeQ5_1: 0.044, TypeQ5_K: 0.041,
		TypeQ4_0: 0.099, TypeQ4_1: 0.090, TypeQ4_K: 0.082, TypeIQ4_NL: 0.086, TypeIQ4_XS: 0.087,
		TypeQ3_K: 0.166, TypeQ2_K: 0.308, TypeF16: 0.00025, TypeBF16: 0.0019,
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 256*256)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for typ, bound := range bounds {
		y := roundTrip(t, typ, x)
		var se, sx float64
		for i := range x {
			d := float64(x[i] - y[i])
			se += d * d
			sx += float64(x[i]) * float64(x[i])
		}
		rel := math.Sqrt(se / sx)
		t.Logf("%-7s relative RMSE %.5f (bound %.4f)", typ, rel, bound)
		assert.LessOrEqual(t, rel, bound, typ.String())
	}
}

// TestQuantizeEdgeCases: zero blocks stay zero, constant blocks and exact grids round-trip closely, and no
// code or scale overflows on extreme but finite values.
func TestQuantizeEdgeCases(t *testing.T) {
	for typ := range blockQuantizers {
		bs := typ.BlockSize()
		zero := make([]float32, bs)
		require.Equal(t, zero, roundTrip(t, typ, zero), "%s: zeros", typ)

		big := make([]float32, bs)
		for i := range big {
			big[i] = float32(i%7-3) * 1000
		}
		y := roundTrip(t, typ, big)
		for i := range y {
			require.False(t, math.IsNaN(float64(y[i])) || math.IsInf(float64(y[i]), 0), "%s: element %d not finite", typ, i)
			require.InDelta(t, big[i], y[i], 3000*0.35, "%s: element %d", typ, i)
		}
	}
	// Q8_0 reproduces a block that lies on its grid exactly.
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i-16) * 0.5
	}
	x[0] = -63.5 // largest magnitude: d = 63.5/127 = 0.5
	require.Equal(t, x, roundTrip(t, TypeQ8_0, x))
}

func TestQuantizeRejectsBadSizes(t *testing.T) {
	require.ErrorContains(t, Quantize(TypeQ4_0, make([]float32, 31), make([]byte, 18)), "multiple of the block size")
	require.ErrorContains(t, Quantize(TypeQ4_0, make([]float32, 32), make([]byte, 17)), "need 18 bytes")
	require.ErrorContains(t, Quantize(TypeIQ2_XXS, make([]float32, 256), make([]byte, 66)), "cannot quantize")
	require.ErrorContains(t, Dequantize(Type(99), nil, nil), "unknown tensor type id 99")
	require.ErrorContains(t, Dequantize(TypeIQ2_XXS, make([]byte, 66), make([]float32, 256)), "not supported")
}
