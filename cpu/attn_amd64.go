//go:build amd64 && !noasm

package cpu

import (
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// useAVX512 selects the AVX-512 kernels (attention, softmax, SwiGLU, float tiles; with BW/VL/VNNI the others).
// LLAMAGO_CPU=avx2 (or avx2-novnni, see useAVXVNNI) in the environment turns them off, to measure or test
// what a CPU without AVX-512 runs.
var useAVX512 = useAVX2 && cpu.X86.HasAVX512F && !strings.HasPrefix(cpuMode, "avx2")

// cpuMode is LLAMAGO_CPU: "avx2" or "avx2-novnni" turn kernel sets off, for measuring and testing.
var cpuMode = os.Getenv("LLAMAGO_CPU")

//go:noescape
func attnScoresAVX512(q *[4]*float32, k *float32, tileStride, hd, tiles int, s *float32, stride int, scale float32)

//go:noescape
func attnValues64AVX512(p *[4]*float32, n int, v *float32, vstride int, out *[4]*float32)

//go:noescape
func attnValues16AVX512(p *[4]*float32, n int, v *float32, vstride int, out *[4]*float32)

//go:noescape
func attnScoresAVX2(q *[4]*float32, k *float32, tileStride, hd, tiles int, s *float32, stride int, scale float32)

//go:noescape
func attnValues16AVX2(p *[4]*float32, n int, v *float32, vstride int, out *[4]*float32)

func attnScores(a *AttnQueries, k []float32, hd, tiles int, s []float32, stride int, scale float32) {
	if !useAVX2 || hd%16 != 0 {
		attnScoresGo(a, k, hd, tiles, s, stride, scale)
		return
	}
	_ = k[tiles*hd*KTile-1]
	var q [4]*float32
	for i := range q {
		src := a.Q[min(i, a.Count-1)][:hd] // missing queries repeat the last one; their rows of s are ignored
		q[i] = &src[0]
	}
	_ = s[3*stride+tiles*KTile-1]
	if useAVX512 {
		attnScoresAVX512(&q, &k[0], hd*KTile*4, hd, tiles, &s[0], stride*4, scale)
	} else {
		attnScoresAVX2(&q, &k[0], hd*KTile*4, hd, tiles, &s[0], stride*4, scale)
	}
}

// attnValues adds Σ_{j<n} s[i·stride + j]·V[j] to Out[i] (see attnValuesGo).
func attnValues(a *AttnQueries, s []float32, stride, n int, v []float32, hd int) {
	if !useAVX2 || hd%16 != 0 {
		attnValuesGo(a, s, stride, n, v, hd)
		return
	}
	_ = v[n*hd-1]
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
		switch {
		case width == 64:
			attnValues64AVX512(&p, n, &v[c], hd*4, &o)
		case useAVX512:
			attnValues16AVX512(&p, n, &v[c], hd*4, &o)
		default:
			attnValues16AVX2(&p, n, &v[c], hd*4, &o)
		}
		c += width
	}
}
