//go:build amd64 && !noasm

#include "textflag.h"

// Vector kernels for whole vectors of 16 float32 (n a positive multiple of 16).

// func maxAVX512(x *float32, n int) float32
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Z0
	ADDQ $64, SI
	SUBQ $16, CX
	JZ   reduce

loop:
	VMAXPS (SI), Z0, Z0
	ADDQ $64, SI
	SUBQ $16, CX
	JNZ  loop

reduce:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	MOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// EXPCONST loads expf's constants: Z20 log2e, Z21 and Z22 ln2 in two parts, Z23–Z28 the polynomial, Z29 1.
#define EXPCONST(c) \
	VBROADCASTSS 0(c), Z20 \
	VBROADCASTSS 4(c), Z21 \
	VBROADCASTSS 8(c), Z22 \
	VBROADCASTSS 12(c), Z23 \
	VBROADCASTSS 16(c), Z24 \
	VBROADCASTSS 20(c), Z25 \
	VBROADCASTSS 24(c), Z26 \
	VBROADCASTSS 28(c), Z27 \
	VBROADCASTSS 32(c), Z28 \
	MOVL $0x3f800000, AX \
	VPBROADCASTD AX, Z29

// EXP sets Y = e^X (X kept): k = round(X·log2e), r = X − k·ln2, p = 1 + r + r²·P(r), Y = p·2^k (VSCALEFPS
// saturates to 0 and +Inf at the ends of the range). Uses Z17–Z19.
#define EXP(X, Y) \
	VMULPS Z20, X, Z17 \
	VRNDSCALEPS $0, Z17, Z17 \
	VMOVAPS X, Z18 \
	VFNMADD231PS Z21, Z17, Z18 \
	VFNMADD231PS Z22, Z17, Z18 \
	VMOVAPS Z23, Z19 \
	VFMADD213PS Z24, Z18, Z19 \
	VFMADD213PS Z25, Z18, Z19 \
	VFMADD213PS Z26, Z18, Z19 \
	VFMADD213PS Z27, Z18, Z19 \
	VFMADD213PS Z28, Z18, Z19 \
	VMULPS Z18, Z18, Y \
	VFMADD213PS Z18, Z19, Y \
	VADDPS Z29, Y, Y \
	VSCALEFPS Z17, Y, Y

// func expSubSumAVX512(x *float32, n int, mx float32, c *[9]float32) float32
TEXT ·expSubSumAVX512(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS mx+16(FP), Z16
	MOVQ c+24(FP), DX
	EXPCONST(DX)
	VPXORD Z15, Z15, Z15

eloop:
	VMOVUPS (SI), Z0
	VSUBPS Z16, Z0, Z0
	EXP(Z0, Z1)
	VMOVUPS Z1, (SI)
	VADDPS Z1, Z15, Z15
	ADDQ $64, SI
	SUBQ $16, CX
	JNZ  eloop

	VEXTRACTF64X4 $1, Z15, Y1
	VADDPS Y1, Y15, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	MOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, n int, s float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Z1

sloop:
	VMULPS (SI), Z1, Z0
	VMOVUPS Z0, (SI)
	ADDQ $64, SI
	SUBQ $16, CX
	JNZ  sloop
	VZEROUPPER
	RET

// func swigluAVX512(dst, gate, up *float32, n int, c *[9]float32)
// dst = gate·up / (1 + e^−gate).
TEXT ·swigluAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), DX
	EXPCONST(DX)
	VPXORD Z16, Z16, Z16

gloop:
	VMOVUPS (SI), Z0
	VSUBPS Z0, Z16, Z2
	EXP(Z2, Z1)
	VADDPS Z29, Z1, Z1
	VMULPS (BX), Z0, Z0
	VDIVPS Z1, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  gloop
	VZEROUPPER
	RET
