//go:build amd64 && !noasm

#include "textflag.h"

// Decode kernels in AVX-512: Q4_0 four rows at a time, Q8_0 eight (see quant.go for the arithmetic). Z3 (and Z13) hold the 16-bit
// activations, Z12 their block scales, Z0 and Z8–Z10 the four rows' float sums; R13 is 0 so that
// row 0 is addressed like the others, as (SI)(R13*1).

#define X4SETUP512 \
	MOVQ w+0(FP), SI \
	MOVQ stride+8(FP), R9 \
	MOVQ q+16(FP), DI \
	MOVQ d+24(FP), DX \
	MOVQ nb+32(FP), CX \
	MOVQ tab+40(FP), R8 \
	LEAQ (R9)(R9*1), R10 \
	LEAQ (R10)(R9*1), R11 \
	LEAQ (SI)(R9*4), BX \
	XORQ R13, R13 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10

#define X4PREFETCH512 \
	PREFETCHT1 (BX) \
	PREFETCHT1 (BX)(R9*1) \
	PREFETCHT1 (BX)(R10*1) \
	PREFETCHT1 (BX)(R11*1)

#define HSUM512(Z, Y, X, out) \
	VEXTRACTF64X4 $1, Z, Y15 \
	VADDPS Y15, Y, Y \
	VEXTRACTF128 $1, Y, X15 \
	VADDPS X15, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X \
	VMOVSS X, out

#define X4FINISH512 \
	MOVQ out+48(FP), BX \
	HSUM512(Z0, Y0, X0, (BX)) \
	HSUM512(Z8, Y8, X8, 4(BX)) \
	HSUM512(Z9, Y9, X9, 8(BX)) \
	HSUM512(Z10, Y10, X10, 12(BX)) \
	VZEROUPPER \
	RET

// ROWQ4: two Q4_0 blocks of one row. The two blocks' 16 bytes of nibbles, side by side, widen to 32 words:
// low nibbles are values 0–15 of each block (against Z3 = values 0–15 of both), high nibbles values
// 16–31 (against Z13); lanes 0–7 of the products belong to the first block, 8–15 to the second, whose
// scales Z12 (d_x) and Z4 (d_w) hold the same way.
#define ROWQ4(idx, ACC) \
	VMOVDQU 2(SI)idx, X1 \
	VINSERTI128 $1, 20(SI)idx, Y1, Y1 \
	VPMOVZXBW Y1, Z1 \
	VPSRLW $4, Z1, Z2 \
	VPANDD Z5, Z1, Z1 \
	VPSUBW Z6, Z1, Z1 \
	VPSUBW Z6, Z2, Z2 \
	VPMADDWD Z3, Z1, Z1 \
	VPMADDWD Z13, Z2, Z2 \
	VPADDD Z2, Z1, Z1 \
	VCVTDQ2PS Z1, Z1 \
	VMULPS Z12, Z1, Z1 \
	MOVWLZX (SI)idx, AX \
	VBROADCASTSS (R8)(AX*4), Y4 \
	MOVWLZX 18(SI)idx, AX \
	VBROADCASTSS (R8)(AX*4), Y7 \
	VINSERTF64X4 $1, Y7, Z4, Z4 \
	VFMADD231PS Z4, Z1, ACC

// func dotQ4_0Q16x4AVX512(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)
// nb must be even.
TEXT ·dotQ4_0Q16x4AVX512(SB), NOSPLIT, $0-56
	X4SETUP512
	SHRQ $1, CX
	MOVL $0x000F000F, AX
	VPBROADCASTD AX, Z5
	MOVL $0x00080008, AX
	VPBROADCASTD AX, Z6

q4loop:
	X4PREFETCH512
	VMOVDQU16 (DI), Y3
	VINSERTI64X4 $1, 64(DI), Z3, Z3
	VMOVDQU16 32(DI), Y13
	VINSERTI64X4 $1, 96(DI), Z13, Z13
	VBROADCASTSS (DX), Y12
	VBROADCASTSS 4(DX), Y7
	VINSERTF64X4 $1, Y7, Z12, Z12
	ROWQ4((R13*1), Z0)
	ROWQ4((R9*1), Z8)
	ROWQ4((R10*1), Z9)
	ROWQ4((R11*1), Z10)
	ADDQ $36, SI
	ADDQ $36, BX
	ADDQ $128, DI
	ADDQ $8, DX
	DECQ CX
	JNZ  q4loop
	X4FINISH512

// Eight-row version (Q8_0 only: for Q4_0, which is not waiting on memory here, eight rows measured slower
// than four): rows 4–7 are addressed from BX = SI + 4·stride, the prefetch runs from R12 = SI + 8·stride;
// the float sums are Z0, Z2 and Z4–Z9, the temporary is Z16.

#define X8SETUP512 \
	MOVQ w+0(FP), SI \
	MOVQ stride+8(FP), R9 \
	MOVQ q+16(FP), DI \
	MOVQ d+24(FP), DX \
	MOVQ nb+32(FP), CX \
	MOVQ tab+40(FP), R8 \
	LEAQ (R9)(R9*1), R10 \
	LEAQ (R10)(R9*1), R11 \
	LEAQ (SI)(R9*4), BX \
	LEAQ (BX)(R9*4), R12 \
	XORQ R13, R13 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9

#define X8PREFETCH512 \
	PREFETCHT1 (R12) \
	PREFETCHT1 (R12)(R9*1) \
	PREFETCHT1 (R12)(R10*1) \
	PREFETCHT1 (R12)(R11*1) \
	LEAQ (R12)(R9*4), AX \
	PREFETCHT1 (AX) \
	PREFETCHT1 (AX)(R9*1) \
	PREFETCHT1 (AX)(R10*1) \
	PREFETCHT1 (AX)(R11*1)

#define X8FINISH512 \
	MOVQ out+48(FP), BX \
	HSUM512(Z0, Y0, X0, (BX)) \
	HSUM512(Z2, Y2, X2, 4(BX)) \
	HSUM512(Z4, Y4, X4, 8(BX)) \
	HSUM512(Z5, Y5, X5, 12(BX)) \
	HSUM512(Z6, Y6, X6, 16(BX)) \
	HSUM512(Z7, Y7, X7, 20(BX)) \
	HSUM512(Z8, Y8, X8, 24(BX)) \
	HSUM512(Z9, Y9, X9, 28(BX)) \
	VZEROUPPER \
	RET

// ROWQ8X: one Q8_0 block of the row at base+idx: 32 int8 widened, multiplied with Z3 pairwise, scaled
// by d_x then d_w (Z16 is the temporary).
#define ROWQ8X(base, idx, ACC) \
	VPMOVSXBW 2(base)idx, Z16 \
	VPMADDWD Z3, Z16, Z16 \
	VCVTDQ2PS Z16, Z16 \
	VMULPS.BCST (DX), Z16, Z16 \
	MOVWLZX (base)idx, AX \
	VFMADD231PS.BCST (R8)(AX*4), Z16, ACC

// func dotQ8_0Q16x8AVX512(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32)
TEXT ·dotQ8_0Q16x8AVX512(SB), NOSPLIT, $0-56
	X8SETUP512

q8x8loop:
	X8PREFETCH512
	VMOVDQU16 (DI), Z3
	ROWQ8X(SI, (R13*1), Z0)
	ROWQ8X(SI, (R9*1), Z2)
	ROWQ8X(SI, (R10*1), Z4)
	ROWQ8X(SI, (R11*1), Z5)
	ROWQ8X(BX, (R13*1), Z6)
	ROWQ8X(BX, (R9*1), Z7)
	ROWQ8X(BX, (R10*1), Z8)
	ROWQ8X(BX, (R11*1), Z9)
	ADDQ $34, SI
	ADDQ $34, BX
	ADDQ $34, R12
	ADDQ $64, DI
	ADDQ $4, DX
	DECQ CX
	JNZ  q8x8loop
	X8FINISH512
