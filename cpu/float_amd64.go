//go:build amd64 && !noasm

package cpu

import (
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

//go:noescape
func axpyF32AVX2(dst *float32, a float32, x *float32, n int)

func dot(a, b []float32) float32 {
	if !useAVX2 || len(a) == 0 {
		return dotGo(a, b)
	}
	return dotF32AVX2(unsafe.SliceData(a), unsafe.SliceData(b), len(a))
}

func axpy(dst []float32, a float32, x []float32) {
	if !useAVX2 || len(dst) == 0 {
		axpyGo(dst, a, x)
		return
	}
	axpyF32AVX2(unsafe.SliceData(dst), a, unsafe.SliceData(x), len(dst))
}

//go:noescape
func f16ToF32AVX2(dst *float32, src *byte, n int)

//go:noescape
func bf16ToF32AVX2(dst *float32, src *byte, n int)

// widenRow converts a row of F16 or BF16 values with SIMD, reporting false when it cannot (other types,
// no AVX2, or a length that is not a multiple of 8).
func widenRow(t gguf.Type, src []byte, dst []float32) bool {
	n := len(dst)
	if !useAVX2 || n%8 != 0 || n == 0 || len(src) < 2*n {
		return false
	}
	switch t {
	case gguf.TypeF16:
		f16ToF32AVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n)
	case gguf.TypeBF16:
		bf16ToF32AVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n)
	default:
		return false
	}
	return true
}
