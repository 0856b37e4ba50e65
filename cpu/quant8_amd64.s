//go:build amd64 && !noasm

#include "textflag.h"

// Decode kernels for 8-bit activations (AVX-512 VL + VNNI, 256-bit EVEX forms): the activations hold
// values in ±127 (round8), so one VPDPBUSD multiplies 32 unsigned weight bytes by 32 signed activation
// bytes and sums them four by four into eight int32 lanes — half the instructions of the 16-bit kernels'
// VPMADDWD per value, and the weights need no widening beyond their nibbles. The activations arrive as the
// 16-bit rows of Q16Row (values in ±127) and are narrowed once per block for all the rows.
//
// Q4_0, four rows: Y16 the block's 32 activation bytes in value order, Y17 its scale d_x, Y18 the
// correction [−8·Σq, 0, …] with which each row's block sum starts (Σ (n−8)·q = Σ n·q − 8·Σ q, exact),
// Y19 the nibble mask, Y20 the per-dword shift counts [0,0,0,0,4,4,4,4] that turn a 16-byte row block
// broadcast to both halves into its low nibbles (values 0–15) then its high nibbles (values 16–31).
// Rows are at SI, SI+R9, SI+R10, SI+R11 (R13 = 0 addresses row 0 like the others); float sums Y0, Y8–Y10.

// shift4hi: dword shift counts 0 for the low 128 bits, 4 for the high.
DATA shift4hi<>+0(SB)/8, $0
DATA shift4hi<>+8(SB)/8, $0
DATA shift4hi<>+16(SB)/8, $0x0000000400000004
DATA shift4hi<>+24(SB)/8, $0x0000000400000004
GLOBL shift4hi<>(SB), RODATA|NOPTR, $32

#define Q8SETUP4 \
	MOVQ w+0(FP), SI \
	MOVQ stride+8(FP), R9 \
	MOVQ q+16(FP), DI \
	MOVQ d+24(FP), DX \
	MOVQ s+32(FP), R12 \
	MOVQ nb+40(FP), CX \
	MOVQ tab+48(FP), R8 \
	LEAQ (R9)(R9*1), R10 \
	LEAQ (R10)(R9*1), R11 \
	LEAQ (SI)(R9*4), BX \
	XORQ R13, R13 \
	MOVL $0x0F0F0F0F, AX \
	VPBROADCASTD AX, Y19 \
	VMOVDQU32 shift4hi<>(SB), Y20 \
	VPXORD Y0, Y0, Y0 \
	VPXORD Y8, Y8, Y8 \
	VPXORD Y9, Y9, Y9 \
	VPXORD Y10, Y10, Y10

// ROWQ8: one Q4_0 block of the row at addr (plus off bytes) into ACC: nibbles against Y16, scaled by
// d_x·d_w.
#define ROWQ8(off, addr, ACC) \
	VBROADCASTI128 (off+2)addr, Y1 \
	VPSRLVD Y20, Y1, Y1 \
	VPANDD Y19, Y1, Y1 \
	VMOVDQA64 Y18, Y2 \
	VPDPBUSD Y16, Y1, Y2 \
	VCVTDQ2PS Y2, Y2 \
	VMULPS Y17, Y2, Y2 \
	MOVWLZX off addr, AX \
	VFMADD231PS.BCST (R8)(AX*4), Y2, ACC

// ACTQ8: the activation block k (from DI, DX, R12) into Y16–Y18.
#define ACTQ8(k) \
	VMOVDQU16 (k*64)(DI), Z3 \
	VPMOVWB Z3, Y16 \
	VBROADCASTSS (k*4)(DX), Y17 \
	MOVL (k*4)(R12), AX \
	SHLL $3, AX \
	NEGL AX \
	VMOVD AX, X18

// BLOCK4Q8: activation block k against the four rows' block at SI+off.
#define BLOCK4Q8(k, off) \
	ACTQ8(k) \
	ROWQ8(off, (SI)(R13*1), Y0) \
	ROWQ8(off, (SI)(R9*1), Y8) \
	ROWQ8(off, (SI)(R10*1), Y9) \
	ROWQ8(off, (SI)(R11*1), Y10)

// BLOCK8Q8: activation block k against eight rows' block: rows 0–3 from SI, 4–7 from BX.
#define BLOCK8Q8(k, off) \
	BLOCK4Q8(k, off) \
	ROWQ8(off, (BX)(R13*1), Y11) \
	ROWQ8(off, (BX)(R9*1), Y12) \
	ROWQ8(off, (BX)(R10*1), Y13) \
	ROWQ8(off, (BX)(R11*1), Y14)

#define HSUM8(Y, X, out) \
	VEXTRACTF128 $1, Y, X15 \
	VADDPS X15, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X \
	MOVSS X, out

// func dotQ4_0Q8x4VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nb int, tab *float32, out *float32)
// The loop takes two blocks at a time and prefetches the next four rows (the caller's next call) once per
// pair, as the 16-bit kernels do: rows of a few hundred bytes are too short for the hardware prefetcher.
TEXT ·dotQ4_0Q8x4VNNI(SB), NOSPLIT, $0-64
	Q8SETUP4
	SUBQ $2, CX
	JLT  q4q8tail
q4q8loop:
	PREFETCHT1 (BX)
	PREFETCHT1 (BX)(R9*1)
	PREFETCHT1 (BX)(R10*1)
	PREFETCHT1 (BX)(R11*1)
	BLOCK4Q8(0, 0)
	BLOCK4Q8(1, 18)
	ADDQ $36, SI
	ADDQ $36, BX
	ADDQ $128, DI
	ADDQ $8, DX
	ADDQ $8, R12
	SUBQ $2, CX
	JGE  q4q8loop
q4q8tail:
	ADDQ $2, CX
	JZ   q4q8done
	BLOCK4Q8(0, 0)
q4q8done:
	MOVQ out+56(FP), BX
	HSUM8(Y0, X0, (BX))
	HSUM8(Y8, X8, 4(BX))
	HSUM8(Y9, X9, 8(BX))
	HSUM8(Y10, X10, 12(BX))
	VZEROUPPER
	RET

// func dotQ4_0Q8x8VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nb int, tab *float32, out *float32)
// dotQ4_0Q8x4VNNI for eight rows: rows 4–7 at BX = SI + 4·stride, the prefetch of the next eight from
// AX's stand-in R13 is not free, so it runs from BX + 4·stride computed per pair into AX (R13 stays 0).
TEXT ·dotQ4_0Q8x8VNNI(SB), NOSPLIT, $0-64
	Q8SETUP4
	VPXORD Y11, Y11, Y11
	VPXORD Y12, Y12, Y12
	VPXORD Y13, Y13, Y13
	VPXORD Y14, Y14, Y14
	SUBQ $2, CX
	JLT  q4q8x8tail
q4q8x8loop:
	LEAQ (BX)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 (AX)(R10*1)
	PREFETCHT1 (AX)(R11*1)
	LEAQ (AX)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 (AX)(R10*1)
	PREFETCHT1 (AX)(R11*1)
	BLOCK8Q8(0, 0)
	BLOCK8Q8(1, 18)
	ADDQ $36, SI
	ADDQ $36, BX
	ADDQ $128, DI
	ADDQ $8, DX
	ADDQ $8, R12
	SUBQ $2, CX
	JGE  q4q8x8loop
q4q8x8tail:
	ADDQ $2, CX
	JZ   q4q8x8done
	BLOCK8Q8(0, 0)
q4q8x8done:
	MOVQ out+56(FP), BX
	HSUM8(Y0, X0, (BX))
	HSUM8(Y8, X8, 4(BX))
	HSUM8(Y9, X9, 8(BX))
	HSUM8(Y10, X10, 12(BX))
	HSUM8(Y11, X11, 16(BX))
	HSUM8(Y12, X12, 20(BX))
	HSUM8(Y13, X13, 24(BX))
	HSUM8(Y14, X14, 28(BX))
	VZEROUPPER
	RET
