//go:build amd64 && !noasm

package cpu

import "golang.org/x/sys/cpu"

// useAVX512BW selects kernels that also need AVX-512 BW and VL (16-bit lanes, 256-bit EVEX forms).
var useAVX512BW = useAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

//go:noescape
func quantRow16AVX512(x *float32, nb int, q *int16, d *float32, s *int32)

//go:noescape
func quantRow16AVX2(x *float32, nb int, q *int16, d *float32, s *int32)

//go:noescape
func quantRowQ8_0AVX512(x *float32, nb int, q *int16, d *float32, s *int32)

// quantizeRowQ8_0 is QuantizeRowQ8_0's rounding into q, d and s (long enough); it reports false where
// there is no vector form (the caller then runs the Go loop).
func quantizeRowQ8_0(x []float32, q []int16, d []float32, s []int32) bool {
	nb := len(x) / 32
	if !useAVX2 || nb == 0 {
		return false
	}
	_, _, _ = q[nb*32-1], d[nb-1], s[nb-1]
	if useAVX512BW {
		quantRowQ8_0AVX512(&x[0], nb, &q[0], &d[0], &s[0])
	} else {
		quantRowQ8_0AVX2(&x[0], nb, &q[0], &d[0], &s[0])
	}
	return true
}

//go:noescape
func quantRowQ8_0AVX2(x *float32, nb int, q *int16, d *float32, s *int32)

//go:noescape
func quantRowQ8_KAVX2(x *float32, nsb int, q *int16, d *float32, s *int32)

//go:noescape
func quantRowQ8_KAVX512(x *float32, nsb int, q *int16, d *float32, s *int32)

// quantizeRowQ8_K is QuantizeRowQ8_K's rounding into q, d and s (long enough); it reports false where there
// is no vector form.
func quantizeRowQ8_K(x []float32, q []int16, d []float32, s []int32) bool {
	nsb := len(x) / 256
	if !useAVX2 || nsb == 0 {
		return false
	}
	_, _, _ = q[nsb*256-1], d[nsb*8-1], s[nsb*8-1]
	if useAVX512BW {
		quantRowQ8_KAVX512(&x[0], nsb, &q[0], &d[0], &s[0])
	} else {
		quantRowQ8_KAVX2(&x[0], nsb, &q[0], &d[0], &s[0])
	}
	return true
}

// quantizeRow16 is round16 for every block of x, with the sums; q, d and s must be long enough.
func quantizeRow16(x []float32, q []int16, d []float32, s []int32) {
	nb := len(x) / 32
	if !useAVX2 || nb == 0 {
		quantizeRow16Go(x, q, d, s)
		return
	}
	_, _, _ = q[nb*32-1], d[nb-1], s[nb-1]
	if useAVX512BW {
		quantRow16AVX512(&x[0], nb, &q[0], &d[0], &s[0])
	} else {
		quantRow16AVX2(&x[0], nb, &q[0], &d[0], &s[0])
	}
}

// vecLen is how much of n values the vector kernels below take (whole vectors of 16 with AVX-512, of 8 with
// AVX2); the caller does the rest with the scalar code.
func vecLen(n int) int {
	switch {
	case useAVX512:
		return n &^ 15
	case useAVX2:
		return n &^ 7
	}
	return 0
}

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func expSubSumAVX512(x *float32, n int, mx float32, c *[9]float32) float32

//go:noescape
func scaleAVX512(x *float32, n int, s float32)

//go:noescape
func swigluAVX512(dst, gate, up *float32, n int, c *[9]float32)

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func expSubSumAVX2(x *float32, n int, mx float32, c *[12][8]float32) float32

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

//go:noescape
func swigluAVX2(dst, gate, up *float32, n int, c *[12][8]float32)

// expConst8 holds expConst, 1.0 and the clamps −87.33 and 88.37 as 8-wide vectors for the AVX2 kernels
// (which have no broadcast operands).
var expConst8 = func() (c [12][8]float32) {
	vals := append(expConst[:], 1, -87.33, 88.37)
	for i, v := range vals {
		for j := range c[i] {
			c[i][j] = v
		}
	}
	return c
}()

func maxVec(x []float32) float32 {
	if useAVX512 {
		return maxAVX512(&x[0], len(x))
	}
	return maxAVX2(&x[0], len(x))
}

func expSubSumVec(x []float32, mx float32) float32 {
	if useAVX512 {
		return expSubSumAVX512(&x[0], len(x), mx, &expConst)
	}
	return expSubSumAVX2(&x[0], len(x), mx, &expConst8)
}

func scaleVec(x []float32, s float32) {
	if useAVX512 {
		scaleAVX512(&x[0], len(x), s)
		return
	}
	scaleAVX2(&x[0], len(x), s)
}

func swigluVec(dst, gate, up []float32) {
	_, _ = gate[len(dst)-1], up[len(dst)-1]
	if useAVX512 {
		swigluAVX512(&dst[0], &gate[0], &up[0], len(dst), &expConst)
		return
	}
	swigluAVX2(&dst[0], &gate[0], &up[0], len(dst), &expConst8)
}

//go:noescape
func narrowQuadsAVX512(dst *uint32, q *int16, n int)

//go:noescape
func splitQuadsAVX512(dst *uint32, q *int16, n int)

// narrowQuads is narrowQuadsGo, whole vectors of 32 codes in assembly.
func narrowQuads(dst []uint32, q []int16) { quadsVec(dst, q, 4, narrowQuadsAVX512, narrowQuadsGo) }

// splitQuads is splitQuadsGo, whole vectors of 32 codes in assembly.
func splitQuads(dst []uint32, q []int16) { quadsVec(dst, q, 2, splitQuadsAVX512, splitQuadsGo) }

// quadsVec runs vec on the whole vectors of 32 codes of q (with AVX-512 BW), writing a word per per codes,
// and the portable loop on the rest.
func quadsVec(dst []uint32, q []int16, per int, vec func(*uint32, *int16, int), rest func([]uint32, []int16)) {
	n := 0
	if useAVX512BW {
		n = len(q) &^ 31
	}
	if n > 0 {
		_ = dst[n/per-1]
		vec(&dst[0], &q[0], n)
	}
	rest(dst[n/per:], q[n:])
}
