//go:build arm64 && !noasm

package cpu

import (
	"unsafe"

	"github.com/llamago/llamago/gguf"
	"golang.org/x/sys/cpu"
)

// The NEON kernels (quant_arm64.s): Q4_0 and Q8_0 products, one row or four rows at a time, with the
// activations at 16 bits (SMLAL: every arm64 CPU has NEON), and four rows with 8-bit activations (SDOT,
// ARMv8.2's dot product: Apple M1 and later, Graviton 2 and later); Q4_K and Q6_K rows (by SMLAL, or SDOT
// at 8 bits), their scales and float arithmetic four groups at a time.

// hasDotProd says the CPU has SDOT; useDotProd selects the SDOT kernels for 8-bit activations (tests turn
// it off to check the others).
var (
	hasDotProd = cpu.ARM64.HasASIMDDP
	useDotProd = hasDotProd
	// hasI8MM says the CPU has SMMLA (the prompts' two-by-two kernels); useI8MM selects them.
	hasI8MM = cpu.ARM64.HasI8MM
	useI8MM = hasI8MM
)

// dotQ16NEON: one Q8_0 row (Q4_0 where q4 ≠ 0; s is read only then) against 16-bit or 8-bit activations.
//
//go:noescape
func dotQ16NEON(w *byte, q *int16, d *float32, s *int32, nb int, tab *float32, q4 int) float32

// The four-row kernels: SMLAL on 16-bit activations, or SDOT on 8-bit ones where sdot ≠ 0.
//
//go:noescape
func dotQ8_0x4NEON(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32, sdot int)

//go:noescape
func dotQ4_0x4NEON(w *byte, stride int, q *int16, d *float32, s *int32, nb int, tab *float32, out *float32, sdot int)

// dotx2x2MMLA: two Q8_0 rows (Q4_0 where q4 ≠ 0; sa and sb are read only then) against two tokens.
//
//go:noescape
func dotx2x2MMLA(w *byte, stride int, qa, qb *int16, da, db *float32, sa, sb *int32, nb int, tab *float32, out *float32, q4 int)

// sdotMode is the kernels' sdot argument for activations x: 1 where they are 8-bit and the CPU has SDOT.
func sdotMode(x *Q16Row) int {
	if x.Narrow && useDotProd {
		return 1
	}
	return 0
}

// dot2x2 computes two rows (w[0:], w[stride:]) against two tokens' activations into out = [row0·a, row0·b,
// row1·a, row1·b], for Q4_0 and Q8_0 with 8-bit activations on CPUs with the int8 matrix multiply
// (SMMLA: Apple M2 and later, Graviton 3): the prompts' products. Elsewhere it reports false and MatMul
// takes the four-row kernels token by token.
func dot2x2(t gguf.Type, w []byte, stride int, a, b *Q16Row, nb int, out *[4]float32) bool {
	if !useI8MM || !a.Narrow || !b.Narrow || nb == 0 || stride < 0 || (t != gguf.TypeQ4_0 && t != gguf.TypeQ8_0) {
		return false
	}
	_, _, _ = w[stride+nb*t.TypeSize()-1], a.Q[nb*32-1], b.Q[nb*32-1]
	_, _ = a.D[nb-1], b.D[nb-1]
	qa, qb, da, db := unsafe.SliceData(a.Q), unsafe.SliceData(b.Q), unsafe.SliceData(a.D), unsafe.SliceData(b.D)
	q4 := 0
	if t == gguf.TypeQ4_0 {
		_, _ = a.S[nb-1], b.S[nb-1]
		q4 = 1
	}
	dotx2x2MMLA(unsafe.SliceData(w), stride, qa, qb, da, db, unsafe.SliceData(a.S), unsafe.SliceData(b.S), nb, &f16[0], &out[0], q4)
	return true
}

// dot1x2 has no NEON kernel.
func dot1x2(gguf.Type, []byte, *Q16Row, *Q16Row, int, *[2]float32) bool { return false }

// dot8 has no NEON kernel: four rows at a time already keep the activations in registers.
func dot8(gguf.Type, []byte, int, *Q16Row, int, *[8]float32) bool { return false }

// dot4 computes four rows (w[0:], w[stride:], …) against x into out[0:4].
func dot4(t gguf.Type, w []byte, stride int, x *Q16Row, nb int, out *[4]float32) bool {
	if t == gguf.TypeQ4_K || t == gguf.TypeQ6_K {
		return false // the one-row NEON kernels (dotQ4_KQ16, dotQ6_KQ16)
	}
	if nb == 0 || stride < 0 || (t != gguf.TypeQ4_0 && t != gguf.TypeQ8_0) {
		return dot4Go(t, w, stride, x, nb, out)
	}
	q, d := unsafe.SliceData(x.Q), unsafe.SliceData(x.D)
	_, _, _ = w[3*stride+nb*t.TypeSize()-1], x.Q[nb*32-1], x.D[nb-1]
	sdot := sdotMode(x)
	if t == gguf.TypeQ4_0 {
		_ = x.S[nb-1]
		dotQ4_0x4NEON(unsafe.SliceData(w), stride, q, d, unsafe.SliceData(x.S), nb, &f16[0], &out[0], sdot)
	} else {
		dotQ8_0x4NEON(unsafe.SliceData(w), stride, q, d, nb, &f16[0], &out[0], sdot)
	}
	return true
}

func dotQ4_0Q16(w []byte, x *Q16Row, nb int) float32 {
	if nb == 0 {
		return 0
	}
	_, _, _, _ = w[nb*18-1], x.Q[nb*32-1], x.D[nb-1], x.S[nb-1]
	return dotQ16NEON(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), unsafe.SliceData(x.S), nb, &f16[0], 1)
}

func dotQ8_0Q16(w []byte, x *Q16Row, nb int) float32 {
	if nb == 0 {
		return 0
	}
	_, _, _ = w[nb*34-1], x.Q[nb*32-1], x.D[nb-1]
	return dotQ16NEON(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), unsafe.SliceData(x.S), nb, &f16[0], 0)
}

//go:noescape
func dotQ4_KQ16NEON(w *byte, q *int16, d *float32, s *int32, nsb int, tab *float32, sdot int) float32

//go:noescape
func dotQ6_KQ16NEON(w *byte, q *int16, d *float32, nsb int, tab *float32, scratch *int32, sdot int) float32

// dotQ4_KQ16 is dotQ4_KQ16Go in NEON (dotQ4_KQ16NEON): integer sums, scales and float arithmetic four
// sub-blocks at a time.
func dotQ4_KQ16(w []byte, x *Q16Row, nsb int) float32 {
	if nsb == 0 {
		return 0
	}
	_, _, _, _ = w[nsb*144-1], x.Q[nsb*256-1], x.D[nsb*8-1], x.S[nsb*8-1]
	return dotQ4_KQ16NEON(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), unsafe.SliceData(x.S), nsb, &f16[0], sdotMode(x))
}

// dotQ6_KQ16 is dotQ6_KQ16Go in NEON (dotQ6_KQ16NEON): integer sums of the half groups, then the scales
// and float arithmetic four half groups at a time.
func dotQ6_KQ16(w []byte, x *Q16Row, nsb int) float32 {
	if nsb == 0 {
		return 0
	}
	_, _, _ = w[nsb*210-1], x.Q[nsb*256-1], x.D[nsb*8-1]
	var scratch [16]int32
	return dotQ6_KQ16NEON(unsafe.SliceData(w), unsafe.SliceData(x.Q), unsafe.SliceData(x.D), nsb, &f16[0], &scratch[0], sdotMode(x))
}

// Kernels names the kernel set in use, for benchmarks and `llamago version`.
func Kernels() string {
	k := "neon"
	if useDotProd {
		k += "+dotprod"
	}
	if useI8MM {
		k += "+i8mm"
	}
	return k
}
