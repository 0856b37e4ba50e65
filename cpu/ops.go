package cpu

import "math"

// Dot returns Σ a[i]·b[i] over len(a) (b must be at least as long), in float32 with several partial sums
// (AVX2 with FMA where the CPU has it).
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	return dot(a, b)
}

// dotGo is the portable Dot: eight partial sums.
func dotGo(a, b []float32) float32 {
	n := len(a)
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
		s4 += a[i+4] * b[i+4]
		s5 += a[i+5] * b[i+5]
		s6 += a[i+6] * b[i+6]
		s7 += a[i+7] * b[i+7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// RMSNorm: dst[i] = x[i] / sqrt(mean(x²) + eps) · w[i] (the mean is accumulated in float64, as ggml does).
func RMSNorm(dst, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// Softmax: x[i] = exp(x[i] − max) / Σ exp(x[j] − max), in place.
func Softmax(x []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// SwiGLU: dst[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^−g).
func SwiGLU(dst, gate, up []float32) {
	for i, g := range gate {
		dst[i] = g / (1 + float32(math.Exp(-float64(g)))) * up[i]
	}
}

// Add: dst[i] += x[i].
func Add(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// Scale: x[i] *= s.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// AXPY: dst[i] += a · x[i].
func AXPY(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	axpy(dst, a, x)
}

func axpyGo(dst []float32, a float32, x []float32) {
	for i := range dst {
		dst[i] += a * x[i]
	}
}
