//go:build amd64 && !noasm

package cpu

import (
	"unsafe"

	"github.com/llamago/llamago/gguf"
	"golang.org/x/sys/cpu"
)

// useAVX2 selects the assembly kernels; it is decided once at start-up from the CPU's features. They
// widen half-precision floats (F16 weights, k-quant scales, a half-precision KV cache) with F16C, which
// every CPU with AVX2 and FMA has, but a virtual machine could hide: then the portable kernels run.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

//go:noescape
func dotQ4_0Q16AVX2(w *byte, q *int16, d *float32, nb int, tab *float32) float32

//go:noescape
func dotQ8_0Q16AVX2(w *byte, q *int16, d *float32, nb int, tab *float32) float32

//go:noescape
func dotQ4_0Q16x4AVX2(w *byte, stride int, q *int16, d *float32, s *int32, nb int, tab *float32, out *float32)

//go:noescape
func dotQ8_0Q16x4AVX2(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)

//go:noescape
func dotQ4_KQ16AVX2(w *byte, q *int16, d *float32, s *int32, nsb int, tab *float32) float32

func dotQ4_KQ16(w []byte, x *Q16Row, nsb int) float32 {
	if !useAVX2 {
		return dotQ4_KQ16Go(w, x, nsb)
	}
	return dotQ4_KQ16AVX2(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), unsafe.SliceData(x.S), nsb, &f16[0])
}

//go:noescape
func dotQ6_KQ16AVX2(w *byte, q *int16, d *float32, nsb int, tab *float32) float32

func dotQ6_KQ16(w []byte, x *Q16Row, nsb int) float32 {
	if !useAVX2 {
		return dotQ6_KQ16Go(w, x, nsb)
	}
	return dotQ6_KQ16AVX2(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), nsb, &f16[0])
}

//go:noescape
func dotQ4_0Q16x2x2AVX2(w *byte, stride int, qa, qb *int16, da, db *float32, nb int, tab *float32, out *float32)

//go:noescape
func dotQ8_0Q16x2x2AVX2(w *byte, stride int, qa, qb *int16, da, db *float32, nb int, tab *float32, out *float32)

// dot2x2 computes two rows (w[0:], w[stride:]) against two activation rows into
// out = [row0·a, row0·b, row1·a, row1·b]; it reports false when no such kernel is available for t.
func dot2x2(t gguf.Type, w []byte, stride int, a, b *Q16Row, nb int, out *[4]float32) bool {
	if !useAVX2 || (t == gguf.TypeQ4_0 && a.Narrow && useVNNI) { // 8-bit: the one-row VPDPBUSD kernels are faster
		return false
	}
	_, _, _, _, _ = w[2*stride-1], a.Q[nb*32-1], a.D[nb-1], b.Q[nb*32-1], b.D[nb-1]
	qa, qb, da, db := unsafe.SliceData(a.Q), unsafe.SliceData(b.Q), unsafe.SliceData(a.D), unsafe.SliceData(b.D)
	switch t {
	case gguf.TypeQ4_0:
		dotQ4_0Q16x2x2AVX2(unsafe.SliceData(w), stride, qa, qb, da, db, nb, &f16[0], &out[0])
	case gguf.TypeQ8_0:
		dotQ8_0Q16x2x2AVX2(unsafe.SliceData(w), stride, qa, qb, da, db, nb, &f16[0], &out[0])
	default:
		return false
	}
	return true
}

//go:noescape
func dotQ4_KQ16x2AVX2(w *byte, qa, qb *int16, da, db *float32, sa, sb *int32, nsb int, tab *float32, out *float32)

// dot1x2 computes one row against two activation rows into out = [row·a, row·b]; it reports false when
// no such kernel is available for t (nb counts t's blocks).
func dot1x2(t gguf.Type, w []byte, a, b *Q16Row, nb int, out *[2]float32) bool {
	if !useAVX2 || t != gguf.TypeQ4_K {
		return false
	}
	_, _, _, _ = w[nb*144-1], a.Q[nb*256-1], b.Q[nb*256-1], a.D[nb*8-1]
	_, _, _ = b.D[nb*8-1], a.S[nb*8-1], b.S[nb*8-1]
	dotQ4_KQ16x2AVX2(unsafe.SliceData(w), unsafe.SliceData(a.Q), unsafe.SliceData(b.Q), unsafe.SliceData(a.D),
		unsafe.SliceData(b.D), unsafe.SliceData(a.S), unsafe.SliceData(b.S), nb, &f16[0], &out[0])
	return true
}

//go:noescape
func dotQ4_0Q16x4AVX512(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)

//go:noescape
func dotQ8_0Q16x8AVX512(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)

// dot8 computes eight rows (w[0:], w[stride:], …) against x into out[0:8]; it reports false when no
// eight-row kernel is available for t.
func dot8(t gguf.Type, w []byte, stride int, x *Q16Row, nb int, out *[8]float32) bool {
	switch {
	case t == gguf.TypeQ4_0 && x.Narrow && useVNNI:
		_, _, _, _ = w[8*stride-1], x.Q[nb*32-1], x.D[nb-1], x.S[nb-1]
		dotQ4_0Q8x8VNNI(unsafe.SliceData(w), stride, unsafe.SliceData(x.Q), unsafe.SliceData(x.D), unsafe.SliceData(x.S), nb, &out[0])
	case t == gguf.TypeQ8_0 && useAVX512BW:
		_, _, _ = w[8*stride-1], x.Q[nb*32-1], x.D[nb-1]
		dotQ8_0Q16x8AVX512(unsafe.SliceData(w), stride, unsafe.SliceData(x.Q), unsafe.SliceData(x.D), nb, &f16[0], &out[0])
	default:
		return false
	}
	return true
}

// dot4 computes four rows (w[0:], w[stride:], …) against x into out[0:4]; it reports false when no
// four-row kernel is available for t.
func dot4(t gguf.Type, w []byte, stride int, x *Q16Row, nb int, out *[4]float32) bool {
	if !useAVX2 {
		return dot4Go(t, w, stride, x, nb, out)
	}
	_, _, _ = w[4*stride-1], x.Q[nb*32-1], x.D[nb-1]
	q, d := unsafe.SliceData(x.Q), unsafe.SliceData(x.D)
	switch {
	case t == gguf.TypeQ6_K && x.Narrow && useVNNI:
		_, _ = x.Q[nb*256-1], x.D[nb*8-1] // nb counts super-blocks
		dotQ6_KQ8x4VNNI(unsafe.SliceData(w), stride, q, d, nb, &f16[0], &out[0])
	case t == gguf.TypeQ4_K && x.Narrow && useVNNI:
		_, _, _ = x.Q[nb*256-1], x.D[nb*8-1], x.S[nb*8-1] // nb counts super-blocks
		dotQ4_KQ8x4VNNI(unsafe.SliceData(w), stride, q, d, unsafe.SliceData(x.S), nb, &f16[0], &out[0])
	case t == gguf.TypeQ4_0 && x.Narrow && useVNNI:
		_ = x.S[nb-1]
		dotQ4_0Q8x4VNNI(unsafe.SliceData(w), stride, q, d, unsafe.SliceData(x.S), nb, &out[0])
	case t == gguf.TypeQ4_0 && useAVX512BW && nb%2 == 0:
		dotQ4_0Q16x4AVX512(unsafe.SliceData(w), stride, q, d, nb, &f16[0], &out[0])
	case t == gguf.TypeQ4_0:
		_ = x.S[nb-1]
		dotQ4_0Q16x4AVX2(unsafe.SliceData(w), stride, q, d, unsafe.SliceData(x.S), nb, &f16[0], &out[0])
	case t == gguf.TypeQ8_0:
		dotQ8_0Q16x4AVX2(unsafe.SliceData(w), stride, q, d, nb, &f16[0], &out[0])
	default:
		return false
	}
	return true
}

func dotQ4_0Q16(w []byte, x *Q16Row, nb int) float32 {
	if !useAVX2 {
		return dotQ4_0Q16Go(w, x, nb)
	}
	return dotQ4_0Q16AVX2(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), nb, &f16[0])
}

func dotQ8_0Q16(w []byte, x *Q16Row, nb int) float32 {
	if !useAVX2 {
		return dotQ8_0Q16Go(w, x, nb)
	}
	return dotQ8_0Q16AVX2(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), nb, &f16[0])
}

// Kernels names the kernel set in use, for benchmarks and `llamago version`.
func Kernels() string {
	if useVNNI {
		return "avx2+avx512vnni"
	}
	if useAVX2 && useAVXVNNI {
		return "avx2+avxvnni"
	}
	if useAVX2 {
		return "avx2"
	}
	return "go"
}

// dotQ4_KQ8x4VNNI is four rows of DotQ4_KQ16 for 8-bit activations (x.Narrow); nsb counts super-blocks.
//
//go:noescape
func dotQ4_KQ8x4VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nsb int, tab *float32, out *float32)

// dotQ6_KQ8x4VNNI is four rows of DotQ6_KQ16 for 8-bit activations (x.Narrow); nsb counts super-blocks.
//
//go:noescape
func dotQ6_KQ8x4VNNI(w *byte, stride int, q *int16, d *float32, nsb int, tab *float32, out *float32)

// dotQ4_0Q8x8VNNI and dotQ4_0Q8x4VNNI are dotQ4_0Q16x4AVX2 for eight and four rows of 8-bit activations
// (x.Narrow), with VPDPBUSD (quant8_amd64.s).
//
//go:noescape
func dotQ4_0Q8x8VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nb int, out *float32)

//go:noescape
func dotQ4_0Q8x4VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nb int, out *float32)
