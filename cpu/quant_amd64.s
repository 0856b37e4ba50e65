//go:build amd64 && !noasm

#include "textflag.h"

// Integer dot products of weight blocks (Q4_0, Q8_0) with activations rounded to 16 bits per block of 32
// (see Q16Row). Weights are widened to 16-bit words and multiplied pairwise with VPMADDWD (int32 sums;
// |w| ≤ 128 and |x| ≤ 32767 keep every lane below 2^24, so the conversion to float is exact), then
// scaled by d_w·d_x and accumulated with FMA.

// Constants: Y5 = 0x000F words, Y6 = 8 words.
// R13 = 0 serves as the row offset of the first (or only) row.
#define CONSTANTS \
	XORQ R13, R13 \
	MOVL $0x000F000F, AX \
	VMOVD AX, X5 \
	VPBROADCASTD X5, Y5 \
	MOVL $0x00080008, AX \
	VMOVD AX, X6 \
	VPBROADCASTD X6, Y6

// Weight loaders (block at (SI)idx) leave the block's 32 weights as words: Y1 = elements 0…15, Y2 = 16…31.
#define Q8W(idx) \
	VPMOVSXBW 2(SI)idx, Y1 \
	VPMOVSXBW 18(SI)idx, Y2

#define Q4W(idx) \
	VPMOVZXBW 2(SI)idx, Y1 \
	VPSRLW $4, Y1, Y2 \
	VPAND Y5, Y1, Y1 \
	VPSUBW Y6, Y1, Y1 \
	VPSUBW Y6, Y2, Y2

// DOT: with activations in Y3 (elements 0…15) and Y13 (16…31) and the activation scale in X12, adds
// d_w·d_x·Σ w·x into ACC. The weight block is at (SI)idx; its fp16 scale comes first.
#define DOT(idx, ACC) \
	VPMADDWD Y3, Y1, Y1 \
	VPMADDWD Y13, Y2, Y2 \
	VPADDD Y2, Y1, Y1 \
	VCVTDQ2PS Y1, Y1 \
	MOVWLZX (SI)idx, AX \
	VMOVSS (R8)(AX*4), X4 \
	VMULSS X12, X4, X4 \
	VBROADCASTSS X4, Y4 \
	VFMADD231PS Y1, Y4, ACC

#define LOADX \
	VMOVDQU (DI), Y3 \
	VMOVDQU 32(DI), Y13 \
	VMOVSS (DX), X12

#define HSUM(ACC, X, out) \
	VEXTRACTF128 $1, ACC, X15 \
	VADDPS X15, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X \
	VMOVSS X, out

#define ONESETUP \
	MOVQ w+0(FP), SI \
	MOVQ q+8(FP), DI \
	MOVQ d+16(FP), DX \
	MOVQ nb+24(FP), CX \
	MOVQ tab+32(FP), R8 \
	CONSTANTS \
	VXORPS Y0, Y0, Y0

// Four rows at w, w+stride, w+2·stride, w+3·stride against the same activations: each activation block is
// loaded once for four weight streams, four streams keep more loads in flight, and the same blocks of the
// next four rows are prefetched.
#define X4SETUP \
	MOVQ w+0(FP), SI \
	MOVQ stride+8(FP), R9 \
	MOVQ q+16(FP), DI \
	MOVQ d+24(FP), DX \
	MOVQ nb+32(FP), CX \
	MOVQ tab+40(FP), R8 \
	LEAQ (R9)(R9*1), R10 \
	LEAQ (R10)(R9*1), R11 \
	LEAQ (SI)(R9*4), BX \
	CONSTANTS \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10

#define X4PREFETCH \
	PREFETCHT0 (BX) \
	PREFETCHT0 (BX)(R9*1) \
	PREFETCHT0 (BX)(R10*1) \
	PREFETCHT0 (BX)(R11*1)

#define X4FINISH \
	MOVQ out+48(FP), BX \
	HSUM(Y0, X0, (BX)) \
	HSUM(Y8, X8, 4(BX)) \
	HSUM(Y9, X9, 8(BX)) \
	HSUM(Y10, X10, 12(BX)) \
	VZEROUPPER \
	RET

// KDOT: adds scale·Σ w·x into ACC for one sub-block of 32 values: weights as words in lo (values 0…15) and hi
// (16…31), activations at xoff(base); Y1–Y3 are scratch.
#define KDOT(lo, hi, xoff, base, scale, ACC) \
	VPMADDWD xoff(base), lo, Y1 \
	VPMADDWD xoff+32(base), hi, Y2 \
	VPADDD Y2, Y1, Y1 \
	VCVTDQ2PS Y1, Y1 \
	VBROADCASTSS scale, Y3 \
	VFMADD231PS Y1, Y3, ACC

// Q4KWIDEN: 32 bytes of Q4_K nibbles at qoff(SI) as words: low nibbles (sub-block 2c) in Y7/Y9, high
// nibbles (sub-block 2c+1) in Y10/Y11.
#define Q4KWIDEN(qoff) \
	VPMOVZXBW qoff(SI), Y7 \
	VPMOVZXBW qoff+16(SI), Y9 \
	VPSRLW $4, Y7, Y10 \
	VPAND Y12, Y7, Y7 \
	VPSRLW $4, Y9, Y11 \
	VPAND Y12, Y9, Y9

// Q4KCHUNK: one chunk (sub-blocks 2c at xlo(DI) and 2c+1 at xhi(DI)) into Y0.
#define Q4KCHUNK(qoff, xlo, xhi, slo, shi) \
	Q4KWIDEN(qoff) \
	KDOT(Y7, Y9, xlo, DI, slo, Y0) \
	KDOT(Y10, Y11, xhi, DI, shi, Y0)

// Q4KC2: the same chunk against two tokens' activations (DI into Y0, R12 into Y8), weights widened once.
#define Q4KC2(qoff, xlo, xhi, sAlo, sAhi, sBlo, sBhi) \
	Q4KWIDEN(qoff) \
	KDOT(Y7, Y9, xlo, DI, sAlo, Y0) \
	KDOT(Y7, Y9, xlo, R12, sBlo, Y8) \
	KDOT(Y10, Y11, xhi, DI, sAhi, Y0) \
	KDOT(Y10, Y11, xhi, R12, sBhi, Y8)

// Q6KGROUP: one group of 32 Q6_K values of the current half: low 4 bits from qlLo/qlHi (words, shifted right by
// qls), high 2 bits from Y5/Y6 (qh words, shifted right by qhs); minus 32; times the activation block at
// xoff(DI), each 16-value half scaled by its own d·sc (sa, sb on the stack) and the block's D (doff(DX)).
#define Q6KGROUP(qlLo, qlHi, qls, qhs, xoff, doff, sa, sb) \
	VPSRLW $qls, qlLo, Y7 \
	VPAND Y12, Y7, Y7 \
	VPSRLW $qhs, Y5, Y8 \
	VPAND Y13, Y8, Y8 \
	VPSLLW $4, Y8, Y8 \
	VPOR Y8, Y7, Y7 \
	VPSUBW Y14, Y7, Y7 \
	VPSRLW $qls, qlHi, Y9 \
	VPAND Y12, Y9, Y9 \
	VPSRLW $qhs, Y6, Y10 \
	VPAND Y13, Y10, Y10 \
	VPSLLW $4, Y10, Y10 \
	VPOR Y10, Y9, Y9 \
	VPSUBW Y14, Y9, Y9 \
	VPMADDWD xoff(DI), Y7, Y7 \
	VPMADDWD xoff+32(DI), Y9, Y9 \
	VCVTDQ2PS Y7, Y7 \
	VCVTDQ2PS Y9, Y9 \
	VBROADCASTSS doff(DX), Y10 \
	VBROADCASTSS sa, Y11 \
	VMULPS Y10, Y11, Y11 \
	VFMADD231PS Y7, Y11, Y0 \
	VBROADCASTSS sb, Y11 \
	VMULPS Y10, Y11, Y11 \
	VFMADD231PS Y9, Y11, Y0

#define Q6KHALF(qloff, qhoff, xbase, dbase, s0, s1, s2, s3, s4, s5, s6, s7) \
	VPMOVZXBW qloff(SI), Y1 \
	VPMOVZXBW qloff+16(SI), Y2 \
	VPMOVZXBW qloff+32(SI), Y3 \
	VPMOVZXBW qloff+48(SI), Y4 \
	VPMOVZXBW qhoff(SI), Y5 \
	VPMOVZXBW qhoff+16(SI), Y6 \
	Q6KGROUP(Y1, Y2, 0, 0, xbase, dbase, s0, s1) \
	Q6KGROUP(Y3, Y4, 0, 2, xbase+64, dbase+4, s2, s3) \
	Q6KGROUP(Y1, Y2, 4, 4, xbase+128, dbase+8, s4, s5) \
	Q6KGROUP(Y3, Y4, 4, 6, xbase+192, dbase+12, s6, s7)

// PAIR: with the row's weights in Y1/Y2 and its fp16 scale in X7, adds the row's products with token A
// (Y3/Y13, scale at (DX)) into ACCA and with token B (Y14/Y15, scale at (R13)) into ACCB.
#define PAIR(ACCA, ACCB) \
	VPMADDWD Y3, Y1, Y4 \
	VPMADDWD Y13, Y2, Y11 \
	VPADDD Y11, Y4, Y4 \
	VCVTDQ2PS Y4, Y4 \
	VMULSS (DX), X7, X11 \
	VBROADCASTSS X11, Y11 \
	VFMADD231PS Y4, Y11, ACCA \
	VPMADDWD Y14, Y1, Y4 \
	VPMADDWD Y15, Y2, Y11 \
	VPADDD Y11, Y4, Y4 \
	VCVTDQ2PS Y4, Y4 \
	VMULSS (R13), X7, X11 \
	VBROADCASTSS X11, Y11 \
	VFMADD231PS Y4, Y11, ACCB

#define WSCALE(idx) \
	MOVWLZX (SI)idx, AX \
	VMOVSS (R8)(AX*4), X7

// Two rows × two tokens: each weight block is widened once for both tokens, each activation block loaded
// once for both rows (prompt processing, where the work is compute-bound).
#define X2SETUP \
	CONSTANTS \
	MOVQ w+0(FP), SI \
	MOVQ stride+8(FP), R9 \
	MOVQ qa+16(FP), DI \
	MOVQ qb+24(FP), R12 \
	MOVQ da+32(FP), DX \
	MOVQ db+40(FP), R13 \
	MOVQ nb+48(FP), CX \
	MOVQ tab+56(FP), R8 \
	XORQ R10, R10 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10

#define X2LOADX \
	VMOVDQU (DI), Y3 \
	VMOVDQU 32(DI), Y13 \
	VMOVDQU (R12), Y14 \
	VMOVDQU 32(R12), Y15

#define X2FINISH \
	MOVQ out+64(FP), BX \
	HSUM(Y0, X0, (BX)) \
	HSUM(Y8, X8, 4(BX)) \
	HSUM(Y9, X9, 8(BX)) \
	HSUM(Y10, X10, 12(BX)) \
	VZEROUPPER \
	RET

// Four-row variants of the block product: the activation scale is broadcast once per block (Y12) and
// multiplied into each row's scale with one VMULPS; for Q4_0 the −8 offset of the codes is applied once per
// block as −8·Σx (Y14 lane 0, from the activation sums) instead of subtracting 8 from every weight.
#define X4LOADX \
	VMOVDQU (DI), Y3 \
	VMOVDQU 32(DI), Y13 \
	VBROADCASTSS (DX), Y12

#define Q4WU(idx) \
	VPMOVZXBW 2(SI)idx, Y1 \
	VPSRLW $4, Y1, Y2 \
	VPAND Y5, Y1, Y1

#define DOTX(idx, ACC) \
	VCVTDQ2PS Y1, Y1 \
	MOVWLZX (SI)idx, AX \
	VBROADCASTSS (R8)(AX*4), Y4 \
	VMULPS Y12, Y4, Y4 \
	VFMADD231PS Y1, Y4, ACC

#define DOT4Q8(idx, ACC) \
	VPMADDWD Y3, Y1, Y1 \
	VPMADDWD Y13, Y2, Y2 \
	VPADDD Y2, Y1, Y1 \
	DOTX(idx, ACC)

#define DOT4Q4(idx, ACC) \
	VPMADDWD Y3, Y1, Y1 \
	VPMADDWD Y13, Y2, Y2 \
	VPADDD Y2, Y1, Y1 \
	VPADDD Y14, Y1, Y1 \
	DOTX(idx, ACC)

// func dotQ4_0Q16AVX2(w *byte, q *int16, d *float32, nb int, tab *float32) float32
TEXT ·dotQ4_0Q16AVX2(SB), NOSPLIT, $0-44
	ONESETUP
q4loop:
	TESTQ CX, CX
	JZ q4done
	PREFETCHT0 1024(SI)
	LOADX
	Q4W((R13*1))
	DOT((R13*1), Y0)
	ADDQ $18, SI
	ADDQ $64, DI
	ADDQ $4, DX
	DECQ CX
	JMP q4loop
q4done:
	HSUM(Y0, X0, ret+40(FP))
	VZEROUPPER
	RET

// func dotQ8_0Q16AVX2(w *byte, q *int16, d *float32, nb int, tab *float32) float32
TEXT ·dotQ8_0Q16AVX2(SB), NOSPLIT, $0-44
	ONESETUP
q8loop:
	TESTQ CX, CX
	JZ q8done
	LOADX
	Q8W((R13*1))
	DOT((R13*1), Y0)
	ADDQ $34, SI
	ADDQ $64, DI
	ADDQ $4, DX
	DECQ CX
	JMP q8loop
q8done:
	HSUM(Y0, X0, ret+40(FP))
	VZEROUPPER
	RET

// func dotQ4_0Q16x4AVX2(w *byte, stride int, q *int16, d *float32, s *int32, nb int, tab *float32, out *float32)
TEXT ·dotQ4_0Q16x4AVX2(SB), NOSPLIT, $0-64
	CONSTANTS
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R9
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), DX
	MOVQ s+32(FP), R12
	MOVQ nb+40(FP), CX
	MOVQ tab+48(FP), R8
	LEAQ (R9)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (SI)(R9*4), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
q4x4loop:
	TESTQ CX, CX
	JZ q4x4done
	X4PREFETCH
	X4LOADX
	MOVL (R12), AX
	SHLL $3, AX
	NEGL AX
	VMOVD AX, X14
	Q4WU((R13*1))
	DOT4Q4((R13*1), Y0)
	Q4WU((R9*1))
	DOT4Q4((R9*1), Y8)
	Q4WU((R10*1))
	DOT4Q4((R10*1), Y9)
	Q4WU((R11*1))
	DOT4Q4((R11*1), Y10)
	ADDQ $18, SI
	ADDQ $18, BX
	ADDQ $64, DI
	ADDQ $4, DX
	ADDQ $4, R12
	DECQ CX
	JMP q4x4loop
q4x4done:
	MOVQ out+56(FP), BX
	HSUM(Y0, X0, (BX))
	HSUM(Y8, X8, 4(BX))
	HSUM(Y9, X9, 8(BX))
	HSUM(Y10, X10, 12(BX))
	VZEROUPPER
	RET

// func dotQ8_0Q16x4AVX2(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)
TEXT ·dotQ8_0Q16x4AVX2(SB), NOSPLIT, $0-56
	X4SETUP
q8x4loop:
	TESTQ CX, CX
	JZ q8x4done
	X4PREFETCH
	X4LOADX
	Q8W((R13*1))
	DOT4Q8((R13*1), Y0)
	Q8W((R9*1))
	DOT4Q8((R9*1), Y8)
	Q8W((R10*1))
	DOT4Q8((R10*1), Y9)
	Q8W((R11*1))
	DOT4Q8((R11*1), Y10)
	ADDQ $34, SI
	ADDQ $34, BX
	ADDQ $64, DI
	ADDQ $4, DX
	DECQ CX
	JMP q8x4loop
q8x4done:
	X4FINISH

// func dotQ4_KQ16AVX2(w *byte, q *int16, d *float32, s *int32, nsb int, tab *float32) float32
// Q4_K super-blocks (d, dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles) against 16-bit
// activations. Per sub-block j of 32 (= activation block j): d·sc_j·D_j·Σ q·x − dmin·m_j·D_j·Σ x, with the
// activation sums Σ x taken from s. The scale products d·sc_j·D_j are kept on the stack for broadcasting.
TEXT ·dotQ4_KQ16AVX2(SB), NOSPLIT, $32-52
	MOVQ w+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ s+24(FP), R9
	MOVQ nsb+32(FP), CX
	MOVQ tab+40(FP), R8
	MOVL $0x000F000F, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	VXORPS Y0, Y0, Y0
	VXORPS Y15, Y15, Y15
q4kloop:
	TESTQ CX, CX
	JZ q4kdone
	// Rows are contiguous and walked in order: prefetch ~1 KiB ahead (into the next row near the end).
	PREFETCHT0 1024(SI)
	PREFETCHT0 1088(SI)
	PREFETCHT0 1152(SI)
	// Unpack the 8 scales and 8 mins (6 bits each) into bytes: R13 = scales, R10 = mins.
	MOVL 4(SI), AX
	MOVL 8(SI), BX
	MOVL 12(SI), R10
	MOVL AX, R11
	ANDL $0x3f3f3f3f, R11
	MOVL BX, R12
	ANDL $0x3f3f3f3f, R12
	MOVL R10, R13
	ANDL $0x0f0f0f0f, R13
	SHRL $6, AX
	ANDL $0x03030303, AX
	SHLL $4, AX
	ORL AX, R13
	SHRL $4, R10
	ANDL $0x0f0f0f0f, R10
	SHRL $6, BX
	ANDL $0x03030303, BX
	SHLL $4, BX
	ORL BX, R10
	SHLQ $32, R13
	ORQ R11, R13
	SHLQ $32, R10
	ORQ R12, R10
	VMOVQ R13, X1
	VPMOVZXBD X1, Y1
	VCVTDQ2PS Y1, Y1
	VMOVQ R10, X2
	VPMOVZXBD X2, Y2
	VCVTDQ2PS Y2, Y2
	MOVWLZX (SI), AX
	VBROADCASTSS (R8)(AX*4), Y3
	MOVWLZX 2(SI), AX
	VBROADCASTSS (R8)(AX*4), Y4
	VMOVUPS (DX), Y5
	VMULPS Y3, Y1, Y1
	VMULPS Y5, Y1, Y1
	VMOVUPS Y1, scl-32(SP)
	VMULPS Y4, Y2, Y2
	VMULPS Y5, Y2, Y2
	VCVTDQ2PS (R9), Y6
	VFMADD231PS Y6, Y2, Y15
	Q4KCHUNK(16, 0, 64, scl-32(SP), scl-28(SP))
	Q4KCHUNK(48, 128, 192, scl-24(SP), scl-20(SP))
	Q4KCHUNK(80, 256, 320, scl-16(SP), scl-12(SP))
	Q4KCHUNK(112, 384, 448, scl-8(SP), scl-4(SP))
	ADDQ $144, SI
	ADDQ $512, DI
	ADDQ $32, DX
	ADDQ $32, R9
	DECQ CX
	JMP q4kloop
q4kdone:
	VSUBPS Y15, Y0, Y0
	HSUM(Y0, X0, ret+48(FP))
	VZEROUPPER
	RET

// func dotQ6_KQ16AVX2(w *byte, q *int16, d *float32, nsb int, tab *float32) float32
// Q6_K super-blocks (ql[128], qh[64], 16 int8 scales, d) against 16-bit activations: each group of 32
// values is one activation block; its two halves of 16 have their own scale. d·sc for the 16 scales of a
// super-block are kept on the stack for broadcasting.
TEXT ·dotQ6_KQ16AVX2(SB), NOSPLIT, $64-44
	MOVQ w+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ nsb+24(FP), CX
	MOVQ tab+32(FP), R8
	MOVL $0x000F000F, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x00030003, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x00200020, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	VXORPS Y0, Y0, Y0
q6kloop:
	TESTQ CX, CX
	JZ q6kdone
	PREFETCHT0 1024(SI)
	PREFETCHT0 1088(SI)
	PREFETCHT0 1152(SI)
	PREFETCHT0 1216(SI)
	MOVWLZX 208(SI), AX
	VBROADCASTSS (R8)(AX*4), Y3
	VPMOVSXBD 192(SI), Y1
	VPMOVSXBD 200(SI), Y2
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VMULPS Y3, Y1, Y1
	VMULPS Y3, Y2, Y2
	VMOVUPS Y1, s0-64(SP)
	VMOVUPS Y2, s8-32(SP)
	Q6KHALF(0, 128, 0, 0, s0-64(SP), s1-60(SP), s2-56(SP), s3-52(SP), s4-48(SP), s5-44(SP), s6-40(SP), s7-36(SP))
	Q6KHALF(64, 160, 256, 16, s8-32(SP), s9-28(SP), s10-24(SP), s11-20(SP), s12-16(SP), s13-12(SP), s14-8(SP), s15-4(SP))
	ADDQ $210, SI
	ADDQ $512, DI
	ADDQ $32, DX
	DECQ CX
	JMP q6kloop
q6kdone:
	HSUM(Y0, X0, ret+40(FP))
	VZEROUPPER
	RET

// func dotQ4_0Q16x2x2AVX2(w *byte, stride int, qa, qb *int16, da, db *float32, nb int, tab *float32, out *float32)
// out = [row0·A, row0·B, row1·A, row1·B].
TEXT ·dotQ4_0Q16x2x2AVX2(SB), NOSPLIT, $0-72
	X2SETUP
q4x2loop:
	TESTQ CX, CX
	JZ q4x2done
	X2LOADX
	Q4W((R10*1))
	WSCALE((R10*1))
	PAIR(Y0, Y8)
	Q4W((R9*1))
	WSCALE((R9*1))
	PAIR(Y9, Y10)
	ADDQ $18, SI
	ADDQ $64, DI
	ADDQ $64, R12
	ADDQ $4, DX
	ADDQ $4, R13
	DECQ CX
	JMP q4x2loop
q4x2done:
	X2FINISH

// func dotQ8_0Q16x2x2AVX2(w *byte, stride int, qa, qb *int16, da, db *float32, nb int, tab *float32, out *float32)
TEXT ·dotQ8_0Q16x2x2AVX2(SB), NOSPLIT, $0-72
	X2SETUP
q8x2loop:
	TESTQ CX, CX
	JZ q8x2done
	X2LOADX
	Q8W((R10*1))
	WSCALE((R10*1))
	PAIR(Y0, Y8)
	Q8W((R9*1))
	WSCALE((R9*1))
	PAIR(Y9, Y10)
	ADDQ $34, SI
	ADDQ $64, DI
	ADDQ $64, R12
	ADDQ $4, DX
	ADDQ $4, R13
	DECQ CX
	JMP q8x2loop
q8x2done:
	X2FINISH

// func dotQ4_KQ16x2AVX2(w *byte, qa, qb *int16, da, db *float32, sa, sb *int32, nsb int, tab *float32, out *float32)
// One Q4_K row against two tokens (prompt processing): the scales are unpacked and the nibbles widened once
// for both. out = [row·A, row·B].
TEXT ·dotQ4_KQ16x2AVX2(SB), NOSPLIT, $64-80
	MOVQ w+0(FP), SI
	MOVQ qa+8(FP), DI
	MOVQ qb+16(FP), R12
	MOVQ da+24(FP), DX
	MOVQ sa+40(FP), R9
	MOVQ nsb+56(FP), CX
	MOVQ tab+64(FP), R8
	MOVL $0x000F000F, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
q4k2loop:
	TESTQ CX, CX
	JZ q4k2done
	// Scales (R13) and mins (R10) as bytes, with five temporaries so R12 can hold token B's pointer.
	MOVL 4(SI), AX
	MOVL 8(SI), BX
	MOVL 12(SI), R10
	MOVL AX, R11
	ANDL $0x3f3f3f3f, R11
	MOVL R10, R13
	ANDL $0x0f0f0f0f, R13
	SHRL $6, AX
	ANDL $0x03030303, AX
	SHLL $4, AX
	ORL AX, R13
	SHLQ $32, R13
	ORQ R11, R13
	MOVL BX, R11
	ANDL $0x3f3f3f3f, R11
	SHRL $4, R10
	ANDL $0x0f0f0f0f, R10
	SHRL $6, BX
	ANDL $0x03030303, BX
	SHLL $4, BX
	ORL BX, R10
	SHLQ $32, R10
	ORQ R11, R10
	VMOVQ R13, X1
	VPMOVZXBD X1, Y1
	VCVTDQ2PS Y1, Y1
	VMOVQ R10, X2
	VPMOVZXBD X2, Y2
	VCVTDQ2PS Y2, Y2
	MOVWLZX (SI), AX
	VBROADCASTSS (R8)(AX*4), Y3
	VMULPS Y3, Y1, Y1
	MOVWLZX 2(SI), AX
	VBROADCASTSS (R8)(AX*4), Y4
	VMULPS Y4, Y2, Y2
	// token A: scales d·sc·D to the stack, min term into Y15
	VMOVUPS (DX), Y5
	VMULPS Y5, Y1, Y6
	VMOVUPS Y6, sa0-64(SP)
	VMULPS Y5, Y2, Y6
	VCVTDQ2PS (R9), Y5
	VFMADD231PS Y5, Y6, Y15
	// token B: its arrays advance with token A's
	MOVQ DX, AX
	SUBQ da+24(FP), AX
	ADDQ db+32(FP), AX
	VMOVUPS (AX), Y5
	VMULPS Y5, Y1, Y6
	VMOVUPS Y6, sb0-32(SP)
	MOVQ R9, AX
	SUBQ sa+40(FP), AX
	ADDQ sb+48(FP), AX
	VMULPS Y5, Y2, Y6
	VCVTDQ2PS (AX), Y5
	VFMADD231PS Y5, Y6, Y14
	Q4KC2(16, 0, 64, sa0-64(SP), sa1-60(SP), sb0-32(SP), sb1-28(SP))
	Q4KC2(48, 128, 192, sa2-56(SP), sa3-52(SP), sb2-24(SP), sb3-20(SP))
	Q4KC2(80, 256, 320, sa4-48(SP), sa5-44(SP), sb4-16(SP), sb5-12(SP))
	Q4KC2(112, 384, 448, sa6-40(SP), sa7-36(SP), sb6-8(SP), sb7-4(SP))
	ADDQ $144, SI
	ADDQ $512, DI
	ADDQ $512, R12
	ADDQ $32, DX
	ADDQ $32, R9
	DECQ CX
	JMP q4k2loop
q4k2done:
	MOVQ out+72(FP), BX
	VSUBPS Y15, Y0, Y0
	HSUM(Y0, X0, (BX))
	VSUBPS Y14, Y8, Y8
	HSUM(Y8, X8, 4(BX))
	VZEROUPPER
	RET
