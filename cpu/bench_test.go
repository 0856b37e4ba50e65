package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// Kernel benchmarks report GB/s of weight bytes (b.SetBytes) over a sweep of row lengths; the working set
// stays in cache, so these are compute ceilings — decoding streams weights from memory.

func BenchmarkDotQ16(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		for _, cols := range []int{256, 2048, 5632, 11008} {
			wq := quantRow(b, typ, randRow(r, 4*cols, 1))
			x := q16row(cols)
			QuantizeRowQ16(randRow(r, cols, 1), x)
			rb := typ.RowBytes(cols)
			b.Run(fmt.Sprintf("type=%s/cols=%d/rows=1", typ, cols), func(b *testing.B) {
				b.SetBytes(int64(rb))
				for i := 0; i < b.N; i++ {
					if typ == gguf.TypeQ4_0 {
						DotQ4_0Q16(wq[:rb], x, cols/32)
					} else {
						DotQ8_0Q16(wq[:rb], x, cols/32)
					}
				}
			})
			b.Run(fmt.Sprintf("type=%s/cols=%d/rows=4", typ, cols), func(b *testing.B) {
				var out [4]float32
				b.SetBytes(int64(4 * rb))
				for i := 0; i < b.N; i++ {
					if !dot4(typ, wq, rb, x, cols/32, &out) {
						b.Skip("no four-row kernel on this build")
					}
				}
			})
		}
	}
}

func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	p := NewPool(0)
	defer p.Close()
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeF16, gguf.TypeF32} {
		for _, n := range []int{1, 8, 16} {
			const rows, cols = 2048, 2048
			w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(b, typ, randRow(r, rows*cols, 1))}
			x := randRow(r, n*cols, 1)
			dst := make([]float32, n*rows)
			b.Run(fmt.Sprintf("type=%s/%dx%d/n=%d", typ, rows, cols, n), func(b *testing.B) {
				b.SetBytes(int64(len(w.Data)))
				for i := 0; i < b.N; i++ {
					MatMul(p, dst, w, x, n)
				}
			})
		}
	}
}

// BenchmarkDecodeKernels runs the four-row decode kernels on rows that stay in cache, at both activation
// precisions: ns per 32 values of one row (the kernel's compute ceiling; decoding streams the rows).
func BenchmarkDecodeKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const cols = 2048
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		wq := quantRow(b, typ, randRow(r, 4*cols, 1))
		rb, nb := typ.RowBytes(cols), cols/typ.BlockSize()
		for _, bits := range []int{16, 8} {
			p := NewPool(1)
			require.NoError(b, p.SetActivationBits(bits))
			x := q16row(cols)
			p.rounding(typ).quantize(randRow(r, cols, 1), x)
			p.Close()
			b.Run(fmt.Sprintf("type=%s/bits=%d", typ, bits), func(b *testing.B) {
				var out [4]float32
				four := dot4(typ, wq, rb, x, nb, &out)
				for i := 0; i < b.N; i++ {
					if four {
						dot4(typ, wq, rb, x, nb, &out)
						continue
					}
					for row := range 4 {
						switch typ {
						case gguf.TypeQ4_K:
							out[row] = DotQ4_KQ16(wq[row*rb:(row+1)*rb], x, nb)
						case gguf.TypeQ6_K:
							out[row] = DotQ6_KQ16(wq[row*rb:(row+1)*rb], x, nb)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(4*cols/32), "ns/block")
			})
		}
	}
}
