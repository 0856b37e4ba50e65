//go:build amd64 && !noasm

package cpu

import (
	"github.com/llamago/llamago/gguf"
	"golang.org/x/sys/cpu"
)

// useVNNI selects the gemm path for prompt-sized batches: AVX-512 (F, BW, VL) with VNNI, enabled by the OS.
var useVNNI = useAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI

//go:noescape
func gemm16x16VNNI(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, nblk, groups, offsets int, out *float32, ostride int)

//go:noescape
func gemm16x16VNNI8(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, sq *int32, nblk, groups, offsets, bias int, out *float32, ostride int)

func gemmKernel8VNNI(st *strip, q []uint32, ad, as []float32, sq []int32, nblk, block int, offsets bool, bias int, out []float32, ostride int) {
	if block%16 != 0 {
		panic("gemm: block of values not a multiple of 16")
	}
	quads := nblk * block / 4
	_, _, _ = st.q[quads*gemmRows-1], st.s[nblk*gemmRows-1], st.o[nblk*gemmRows-1]
	_, _, _ = q[quads*gemmT-1], ad[nblk*gemmT-1], sq[nblk*gemmT-1]
	var asp *float32
	off := 0
	if offsets {
		_ = as[nblk*gemmT-1]
		asp, off = &as[0], 1
	}
	_ = out[(gemmT-1)*ostride+gemmRows-1]
	gemm16x16VNNI8(&st.q[0], &st.s[0], &st.o[0], &q[0], &ad[0], asp, &sq[0], nblk, block/16, off, bias, &out[0], 4*ostride)
}

// wholeStrip reports whether the AVX-512 unpackers can take rows r0…r0+15 of w (all there, and their
// offsets within the gathers' 32 bits), with the row length.
func wholeStrip(w *Weight, r0 int) (int, bool) {
	rb := w.RowBytes()
	return rb, useVNNI && r0+gemmRows <= w.Rows && 15*rb <= 1<<31-1
}

//go:noescape
func unpackQ4_0x16AVX512(w *byte, stride int, nb int, q *uint32, s, o *float32, idx *[80]int32)

// unpackQ4_0Fast is unpackQ4_0 for the 16 rows of a whole strip at once (AVX-512); it reports false where
// it cannot run (no AVX-512, rows too far apart for the gather's 32-bit offsets).
func unpackQ4_0Fast(w *Weight, r0 int, st *strip) bool {
	rb, ok := wholeStrip(w, r0)
	if !ok {
		return false
	}
	nb := w.Cols / 32
	_, _, _, _ = w.Data[(r0+gemmRows)*rb-1], st.q[nb*8*gemmRows-1], st.s[nb*gemmRows-1], st.o[nb*gemmRows-1]
	idx := q4Transpose
	for r := range gemmRows {
		idx[64+r] = int32(r * rb)
	}
	unpackQ4_0x16AVX512(&w.Data[r0*rb], rb, nb, &st.q[0], &st.s[0], &st.o[0], &idx)
	return true
}

// q4Transpose holds unpackQ4_0x16AVX512's VPERMT2D indices: for word k, four rows' word k from each of two
// registers of four rows (lanes 0–3 from the first, 4–7 from the second).
var q4Transpose = func() (idx [80]int32) {
	for k := range 4 {
		for p := range 8 {
			idx[16*k+p] = int32(16*(p/4) + 4*(p%4) + k)
		}
	}
	return idx
}()

//go:noescape
func unpackQ4_Kx16AVX512(w *byte, stride int, nsb int, q *uint32, s, o *float32, idx *[64]int32)

// unpackQ4_KFast is unpackQ4_K for the 16 rows of a whole strip at once (AVX-512); it reports false where
// it cannot run.
func unpackQ4_KFast(w *Weight, r0 int, st *strip) bool {
	rb, ok := wholeStrip(w, r0)
	if !ok {
		return false
	}
	nsb := w.Cols / gguf.QK_K
	_, _, _, _ = w.Data[(r0+gemmRows)*rb-1], st.q[nsb*64*gemmRows-1], st.s[nsb*8*gemmRows-1], st.o[nsb*8*gemmRows-1]
	idx := q4kTranspose
	for r := range gemmRows {
		idx[32+r] = int32(r * rb)
	}
	unpackQ4_Kx16AVX512(&w.Data[r0*rb], rb, nsb, &st.q[0], &st.s[0], &st.o[0], &idx)
	return true
}

// q4kTranspose holds unpackQ4_Kx16AVX512's VPERMT2D indices: for words 4h…4h+3 (h = 0, 1), four rows'
// words k side by side, from two registers of two rows each (word k of row rr at 8·rr + k).
var q4kTranspose = func() (idx [64]int32) {
	for h := range 2 {
		for kk := range 4 {
			for rr := range 4 {
				idx[16*h+4*kk+rr] = int32(8*rr + 4*h + kk)
			}
		}
	}
	return idx
}()

//go:noescape
func widenAVX512(dst, src *uint32, quads int, bias int16, ctl *[128]byte)

//go:noescape
func gemm16x4AVX2(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, nblk, pairs, offsets int, out *float32, ostride, vnni int)

// useAVXVNNI selects the AVX-VNNI inner loop of the AVX2 tiles (VEX-encoded VPDPWSSD: Alder Lake and later
// laptops have it without AVX-512); LLAMAGO_CPU=avx2-novnni turns it off to test the plain AVX2 loop.
var useAVXVNNI = useAVX2 && cpu.X86.HasAVXVNNI && cpuMode != "avx2-novnni"

//go:noescape
func widenAVX2(dst, src *uint32, quads int, bias int16, ctl *[128]byte)

// gemmFast is the gemm implementation in use: AVX-512 VNNI, else AVX2 (see canGemm).
var gemmFast = func() gemmImpl {
	if useVNNI {
		return gemmImpl{widenFast, gemmKernelVNNI, gemmKernel8VNNI, nil}
	}
	return gemmAVX2
}()

// gemmAVX2 is the tile path for CPUs with AVX2 but not AVX-512 VNNI; its 8-bit kernel takes the 4-bit
// types (their pair sums fit VPMADDUBSW's 16 bits a block at a time) and Q6_K (two quads at a time), Q8_0
// the 16-bit kernel on the 8-bit values (the same integers: its signed bytes would saturate VPMADDUBSW).
var gemmAVX2 = gemmImpl{widenAVX2Strip, gemmKernelAVX2, gemmKernel8AVX2,
	map[gguf.Type]bool{gguf.TypeQ4_0: true, gguf.TypeQ4_K: true, gguf.TypeQ6_K: true}}

//go:noescape
func gemm16x4AVX2Q8(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, sq *int32, nblk, quads, offsets, bias int, out *float32, ostride int)

//go:noescape
func gemm16x4AVX2Q6(w *uint32, ws *float32, q *uint32, ad *float32, sq *int32, nblk int, out *float32, ostride int)

// gemmKernel8AVX2 covers the 16 × 8 tile with two 16-row × 4-token calls of the 8-bit kernel: blocks of 32
// values of at most 4 bits (bias 8 or 0), or Q6_K's blocks of 16 (bias 32, no offsets).
func gemmKernel8AVX2(st *strip, q []uint32, ad, as []float32, sq []int32, nblk, block int, offsets bool, bias int, out []float32, ostride int) {
	q6 := block == 16 && bias == 32 && !offsets // Q6_K's strips, the only ones of this shape: codes of 6 bits at most
	if !q6 && (block != 32 || (bias != 0 && bias != 8)) {
		panic("gemm: the AVX2 8-bit kernel takes blocks of 32 values of at most 4 bits, or Q6_K's")
	}
	quads := nblk * block / 4
	_, _, _ = st.q[quads*gemmRows-1], st.s[nblk*gemmRows-1], st.o[nblk*gemmRows-1]
	_, _, _ = q[quads*gemmT-1], ad[nblk*gemmT-1], sq[nblk*gemmT-1]
	_ = out[(gemmT-1)*ostride+gemmRows-1]
	if q6 {
		for th := 0; th < 2; th++ {
			gemm16x4AVX2Q6(&st.q[0], &st.s[0], &q[4*th], &ad[4*th], &sq[4*th], nblk, &out[4*th*ostride], 4*ostride)
		}
		return
	}
	off := 0
	if offsets {
		_ = as[nblk*gemmT-1]
		off = 1
	}
	for th := 0; th < 2; th++ {
		var asp *float32
		if offsets {
			asp = &as[4*th]
		}
		gemm16x4AVX2Q8(&st.q[0], &st.s[0], &st.o[0], &q[4*th], &ad[4*th], asp, &sq[4*th], nblk, block/4, off, bias,
			&out[4*th*ostride], 4*ostride)
	}
}

func widenAVX2Strip(st *strip, bias int) {
	_ = st.w[2*len(st.q)-1]
	widenAVX2(&st.w[0], &st.q[0], len(st.q)/gemmRows, int16(bias), &widenCtl)
}

// gemmKernelAVX2 covers the 16 × 8 tile with two 16-row × 4-token calls.
func gemmKernelAVX2(st *strip, q []uint32, ad, as []float32, nblk, block int, offsets bool, out []float32, ostride int) {
	pairs := nblk * block / 2
	_, _, _ = st.w[pairs*gemmRows-1], st.s[nblk*gemmRows-1], st.o[nblk*gemmRows-1]
	_, _ = q[pairs*gemmT-1], ad[nblk*gemmT-1]
	_ = out[(gemmT-1)*ostride+gemmRows-1]
	off, vnni := 0, 0
	if offsets {
		_ = as[nblk*gemmT-1]
		off = 1
	}
	if useAVXVNNI {
		vnni = 1
	}
	for th := 0; th < 2; th++ {
		var asp *float32
		if offsets {
			asp = &as[4*th]
		}
		gemm16x4AVX2(&st.w[0], &st.s[0], &st.o[0], &q[4*th], &ad[4*th], asp, nblk, block/2, off,
			&out[4*th*ostride], 4*ostride, vnni)
	}
}

// widenCtl holds the byte shuffles of widenAVX512: for each 4-byte word, bytes 0 and 1 (then 2 and 3)
// zero-extended to 16 bits.
var widenCtl = func() (c [128]byte) {
	for i := 0; i < 16; i++ { // word i of a 128-bit lane is at byte 4·(i%4)
		w := 4 * (i % 4)
		c[4*i], c[4*i+1], c[4*i+2], c[4*i+3] = byte(w), 0x80, byte(w+1), 0x80
		c[64+4*i], c[64+4*i+1], c[64+4*i+2], c[64+4*i+3] = byte(w+2), 0x80, byte(w+3), 0x80
	}
	return c
}()

func widenFast(st *strip, bias int) {
	_ = st.w[2*len(st.q)-1]
	widenAVX512(&st.w[0], &st.q[0], len(st.q)/gemmRows, int16(bias), &widenCtl)
}

func gemmKernelVNNI(st *strip, q []uint32, ad, as []float32, nblk, block int, offsets bool, out []float32, ostride int) {
	if block%16 != 0 {
		panic("gemm: block of values not a multiple of 16")
	}
	pairs := nblk * block / 2
	_, _, _ = st.w[pairs*gemmRows-1], st.s[nblk*gemmRows-1], st.o[nblk*gemmRows-1]
	_, _ = q[pairs*gemmT-1], ad[nblk*gemmT-1]
	var asp *float32
	off := 0
	if offsets {
		_ = as[nblk*gemmT-1]
		asp, off = &as[0], 1
	}
	_ = out[(gemmT-1)*ostride+gemmRows-1]
	gemm16x16VNNI(&st.w[0], &st.s[0], &st.o[0], &q[0], &ad[0], asp, nblk, block/8, off, &out[0], 4*ostride)
}

//go:noescape
func gemmF16x8AVX512(w, x *float32, cols int, out *float32, ostride int)

//go:noescape
func gemmF16x4AVX2(w, x *float32, cols int, out *float32, ostride int)

// gemmFFast is the float tile kernel in use: AVX-512, else AVX2 (see canGemmFloat).
var gemmFFast gemmFKernel = func() gemmFKernel {
	if useAVX512 {
		return gemmFKernelAVX512
	}
	return gemmFKernelAVX2
}()

// gemmFKernelAVX2 runs the token group as two halves of four tokens (16 accumulators would not fit in the
// 16 AVX2 registers).
func gemmFKernelAVX2(st, x []float32, cols int, out []float32, ostride int) {
	_, _, _ = st[cols*gemmRows-1], x[cols*gemmT-1], out[(gemmT-1)*ostride+gemmRows-1]
	gemmF16x4AVX2(&st[0], &x[0], cols, &out[0], 4*ostride)
	gemmF16x4AVX2(&st[0], &x[gemmT/2], cols, &out[gemmT/2*ostride], 4*ostride)
}

func gemmFKernelAVX512(st, x []float32, cols int, out []float32, ostride int) {
	_, _, _ = st[cols*gemmRows-1], x[cols*gemmT-1], out[(gemmT-1)*ostride+gemmRows-1]
	gemmF16x8AVX512(&st[0], &x[0], cols, &out[0], 4*ostride)
}
