//go:build arm64 && !noasm

package cpu

import "github.com/llamago/llamago/gguf"

// The NEON float kernels (float_arm64.s) take whole steps of 16 values; the portable loops do the rest.

//go:noescape
func dotNEON(a, b *float32, n int) float32

//go:noescape
func axpyNEON(dst *float32, a float32, x *float32, n int)

//go:noescape
func attnScoresNEON(q, k *float32, hd, tiles, tileBytes int, s *float32, scale float32)

//go:noescape
func attnScoresF16NEON(q *float32, k *uint16, hd, tiles, tileBytes int, s *float32, scale float32)

func dot(a, b []float32) float32 {
	n := len(a) &^ 15
	if n == 0 {
		return dotGo(a, b)
	}
	_ = b[len(a)-1]
	return dotNEON(&a[0], &b[0], n) + dotGo(a[n:], b[n:len(a)])
}

func axpy(dst []float32, a float32, x []float32) {
	n := len(dst) &^ 15
	if n > 0 {
		_ = x[len(dst)-1]
		axpyNEON(&dst[0], a, &x[0], n)
	}
	axpyGo(dst[n:], a, x[n:len(dst)])
}

//go:noescape
func f16ToF32NEON(dst *float32, src *byte, n int)

//go:noescape
func bf16ToF32NEON(dst *float32, src *byte, n int)

// widenRow converts a row of F16 or BF16 values (a multiple of 8 of them) with NEON, reporting false for
// anything else (Weight.Row then takes the reference dequantizer).
func widenRow(t gguf.Type, src []byte, dst []float32) bool {
	n := len(dst)
	if n%8 != 0 || n == 0 || len(src) < 2*n {
		return false
	}
	switch t {
	case gguf.TypeF16:
		f16ToF32NEON(&dst[0], &src[0], n)
	case gguf.TypeBF16:
		bf16ToF32NEON(&dst[0], &src[0], n)
	default:
		return false
	}
	return true
}

// attnScores: scale·Q[i]·K[j] for the tiles of keys, one query at a time (attnScoresNEON).
func attnScores(a *AttnQueries, k []float32, hd, tiles int, s []float32, stride int, scale float32) {
	if hd == 0 || tiles == 0 {
		attnScoresGo(a, k, hd, tiles, s, stride, scale)
		return
	}
	_ = k[tiles*hd*KTile-1]
	for i := 0; i < a.Count; i++ {
		q := a.Q[i][:hd]
		_ = s[i*stride+tiles*KTile-1]
		attnScoresNEON(&q[0], &k[0], hd, tiles, 4*hd*KTile, &s[i*stride], scale)
	}
}

// attnScoresF16 is attnScores over half-precision keys (attnScoresF16NEON).
func attnScoresF16(a *AttnQueries, k []uint16, hd, tiles int, s []float32, stride int, scale float32) {
	if hd == 0 || tiles == 0 {
		return
	}
	_ = k[tiles*hd*KTile-1]
	for i := 0; i < a.Count; i++ {
		q := a.Q[i][:hd]
		_ = s[i*stride+tiles*KTile-1]
		attnScoresF16NEON(&q[0], &k[0], hd, tiles, 2*hd*KTile, &s[i*stride], scale)
	}
}

func attnValues(a *AttnQueries, s []float32, stride, n int, v []float32, hd int) {
	attnValuesGo(a, s, stride, n, v, hd)
}

// attnValuesF16: the rows widened with NEON (widenF16), then added with it (AXPY).
func attnValuesF16(a *AttnQueries, s []float32, stride, n int, v []uint16, hd int) {
	attnValuesGoF16(a, s, stride, n, v, hd)
}

// useAVX512 is false on arm64.
const useAVX512 = false
