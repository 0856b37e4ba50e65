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
	MOVSS X, out

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

// func dotQ4_0Q16AVX2(w *byte, q *int16, d *float32, nb int, tab *float32) float32
TEXT ·dotQ4_0Q16AVX2(SB), NOSPLIT, $0-44
	ONESETUP
q4loop:
	TESTQ CX, CX
	JZ q4done
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

// func dotQ4_0Q16x4AVX2(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)
TEXT ·dotQ4_0Q16x4AVX2(SB), NOSPLIT, $0-56
	X4SETUP
q4x4loop:
	TESTQ CX, CX
	JZ q4x4done
	X4PREFETCH
	LOADX
	Q4W((R13*1))
	DOT((R13*1), Y0)
	Q4W((R9*1))
	DOT((R9*1), Y8)
	Q4W((R10*1))
	DOT((R10*1), Y9)
	Q4W((R11*1))
	DOT((R11*1), Y10)
	ADDQ $18, SI
	ADDQ $18, BX
	ADDQ $64, DI
	ADDQ $4, DX
	DECQ CX
	JMP q4x4loop
q4x4done:
	X4FINISH

// func dotQ8_0Q16x4AVX2(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)
TEXT ·dotQ8_0Q16x4AVX2(SB), NOSPLIT, $0-56
	X4SETUP
q8x4loop:
	TESTQ CX, CX
	JZ q8x4done
	X4PREFETCH
	LOADX
	Q8W((R13*1))
	DOT((R13*1), Y0)
	Q8W((R9*1))
	DOT((R9*1), Y8)
	Q8W((R10*1))
	DOT((R10*1), Y9)
	Q8W((R11*1))
	DOT((R11*1), Y10)
	ADDQ $34, SI
	ADDQ $34, BX
	ADDQ $64, DI
	ADDQ $4, DX
	DECQ CX
	JMP q8x4loop
q8x4done:
	X4FINISH
