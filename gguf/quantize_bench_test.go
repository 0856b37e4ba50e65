package gguf

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkQuantize measures the reference quantizers (MB/s of float32 input): they bound how fast synth
// and quantize write models.
func BenchmarkQuantize(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 256*64)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, typ := range []Type{TypeQ8_0, TypeQ4_0, TypeQ4_K, TypeQ5_K, TypeQ6_K, TypeIQ4_XS} {
		out := make([]byte, typ.RowBytes(len(x)))
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for i := 0; i < b.N; i++ {
				_ = Quantize(typ, x, out)
			}
		})
	}
}
