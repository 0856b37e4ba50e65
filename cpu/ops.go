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

// Softmax: x[i] = exp(x[i] − max) / Σ exp(x[j] − max), in place (exp is expf; AVX-512 where the CPU has it).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	bulk := vecLen(len(x))
	mx := float32(math.Inf(-1))
	if bulk > 0 {
		mx = maxVec(x[:bulk])
	}
	for _, v := range x[bulk:] {
		mx = max(mx, v)
	}
	var sum float32
	if bulk > 0 {
		sum = expSubSumVec(x[:bulk], mx)
	}
	for i, v := range x[bulk:] {
		e := expf(v - mx)
		x[bulk+i] = e
		sum += e
	}
	inv := 1 / sum
	if bulk > 0 {
		scaleVec(x[:bulk], inv)
	}
	for i := range x[bulk:] {
		x[bulk+i] *= inv
	}
}

// SwiGLU: dst[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^−g).
func SwiGLU(dst, gate, up []float32) {
	gate, up = gate[:len(dst)], up[:len(dst)]
	bulk := vecLen(len(dst))
	if bulk > 0 {
		swigluVec(dst[:bulk], gate[:bulk], up[:bulk])
	}
	for i := bulk; i < len(dst); i++ {
		g := gate[i]
		dst[i] = g / (1 + expf(-g)) * up[i]
	}
}

// expConst are the constants of expf (Cephes' expf): log2(e), ln 2 in two parts, and the polynomial for
// e^r − 1 − r = r²·P(r) on |r| ≤ ln2/2, highest degree first.
var expConst = [9]float32{
	1.44269504088896341, 0.693359375, -2.12194440e-4,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
}

// expf is e^x in float32 (within 2 ulp): x = k·ln2 + r, e^r by a polynomial, times 2^k. It underflows to 0
// below −87.3 and overflows to +Inf above ln(MaxFloat32).
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < -87.3:
		return 0
	case x > 88.72283: // ln(MaxFloat32)
		return float32(math.Inf(1))
	}
	c := &expConst
	k := float32(roundEven(float64(x * c[0])))
	r := x - k*c[1] - k*c[2]
	p := c[3]
	for _, ci := range c[4:] {
		p = p*r + ci
	}
	p = p*r*r + r + 1
	if k > 127 { // e^x near the top of the float32 range: 2^k itself would overflow
		return p * 2 * math.Float32frombits(254<<23)
	}
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// Add: dst[i] += x[i].
func Add(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
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
