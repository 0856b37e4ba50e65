//go:build amd64 && !noasm

package cpu

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX512 selects the AVX-512 kernels (attention, softmax, SwiGLU, float tiles; with BW/VL/VNNI the others).
// LLAMAGO_CPU=avx2 (or avx2-novnni, see useAVXVNNI) in the environment turns them off, to measure or test
// what a CPU without AVX-512 runs.
var useAVX512 = useAVX2 && cpu.X86.HasAVX512F && !strings.HasPrefix(cpuMode, "avx2")

// cpuMode is LLAMAGO_CPU: "avx2" or "avx2-novnni" turn kernel sets off, for measuring and testing.
var cpuMode = os.Getenv("LLAMAGO_CPU")

//go:noescape
func attnScoresAVX512(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)

//go:noescape
func attnScoresF16AVX512(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)

//go:noescape
func attnValues64AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)

//go:noescape
func attnValues64F16AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)

//go:noescape
func attnValues16AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)

//go:noescape
func attnValues16F16AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)

//go:noescape
func attnScoresAVX2(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)

//go:noescape
func attnScoresF16AVX2(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)

//go:noescape
func attnValues16AVX2(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)

//go:noescape
func attnValues16F16AVX2(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)

func attnScores(a *AttnQueries, k []float32, hd, tiles int, s []float32, stride int, scale float32) {
	if !useAVX2 || hd%16 != 0 {
		attnScoresGo(a, k, hd, tiles, s, stride, scale)
		return
	}
	_ = k[tiles*hd*KTile-1]
	scoresAsm(a, unsafe.Pointer(&k[0]), 4, hd, tiles, s, stride, scale)
}

func attnScoresF16(a *AttnQueries, k []uint16, hd, tiles int, s []float32, stride int, scale float32) {
	if !useAVX2 || hd%16 != 0 {
		attnScoresGoF16(a, k, hd, tiles, s, stride, scale)
		return
	}
	_ = k[tiles*hd*KTile-1]
	scoresAsm(a, unsafe.Pointer(&k[0]), 2, hd, tiles, s, stride, scale)
}

// scoresAsm runs the scores kernel for keys of size bytes each (4: float32, 2: half), in range.
func scoresAsm(a *AttnQueries, k unsafe.Pointer, size, hd, tiles int, s []float32, stride int, scale float32) {
	var q [4]*float32
	for i := range q {
		src := a.Q[min(i, a.Count-1)][:hd] // missing queries repeat the last one; their rows of s are ignored
		q[i] = &src[0]
	}
	_ = s[3*stride+tiles*KTile-1]
	ts := hd * KTile * size
	switch {
	case useAVX512 && size == 4:
		attnScoresAVX512(&q, k, ts, hd, tiles, &s[0], stride*4, scale)
	case useAVX512:
		attnScoresF16AVX512(&q, k, ts, hd, tiles, &s[0], stride*4, scale)
	case size == 4:
		attnScoresAVX2(&q, k, ts, hd, tiles, &s[0], stride*4, scale)
	default:
		attnScoresF16AVX2(&q, k, ts, hd, tiles, &s[0], stride*4, scale)
	}
}

// attnValues adds Σ_{j<n} s[i·stride + j]·V[j] to Out[i] (see attnValuesGo).
func attnValues(a *AttnQueries, s []float32, stride, n int, v []float32, hd int) {
	if !useAVX2 || hd%16 != 0 {
		attnValuesGo(a, s, stride, n, v, hd)
		return
	}
	_ = v[n*hd-1]
	valuesAsm(a, s, stride, n, unsafe.Pointer(&v[0]), 4, hd)
}

func attnValuesF16(a *AttnQueries, s []float32, stride, n int, v []uint16, hd int) {
	if !useAVX2 || hd%16 != 0 {
		attnValuesGoF16(a, s, stride, n, v, hd)
		return
	}
	_ = v[n*hd-1]
	valuesAsm(a, s, stride, n, unsafe.Pointer(&v[0]), 2, hd)
}

// valuesAsm runs the values kernels over n rows of hd values of size bytes each (4: float32, 2: half), in
// range, 64 or 16 dimensions a call.
func valuesAsm(a *AttnQueries, s []float32, stride, n int, v unsafe.Pointer, size, hd int) {
	var p, o [4]*float32
	var spare [64]float32 // output of the missing queries
	for i := range p {
		p[i] = &s[min(i, a.Count-1)*stride]
	}
	for c := 0; c < hd; {
		width := 64
		if c+64 > hd || !useAVX512 {
			width = 16
		}
		for i := range o {
			o[i] = &spare[0]
			if i < a.Count {
				out := a.Out[i][c : c+width]
				o[i] = &out[0]
			}
		}
		vc := unsafe.Add(v, c*size)
		switch {
		case width == 64 && size == 4:
			attnValues64AVX512(&p, n, vc, hd*size, &o)
		case width == 64:
			attnValues64F16AVX512(&p, n, vc, hd*size, &o)
		case useAVX512 && size == 4:
			attnValues16AVX512(&p, n, vc, hd*size, &o)
		case useAVX512:
			attnValues16F16AVX512(&p, n, vc, hd*size, &o)
		case size == 4:
			attnValues16AVX2(&p, n, vc, hd*size, &o)
		default:
			attnValues16F16AVX2(&p, n, vc, hd*size, &o)
		}
		c += width
	}
}
