//go:build amd64 && !noasm

package cpu

import "unsafe"

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
