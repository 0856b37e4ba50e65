package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// BenchmarkGemvKernel runs the few-token kernel alone on eight rows that stay in the L1/L2 cache, so the
// figure is the kernel's compute ceiling: ns per block of 32 values × 8 rows × the group's tokens.
func BenchmarkGemvKernel(b *testing.B) {
	if !canGemv(gguf.TypeQ4_0, gemvMinTokens, gemvRows) {
		b.Skip("no few-token kernel on this CPU (it needs AVX-512 VNNI)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	p := NewPool(1)
	defer p.Close()
	const cols = 2048
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		for _, n := range []int{8, 16} {
			w := &Weight{Type: typ, Rows: gemvRows, Cols: cols, Data: quantRow(b, typ, randRow(r, gemvRows*cols, 1))}
			a := quantizeActivations16(p, randRow(r, n*cols, 1), n, cols, rounding16, layAll)
			t := gemvTask{p: p, w: w, a: a, n: n}
			var buf [2 * gemvRows * 32]int16
			var out [gemvRows * 2 * gemmT]float32
			b.Run(fmt.Sprintf("type=%s/n=%d", typ, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					t.kernel(w.Data, 0, n/gemmT, nil, &buf, &out)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(cols/32), "ns/block")
			})
		}
	}
}

// BenchmarkGemvStream multiplies one, eight or sixteen tokens by a stack of quantized matrices larger than the
// caches (2048×2048 each, about 150 MiB of Q4_0 in all), one after the other as a decoding step does, on
// the pool's threads: what the few-token kernels reach when the weights stream from memory.
func BenchmarkGemvStream(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	p := NewPool(0)
	defer p.Close()
	const rows, cols, mats = 2048, 2048, 64
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		one := quantRow(b, typ, randRow(r, rows*cols, 1))
		ws := make([]*Weight, mats)
		for i := range ws {
			ws[i] = &Weight{Type: typ, Rows: rows, Cols: cols, Data: append([]byte(nil), one...)}
		}
		type layout struct {
			name string
			ws   []*Weight
		}
		layouts := []layout{{"file", ws}}
		if pw := (Weight{Type: typ, Rows: rows, Cols: cols, Data: one}); pw.Pack() {
			packed := make([]*Weight, mats) // each its own copy, so that the stream comes from memory
			for i := range packed {
				cp := packedBytes(len(pw.Packed)) // on huge pages, as Pack puts them
				copy(cp, pw.Packed)
				packed[i] = &Weight{Type: typ, Rows: rows, Cols: cols, Data: one, Packed: cp}
			}
			layouts = append(layouts, layout{"packed", packed})
		}
		for _, bits := range []int{16, 8} {
			require.NoError(b, p.SetActivationBits(bits))
			for _, n := range []int{1, 2, 4, 8, 16} {
				x := randRow(r, n*cols, 1)
				dst := make([]float32, n*rows)
				for _, l := range layouts {
					ws := l.ws
					b.Run(fmt.Sprintf("type=%s/bits=%d/layout=%s/n=%d", typ, bits, l.name, n), func(b *testing.B) {
						b.SetBytes(int64(len(one)))
						for i := 0; i < b.N; i++ {
							MatMul(p, dst, ws[i%mats], x, n)
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows/gemvRows*cols/32)*float64(p.Threads()), "ns/block")
					})
				}
			}
		}
	}
}

// BenchmarkPackedKernel runs the packed kernels alone on 64 rows × 2048 that stay in the L2 cache: one token
// against one strip at a time and four side by side (sideBySide), and a group of eight tokens, at 8 and 16 bits: the
// kernels' compute ceiling in bytes of packed weights per second on one thread, to set beside
// BenchmarkGemvStream's.
func BenchmarkPackedKernel(b *testing.B) {
	if !usePacked {
		b.Skip("no packed kernels on this CPU (they need AVX2)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 4 * packRows, 2048
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(b, typ, randRow(r, rows*cols, 1))}
		require.True(b, w.Pack())
		stripBytes := packStripBytes(w)
		q, tq, out := make([]uint32, 2*cols/4*gemmT), make([]int16, cols), make([]float32, gemmT*rows)
		ad, start, as := make([]float32, cols/16*gemmT), make([]int32, cols/16*gemmT), make([]float32, cols/16*gemmT)
		for _, bits := range []int{8, 16} {
			for _, shape := range []struct{ tokens, strips int }{{1, 1}, {1, packStreams}, {gemmT, packStreams}} {
				kernel, tokens, ns, stride := packedKernel, shape.tokens, shape.strips, 1
				if tokens > 1 && !useVNNI {
					continue // AVX2 alone: one-token kernels only
				}
				if bits == 16 {
					kernel = packedKernel16
				}
				if tokens > 1 {
					stride = gemmT
				}
				b.Run(fmt.Sprintf("type=%s/bits=%d/tokens=%d/strips=%d", typ, bits, tokens, ns), func(b *testing.B) {
					defer func(sb int) { sideBySide = sb }(sideBySide)
					sideBySide = ns // the one-token kernel on four strips side by side where ns is 4
					b.SetBytes(int64(len(w.Packed)))
					codes := tokens == 1 && packedCodes(typ, bits == 16) // the kernel reads the token's 16-bit codes
					for i := 0; i < b.N; i++ {
						for s := 0; s < rows/packRows; s += ns {
							strips := w.Packed[s*stripBytes : (s+ns)*stripBytes]
							if codes {
								packedKernelCodes(typ, bits == 16, strips, ns, cols, tq, ad, start, as, out[s*packRows:], rows)
							} else {
								kernel(typ, strips, ns, cols, q, ad, start, as, tokens, stride, out[s*packRows:], rows)
							}
						}
					}
				})
			}
		}
	}
}

// BenchmarkGemmTile runs the prompt tiles (gemm with the CPU's kernels) on 64 rows × 2048 that stay in the
// L2 cache against 64 tokens, on one thread, at 16 and 8 bits (the 8-bit kernel where it takes the type):
// the tiles' compute rate in GMAC/s, unpacking of the strips included.
func BenchmarkGemmTile(b *testing.B) {
	if !canGemm(gguf.TypeQ4_0, gemmMinTokens) {
		b.Skip("no tile kernels on this CPU (they need AVX2)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	p := NewPool(1)
	defer p.Close()
	const rows, cols, n = 4 * gemmRows, 2048, 64
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(b, typ, randRow(r, rows*cols, 1))}
		require.True(b, w.Pack() || !usePacked)
		x, dst := randRow(r, n*cols, 1), make([]float32, n*rows)
		for _, bits := range []int{16, 8} {
			require.NoError(b, p.SetActivationBits(bits))
			a := quantizeActivations16(p, x, n, cols, p.rounding(typ), layAll)
			b.Run(fmt.Sprintf("type=%s/bits=%d", typ, bits), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					gemm(p, dst, w, a, gemmFast)
				}
				b.ReportMetric(float64(rows*cols*n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GMAC/s")
			})
		}
	}
}

// BenchmarkPack packs a 2048 × 5632 matrix of each type (an FFN matrix of the TinyLlama shape) on all the
// CPUs, into fresh memory each time as loading does: bytes of the file's rows packed per second.
func BenchmarkPack(b *testing.B) {
	if !usePacked {
		b.Skip("no packed kernels on this CPU (they need AVX2)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 2048, 5632
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(b, typ, randRow(r, rows*cols, 1))}
		b.Run(fmt.Sprintf("type=%s", typ), func(b *testing.B) {
			b.SetBytes(int64(len(w.Data)))
			for i := 0; i < b.N; i++ {
				_ = pack(w)
			}
		})
	}
}
