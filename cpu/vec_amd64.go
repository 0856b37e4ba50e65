//go:build amd64 && !noasm

package cpu

import "golang.org/x/sys/cpu"

// useAVX512BW selects kernels that also need AVX-512 BW and VL (16-bit lanes, 256-bit EVEX forms).
var useAVX512BW = useAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

//go:noescape
func quantRow16AVX512(x *float32, nb int, q *int16, d *float32, s *int32)

// quantizeRow16 is round16 for every block of x, with the sums; q, d and s must be long enough.
func quantizeRow16(x []float32, q []int16, d []float32, s []int32) {
	nb := len(x) / 32
	if !useAVX512BW || nb == 0 {
		quantizeRow16Go(x, q, d, s)
		return
	}
	_, _, _ = q[nb*32-1], d[nb-1], s[nb-1]
	quantRow16AVX512(&x[0], nb, &q[0], &d[0], &s[0])
}

// vecLen is how much of n values the AVX-512 kernels below take (whole vectors of 16); the caller does
// the rest with the scalar code.
func vecLen(n int) int {
	if !useAVX512 {
		return 0
	}
	return n &^ 15
}

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func expSubSumAVX512(x *float32, n int, mx float32, c *[9]float32) float32

//go:noescape
func scaleAVX512(x *float32, n int, s float32)

//go:noescape
func swigluAVX512(dst, gate, up *float32, n int, c *[9]float32)

func maxVec(x []float32) float32 { return maxAVX512(&x[0], len(x)) }

func expSubSumVec(x []float32, mx float32) float32 {
	return expSubSumAVX512(&x[0], len(x), mx, &expConst)
}

func scaleVec(x []float32, s float32) { scaleAVX512(&x[0], len(x), s) }

func swigluVec(dst, gate, up []float32) {
	_, _ = gate[len(dst)-1], up[len(dst)-1]
	swigluAVX512(&dst[0], &gate[0], &up[0], len(dst), &expConst)
}
