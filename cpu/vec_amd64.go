//go:build amd64 && !noasm

package cpu

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
