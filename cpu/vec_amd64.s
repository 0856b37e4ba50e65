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
	VMOVSS X0, ret+16(FP)
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
	VMOVSS X0, ret+32(FP)
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

// AMAX32 sets X2 and AX to the largest bit pattern of |x| over the 32 values at SI (Z30: the sign mask;
// Z3 clobbered): a NaN wins over every number.
#define AMAX32 \
	VPANDD (SI), Z30, Z2 \
	VPANDD 64(SI), Z30, Z3 \
	VPMAXUD Z3, Z2, Z2 \
	VEXTRACTI64X4 $1, Z2, Y3 \
	VPMAXUD Y3, Y2, Y2 \
	VEXTRACTI128 $1, Y2, X3 \
	VPMAXUD X3, X2, X2 \
	VPSHUFD $0x4E, X2, X3 \
	VPMAXUD X3, X2, X2 \
	VPSHUFD $0xB1, X2, X3 \
	VPMAXUD X3, X2, X2 \
	VMOVD X2, AX

// func quantRow16AVX512(x *float32, nb int, q *int16, d *float32, s *int32)
// round16 for nb blocks of 32: d = max|x|/32639 (q16Max), q = round(x·(1/d)) in float64, ties to even (the MXCSR
// default), clamped to ±32639; s = Σq. The maximum is taken on the bit patterns of |x|, so a NaN wins
// and poisons d as in Go.
TEXT ·quantRow16AVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z30
	MOVL $0x46fefe00, AX // 32639.0 (q16Max)
	VMOVD AX, X29
	MOVQ $0x3ff0000000000000, AX // 1.0
	VMOVQ AX, X28
	MOVL $32639, AX
	VPBROADCASTD AX, Y27
	MOVL $-32639, AX
	VPBROADCASTD AX, Y26
	VPXORD Z25, Z25, Z25

qblock:
	AMAX32
	TESTL AX, AX
	JZ    qzero
	VDIVSS X29, X2, X3
	VMOVSS X3, (R8)
	VCVTSS2SD X3, X4, X4
	VDIVSD X4, X28, X5
	VBROADCASTSD X5, Z5
	VPXORD Y7, Y7, Y7

#define QUARTER(h) \
	VCVTPS2PD (h*32)(SI), Z6 \
	VMULPD Z5, Z6, Z6 \
	VCVTPD2DQ Z6, Y6 \
	VPMINSD Y27, Y6, Y6 \
	VPMAXSD Y26, Y6, Y6 \
	VPMOVDW Y6, (h*16)(DI) \
	VPADDD Y6, Y7, Y7

	QUARTER(0)
	QUARTER(1)
	QUARTER(2)
	QUARTER(3)
	VEXTRACTI128 $1, Y7, X8
	VPADDD X8, X7, X7
	VPSHUFD $0x4E, X7, X8
	VPADDD X8, X7, X7
	VPSHUFD $0xB1, X7, X8
	VPADDD X8, X7, X7
	VMOVD X7, (R9)

qnext:
	ADDQ $128, SI
	ADDQ $64, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  qblock
	VZEROUPPER
	RET

qzero:
	VMOVDQU32 Z25, (DI)
	MOVL $0, (R8)
	MOVL $0, (R9)
	JMP  qnext

// AVX2 versions of the vector kernels, 8 values at a time (n a positive multiple of 8). Their constants are
// vectors in memory (expConst8, at R8): log2e, ln2 in two parts, the polynomial (6), 1.0, and the clamps −87.33
// and 88.37 that keep 2^k a normal float.

// EXP2 sets Y1 = e^Y0 (Y0 clamped in place; a NaN stays NaN), using Y2 and Y3: k = round(x·log2e),
// r = x − k·ln2, p = 1 + r + r²·P(r), e^x = p·2^k with 2^k built in the exponent bits.
#define EXP2 \
	VMOVUPS 320(R8), Y2 \
	VMAXPS Y0, Y2, Y0 \
	VMOVUPS 352(R8), Y2 \
	VMINPS Y0, Y2, Y0 \
	VMULPS (R8), Y0, Y2 \
	VROUNDPS $0, Y2, Y2 \
	VMOVAPS Y0, Y3 \
	VFNMADD231PS 32(R8), Y2, Y3 \
	VFNMADD231PS 64(R8), Y2, Y3 \
	VMOVUPS 96(R8), Y1 \
	VFMADD213PS 128(R8), Y3, Y1 \
	VFMADD213PS 160(R8), Y3, Y1 \
	VFMADD213PS 192(R8), Y3, Y1 \
	VFMADD213PS 224(R8), Y3, Y1 \
	VFMADD213PS 256(R8), Y3, Y1 \
	VMULPS Y3, Y1, Y1 \
	VFMADD213PS Y3, Y3, Y1 \
	VADDPS 288(R8), Y1, Y1 \
	VCVTPS2DQ Y2, Y2 \
	VPSLLD $23, Y2, Y2 \
	VPADDD 288(R8), Y2, Y2 \
	VMULPS Y2, Y1, Y1

// func maxAVX2(x *float32, n int) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JZ   mreduce2

mloop2:
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ  mloop2

mreduce2:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func expSubSumAVX2(x *float32, n int, mx float32, c *[12][8]float32) float32
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ c+24(FP), R8
	VBROADCASTSS mx+16(FP), Y5
	VXORPS Y4, Y4, Y4

eloop2:
	VMOVUPS (SI), Y0
	VSUBPS Y5, Y0, Y0
	EXP2
	VMOVUPS Y1, (SI)
	VADDPS Y1, Y4, Y4
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ  eloop2

	VEXTRACTF128 $1, Y4, X1
	VADDPS X1, X4, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Y1

sloop2:
	VMULPS (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ  sloop2
	VZEROUPPER
	RET

// func swigluAVX2(dst, gate, up *float32, n int, c *[12][8]float32)
// dst = gate·up / (1 + e^−gate).
TEXT ·swigluAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VXORPS Y5, Y5, Y5

gloop2:
	VMOVUPS (SI), Y4
	VSUBPS Y4, Y5, Y0
	EXP2
	VADDPS 288(R8), Y1, Y1
	VMULPS (BX), Y4, Y4
	VDIVPS Y1, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  gloop2
	VZEROUPPER
	RET

// func quantRow16AVX2(x *float32, nb int, q *int16, d *float32, s *int32)
// quantRow16AVX512 with 256-bit vectors: the same maximum over |x| bit patterns, scale and float64
// rounding, four values at a time.
TEXT ·quantRow16AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x46fefe00, AX // 32639.0 (q16Max)
	VMOVD AX, X14
	MOVQ $0x3ff0000000000000, AX // 1.0
	VMOVQ AX, X13
	MOVL $32639, AX
	VMOVD AX, X12
	VPBROADCASTD X12, X12
	MOVL $-32639, AX
	VMOVD AX, X11
	VPBROADCASTD X11, X11

q2block:
	VPAND (SI), Y15, Y0
	VPAND 32(SI), Y15, Y1
	VPAND 64(SI), Y15, Y2
	VPAND 96(SI), Y15, Y3
	VPMAXUD Y1, Y0, Y0
	VPMAXUD Y3, Y2, Y2
	VPMAXUD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPMAXUD X1, X0, X0
	VMOVD X0, AX
	TESTL AX, AX
	JZ    q2zero
	VDIVSS X14, X0, X3
	VMOVSS X3, (R8)
	VCVTSS2SD X3, X4, X4
	VDIVSD X4, X13, X5
	VBROADCASTSD X5, Y5
	VPXOR X7, X7, X7

// FOUR(off, DST): DST = the four int32 of round(x[off/4 …]·(1/d)), clamped to ±32639, added to X7.
#define FOUR(off, DST) \
	VCVTPS2PD off(SI), Y6 \
	VMULPD Y5, Y6, Y6 \
	VCVTPD2DQY Y6, DST \
	VPMINSD X12, DST, DST \
	VPMAXSD X11, DST, DST \
	VPADDD DST, X7, X7

#define EIGHT(h) \
	FOUR(h*32, X8) \
	FOUR(h*32+16, X9) \
	VPACKSSDW X9, X8, X8 \
	VMOVDQU X8, (h*16)(DI)

	EIGHT(0)
	EIGHT(1)
	EIGHT(2)
	EIGHT(3)
	VPSHUFD $0x4E, X7, X8
	VPADDD X8, X7, X7
	VPSHUFD $0xB1, X7, X8
	VPADDD X8, X7, X7
	VMOVD X7, (R9)

q2next:
	ADDQ $128, SI
	ADDQ $64, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  q2block
	VZEROUPPER
	RET

q2zero:
	VPXOR Y0, Y0, Y0
	VMOVDQU Y0, (DI)
	VMOVDQU Y0, 32(DI)
	MOVL $0, (R8)
	MOVL $0, (R9)
	JMP  q2next

// TRUNC16Z(Z): Z's int32 lanes cut to int16 and sign-extended back, as VPMOVDW stores them.
#define TRUNC16Z(Z) \
	VPSLLD $16, Z, Z \
	VPSRAD $16, Z, Z

// HSUMD16 sums Z6's sixteen int32 lanes into X6's first (Y7 clobbered).
#define HSUMD16 \
	VEXTRACTI64X4 $1, Z6, Y7 \
	VPADDD Y7, Y6, Y6 \
	VEXTRACTI128 $1, Y6, X7 \
	VPADDD X7, X6, X6 \
	VPSHUFD $0x4E, X6, X7 \
	VPADDD X7, X6, X6 \
	VPSHUFD $0xB1, X6, X7 \
	VPADDD X7, X6, X6

// func quantRowQ8_0AVX512(x *float32, nb int, q *int16, d *float32, s *int32)
// QuantizeRowQ8_0 for nb blocks of 32: amax over the bit patterns of |x| (a NaN wins, making d NaN),
// id = 127/amax and q = round(x·id) in float32 (ties to even, the MXCSR default), d = amax/127 rounded to
// fp16 and back, s = Σq.
TEXT ·quantRowQ8_0AVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z30
	MOVL $0x42fe0000, AX // 127.0
	VMOVD AX, X29
	VPXORD Z25, Z25, Z25

q8block:
	AMAX32
	TESTL AX, AX
	JZ    q8zero
	VDIVSS X2, X29, X3
	VDIVSS X29, X2, X4
	VCVTPS2PH $0, X4, X4
	VCVTPH2PS X4, X4
	VMOVSS X4, (R8)
	VBROADCASTSS X3, Z5
	VMULPS (SI), Z5, Z6
	VCVTPS2DQ Z6, Z6
	VPMOVDW Z6, (DI)
	VMULPS 64(SI), Z5, Z7
	VCVTPS2DQ Z7, Z7
	VPMOVDW Z7, 32(DI)
	TRUNC16Z(Z6) // the sums of the values stored (an infinite or NaN product's 0x80000000 is stored as 0)
	TRUNC16Z(Z7)
	VPADDD Z7, Z6, Z6
	HSUMD16
	VMOVD X6, (R9)

q8next:
	ADDQ $128, SI
	ADDQ $64, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  q8block
	VZEROUPPER
	RET

q8zero:
	VMOVDQU32 Z25, (DI)
	MOVL $0, (R8)
	MOVL $0, (R9)
	JMP  q8next

// func quantRowQ8_KAVX512(x *float32, nsb int, q *int16, d *float32, s *int32)
// QuantizeRowQ8_K for nsb super-blocks of 256: amax over |x| ignoring NaNs (VMAXPS keeps its second
// operand when the first is a NaN), a NaN anywhere making d NaN; max the first value of magnitude amax
// (found by comparing |x| with amax sixteen values at a time); iscale = −127/max, q = min(127,
// round(iscale·x)) in float32 (ties to even), d = 1/iscale for the eight blocks of 32, s = Σq per block.
TEXT ·quantRowQ8_KAVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nsb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z30
	MOVL $127, AX
	VPBROADCASTD AX, Z29
	MOVL $0xc2fe0000, AX // -127.0
	VMOVD AX, X28
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X27
	VPXORD Z26, Z26, Z26

ksblock:
	VPXORD Z0, Z0, Z0
	KXORW K3, K3, K3
	XORQ R10, R10
kmax:
	VMOVUPS (SI)(R10*4), Z1
	VCMPPS $3, Z1, Z1, K2
	KORW K2, K3, K3
	VANDPS Z30, Z1, Z1
	VMAXPS Z0, Z1, Z0
	ADDQ $16, R10
	CMPQ R10, $256
	JLT  kmax
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VMAXPS X1, X0, X0 // amax in every lane
	VMOVD X0, AX
	TESTL AX, AX
	JZ    kzero
	VBROADCASTSS X0, Z2
	XORQ R10, R10
kfind:
	VANDPS (SI)(R10*4), Z30, Z1
	VCMPPS $0, Z2, Z1, K1
	KMOVW K1, AX
	TESTL AX, AX
	JNZ   kfound
	ADDQ $16, R10
	JMP   kfind
kfound:
	TZCNTL AX, AX
	ADDQ AX, R10
	VMOVSS (SI)(R10*4), X3 // max
	VDIVSS X3, X28, X4     // iscale = -127/max
	VDIVSS X4, X27, X5     // d = 1/iscale
	VBROADCASTSS X4, Z4
	XORQ R10, R10
kblk:
	VMULPS (SI)(R10*4), Z4, Z6
	VCVTPS2DQ Z6, Z6
	VPMINSD Z29, Z6, Z6
	VPMOVDW Z6, (DI)(R10*2)
	VMULPS 64(SI)(R10*4), Z4, Z7
	VCVTPS2DQ Z7, Z7
	VPMINSD Z29, Z7, Z7
	VPMOVDW Z7, 32(DI)(R10*2)
	TRUNC16Z(Z6)
	TRUNC16Z(Z7)
	VPADDD Z7, Z6, Z6
	HSUMD16
	MOVQ R10, AX
	SHRQ $3, AX            // block index · 4 bytes = R10/32·4
	VMOVD X6, (R9)(AX*1)
	VMOVSS X5, (R8)(AX*1)
	ADDQ $32, R10
	CMPQ R10, $256
	JLT  kblk
	JMP  knan

kzero:
	XORQ R10, R10
kz:
	VMOVDQU32 Z26, (DI)(R10*2)
	MOVQ R10, AX
	SHRQ $3, AX
	MOVL $0, (R9)(AX*1)
	MOVL $0, (R8)(AX*1)
	ADDQ $32, R10
	CMPQ R10, $256
	JLT  kz

knan:
	KORTESTW K3, K3
	JZ   knext
	MOVL $0x7fc00000, AX // NaN
	MOVL AX, (R8)
	MOVL AX, 4(R8)
	MOVL AX, 8(R8)
	MOVL AX, 12(R8)
	MOVL AX, 16(R8)
	MOVL AX, 20(R8)
	MOVL AX, 24(R8)
	MOVL AX, 28(R8)

knext:
	ADDQ $1024, SI
	ADDQ $512, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  ksblock
	VZEROUPPER
	RET

// func narrowQuadsAVX512(dst *uint32, q *int16, n int)
// n (a positive multiple of 32) 16-bit codes within ±127 as bytes: narrowQuadsGo.
TEXT ·narrowQuadsAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX

narrowloop:
	VMOVDQU16 (SI), Z0
	VPMOVWB   Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       narrowloop
	VZEROUPPER
	RET

// splitIdx interleaves the dwords of two tables, 0 and 16, 1 and 17, …: a quad's lo word, then its hi word.
DATA splitIdx<>+0(SB)/8, $0x0000001000000000
DATA splitIdx<>+8(SB)/8, $0x0000001100000001
DATA splitIdx<>+16(SB)/8, $0x0000001200000002
DATA splitIdx<>+24(SB)/8, $0x0000001300000003
DATA splitIdx<>+32(SB)/8, $0x0000001400000004
DATA splitIdx<>+40(SB)/8, $0x0000001500000005
DATA splitIdx<>+48(SB)/8, $0x0000001600000006
DATA splitIdx<>+56(SB)/8, $0x0000001700000007
GLOBL splitIdx<>(SB), RODATA|NOPTR, $64

// func splitQuadsAVX512(dst *uint32, q *int16, n int)
// n (a positive multiple of 32) 16-bit codes split into bytes, lo = int8(q) and hi = (q+128)>>8: splitQuadsGo.
TEXT ·splitQuadsAVX512(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         q+8(FP), SI
	MOVQ         n+16(FP), CX
	SHRQ         $5, CX
	MOVL         $0x00800080, AX
	VPBROADCASTD AX, Z2
	VMOVDQU32    splitIdx<>(SB), Z3

splitloop:
	VMOVDQU16 (SI), Z0
	VPADDW    Z2, Z0, Z1
	VPSRAW    $8, Z1, Z1
	VPMOVWB   Z0, Y0
	VPMOVWB   Z1, Y1
	VPERMT2D  Z1, Z3, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       splitloop
	VZEROUPPER
	RET

// AMAX32AVX2 sets X0 and AX to the largest bit pattern of |x| over the 32 values at SI (Y15: the sign
// mask; Y1–Y3 clobbered): a NaN wins over every number, as AMAX32.
#define AMAX32AVX2 \
	VPAND   (SI), Y15, Y0 \
	VPAND   32(SI), Y15, Y1 \
	VPAND   64(SI), Y15, Y2 \
	VPAND   96(SI), Y15, Y3 \
	VPMAXUD Y1, Y0, Y0 \
	VPMAXUD Y3, Y2, Y2 \
	VPMAXUD Y2, Y0, Y0 \
	VEXTRACTI128 $1, Y0, X1 \
	VPMAXUD X1, X0, X0 \
	VPSHUFD $0x4E, X0, X1 \
	VPMAXUD X1, X0, X0 \
	VPSHUFD $0xB1, X0, X1 \
	VPMAXUD X1, X0, X0 \
	VMOVD   X0, AX

// HSUMD8 sums Y6's eight int32 lanes into X6's first (X7 clobbered).
#define HSUMD8 \
	VEXTRACTI128 $1, Y6, X7 \
	VPADDD  X7, X6, X6 \
	VPSHUFD $0x4E, X6, X7 \
	VPADDD  X7, X6, X6 \
	VPSHUFD $0xB1, X6, X7 \
	VPADDD  X7, X6, X6

// ROUND32(off, DST): the 32 floats at off(SI) times Y5, rounded to int32 (ties to even, the MXCSR default),
// each clamped to at most Y14 (CLAMP: VPMINSD Y14 or nothing), cut to int16 as the Go loops' conversion
// cuts it (TRUNC16: only an infinite or NaN product, whose 0x80000000 becomes 0, as VPMOVDW makes it in
// the AVX-512 kernels), stored at DST(DI) (VPACKSSDW works within 128-bit lanes; VPERMQ puts the quarters
// back in order), their sum in Y6 (Y7–Y11 clobbered).
#define ROUND32(off, DST, CLAMP) \
	VMULPS    (off)(SI), Y5, Y8 \
	VMULPS    (off+32)(SI), Y5, Y9 \
	VMULPS    (off+64)(SI), Y5, Y10 \
	VMULPS    (off+96)(SI), Y5, Y11 \
	VCVTPS2DQ Y8, Y8 \
	VCVTPS2DQ Y9, Y9 \
	VCVTPS2DQ Y10, Y10 \
	VCVTPS2DQ Y11, Y11 \
	CLAMP(Y8) \
	CLAMP(Y9) \
	CLAMP(Y10) \
	CLAMP(Y11) \
	TRUNC16(Y8) \
	TRUNC16(Y9) \
	TRUNC16(Y10) \
	TRUNC16(Y11) \
	VPADDD    Y9, Y8, Y6 \
	VPADDD    Y11, Y10, Y7 \
	VPADDD    Y7, Y6, Y6 \
	VPACKSSDW Y9, Y8, Y8 \
	VPERMQ    $0xD8, Y8, Y8 \
	VMOVDQU   Y8, (DST)(DI) \
	VPACKSSDW Y11, Y10, Y10 \
	VPERMQ    $0xD8, Y10, Y10 \
	VMOVDQU   Y10, (DST+32)(DI)

#define NOCLAMP(Y)
#define CLAMP127(Y) VPMINSD Y14, Y, Y
#define TRUNC16(Y) \
	VPSLLD $16, Y, Y \
	VPSRAD $16, Y, Y

// func quantRowQ8_0AVX2(x *float32, nb int, q *int16, d *float32, s *int32)
// quantRowQ8_0AVX512 with 256-bit vectors: the same maximum over |x| bit patterns, id = 127/amax,
// q = round(x·id) in float32, d = amax/127 rounded to fp16 and back, s = Σq.
TEXT ·quantRowQ8_0AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x42fe0000, AX // 127.0
	VMOVD AX, X13
	VPXOR Y12, Y12, Y12

q82block:
	AMAX32AVX2
	TESTL AX, AX
	JZ    q82zero
	VDIVSS X0, X13, X3 // id = 127/amax
	VDIVSS X13, X0, X4 // amax/127
	VCVTPS2PH $0, X4, X4
	VCVTPH2PS X4, X4
	VMOVSS X4, (R8)
	VBROADCASTSS X3, Y5
	ROUND32(0, 0, NOCLAMP)
	HSUMD8
	VMOVD X6, (R9)

q82next:
	ADDQ $128, SI
	ADDQ $64, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  q82block
	VZEROUPPER
	RET

q82zero:
	VMOVDQU Y12, (DI)
	VMOVDQU Y12, 32(DI)
	MOVL $0, (R8)
	MOVL $0, (R9)
	JMP  q82next

// func quantRowQ8_KAVX2(x *float32, nsb int, q *int16, d *float32, s *int32)
// quantRowQ8_KAVX512 with 256-bit vectors: amax over |x| ignoring NaNs (VMAXPS keeps its second operand
// when the first is a NaN), a NaN anywhere making d NaN; max the first value of magnitude amax (found by
// comparing |x| with amax eight values at a time); iscale = −127/max, q = min(127, round(iscale·x)) in
// float32 (ties to even), d = 1/iscale for the eight blocks of 32, s = Σq per block.
TEXT ·quantRowQ8_KAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nsb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $127, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0xc2fe0000, AX // -127.0
	VMOVD AX, X13

k2sblock:
	VPXOR Y0, Y0, Y0   // amax
	VPXOR Y12, Y12, Y12 // NaN lanes
	XORQ R10, R10
k2max:
	VMOVUPS (SI)(R10*4), Y1
	VCMPPS  $3, Y1, Y1, Y2
	VORPS   Y2, Y12, Y12
	VANDPS  Y15, Y1, Y1
	VMAXPS  Y0, Y1, Y0
	ADDQ    $8, R10
	CMPQ    R10, $256
	JLT     k2max
	VEXTRACTF128 $1, Y0, X1
	VMAXPS  X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VMAXPS  X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VMAXPS  X1, X0, X0 // amax in every lane
	VMOVD   X0, AX
	TESTL   AX, AX
	JZ      k2zero
	VINSERTF128 $1, X0, Y0, Y2
	XORQ    R10, R10
k2find:
	VANDPS    (SI)(R10*4), Y15, Y1
	VCMPPS    $0, Y2, Y1, Y1
	VMOVMSKPS Y1, AX
	TESTL     AX, AX
	JNZ       k2found
	ADDQ      $8, R10
	JMP       k2find
k2found:
	TZCNTL AX, AX
	ADDQ   AX, R10
	VMOVSS (SI)(R10*4), X3 // max
	VDIVSS X3, X13, X4     // iscale = -127/max
	MOVL   $0x3f800000, AX // 1.0
	VMOVD  AX, X3
	VDIVSS X4, X3, X3      // d = 1/iscale
	VBROADCASTSS X4, Y5
	XORQ R10, R10
k2blk:
	ROUND32(0, 0, CLAMP127)
	HSUMD8
	VMOVD  X6, (R9)
	VMOVSS X3, (R8)
	ADDQ   $128, SI
	ADDQ   $64, DI
	ADDQ   $4, R8
	ADDQ   $4, R9
	INCQ   R10
	CMPQ   R10, $8
	JLT    k2blk
	JMP    k2nan

k2zero:
	XORQ R10, R10
	VPXOR Y8, Y8, Y8
k2z:
	VMOVDQU Y8, (DI)
	VMOVDQU Y8, 32(DI)
	MOVL    $0, (R8)
	MOVL    $0, (R9)
	ADDQ    $128, SI
	ADDQ    $64, DI
	ADDQ    $4, R8
	ADDQ    $4, R9
	INCQ    R10
	CMPQ    R10, $8
	JLT     k2z

k2nan:
	VMOVMSKPS Y12, AX
	TESTL     AX, AX
	JZ        k2next
	MOVL $0x7fc00000, AX // NaN
	MOVL AX, -32(R8)
	MOVL AX, -28(R8)
	MOVL AX, -24(R8)
	MOVL AX, -20(R8)
	MOVL AX, -16(R8)
	MOVL AX, -12(R8)
	MOVL AX, -8(R8)
	MOVL AX, -4(R8)

k2next:
	DECQ CX
	JNZ  k2sblock
	VZEROUPPER
	RET
