//go:build arm64 && !noasm

package cpu

import "math"

// The NEON kernels of Softmax and SwiGLU (float_arm64.s), four values a step; expf's algorithm and
// constants in vector form.

//go:noescape
func expSubSumNEON(x *float32, n int, mx float32, c *float32) float32

//go:noescape
func swigluNEON(dst, gate, up *float32, n int, c *float32)

//go:noescape
func maxNEON(x *float32, n int) float32

//go:noescape
func scaleNEON(x *float32, n int, s float32)

// expTable is what the kernels' EXPCONSTS loads: expConst, 1, expf's bounds, +Inf and 127 (an int32).
var expTable = func() (t [14]float32) {
	copy(t[:], expConst[:])
	t[9], t[10], t[11], t[12] = 1, -87.3, 88.72283, float32(math.Inf(1))
	t[13] = math.Float32frombits(127)
	return t
}()

// vecLen is how much of n values the vector kernels take: whole steps of four.
func vecLen(n int) int { return n &^ 3 }

func maxVec(x []float32) float32 { return maxNEON(&x[0], len(x)) }

func expSubSumVec(x []float32, mx float32) float32 {
	return expSubSumNEON(&x[0], len(x), mx, &expTable[0])
}

func scaleVec(x []float32, s float32) { scaleNEON(&x[0], len(x), s) }

func swigluVec(dst, gate, up []float32) {
	_, _ = gate[len(dst)-1], up[len(dst)-1]
	swigluNEON(&dst[0], &gate[0], &up[0], len(dst), &expTable[0])
}
