//go:build arm64 && !noasm

#include "textflag.h"
#include "neon_arm64.h"

// NEON kernels of the float operations on arm64: dot products (F32/F16 weights), AXPY (attention's
// weighted sum of values) and attention scores against tiles of keys. Sixteen floats (four registers) a
// step; the Go side does what is left over.


// One dimension of a tile's 16 keys into V16–V19: floats, or halves widened.
#define LOADK32 VLD1.P 64(R7), [V16.S4, V17.S4, V18.S4, V19.S4]
#define LOADK16 \
	VLD1.P 32(R7), [V20.B16, V21.B16] \
	FCVTL(20, 16) \
	FCVTL2(20, 17) \
	FCVTL(21, 18) \
	FCVTL2(21, 19)

// The scores kernels' body (attnScoresNEON), LOADK the load of one dimension of a tile's keys.
#define ATTNSCORES(LOADK) \
	MOVD q+0(FP), R0 \
	MOVD k+8(FP), R1 \
	MOVD hd+16(FP), R2 \
	MOVD tiles+24(FP), R3 \
	MOVD tileBytes+32(FP), R4 \
	MOVD s+40(FP), R5 \
	FMOVS scale+48(FP), F31 \
	VDUP V31.S[0], V30.S4 \
tileloop: \
	CBZ R3, tilesdone \
	MOVD R0, R6 \
	MOVD R1, R7 \
	MOVD R2, R8 \
	VEOR V0.B16, V0.B16, V0.B16 \
	VEOR V1.B16, V1.B16, V1.B16 \
	VEOR V2.B16, V2.B16, V2.B16 \
	VEOR V3.B16, V3.B16, V3.B16 \
dimloop: \
	VLD1R.P 4(R6), [V4.S4] \
	LOADK \
	VFMLA V4.S4, V16.S4, V0.S4 \
	VFMLA V4.S4, V17.S4, V1.S4 \
	VFMLA V4.S4, V18.S4, V2.S4 \
	VFMLA V4.S4, V19.S4, V3.S4 \
	SUBS $1, R8, R8 \
	BNE dimloop \
	FMULV(30, 0, 0) \
	FMULV(30, 1, 1) \
	FMULV(30, 2, 2) \
	FMULV(30, 3, 3) \
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R5) \
	ADD R4, R1 \
	SUB $1, R3 \
	B tileloop \
tilesdone: \
	RET

// func dotNEON(a, b *float32, n int) float32
// n: a multiple of 16.
TEXT ·dotNEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

dotloop:
	CBZ R2, dotdone
	VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P 64(R1), [V20.S4, V21.S4, V22.S4, V23.S4]
	VFMLA V20.S4, V16.S4, V0.S4
	VFMLA V21.S4, V17.S4, V1.S4
	VFMLA V22.S4, V18.S4, V2.S4
	VFMLA V23.S4, V19.S4, V3.S4
	SUB $16, R2
	B dotloop

dotdone:
	FADDV(1, 0, 0)
	FADDV(3, 2, 2)
	FADDV(2, 0, 0)
	FSUM4(0, 0)
	FMOVS F0, ret+24(FP)
	RET

// func axpyNEON(dst *float32, a float32, x *float32, n int)
// dst[i] += a·x[i] for n (a multiple of 16) values.
TEXT ·axpyNEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	FMOVS a+8(FP), F0
	MOVD x+16(FP), R1
	MOVD n+24(FP), R2
	VDUP V0.S[0], V1.S4

axpyloop:
	CBZ R2, axpydone
	VLD1 (R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P 64(R1), [V20.S4, V21.S4, V22.S4, V23.S4]
	VFMLA V1.S4, V20.S4, V16.S4
	VFMLA V1.S4, V21.S4, V17.S4
	VFMLA V1.S4, V22.S4, V18.S4
	VFMLA V1.S4, V23.S4, V19.S4
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	SUB $16, R2
	B axpyloop

axpydone:
	RET

// func attnScoresNEON(q, k *float32, hd, tiles, tileBytes int, s *float32, scale float32)
// s[16t + j] = scale · Σ_d q[d]·k[t][d][j] for the tiles of 16 keys, dimension-major ([hd][16] floats,
// tileBytes apart): per dimension, q[d] broadcast and four multiply-adds into the 16 scores.
TEXT ·attnScoresNEON(SB), NOSPLIT, $0-52
	ATTNSCORES(LOADK32)

// func attnScoresF16NEON(q *float32, k *uint16, hd, tiles, tileBytes int, s *float32, scale float32)
// As attnScoresNEON with keys in half precision, widened as they are read (FCVTL, FCVTL2).
TEXT ·attnScoresF16NEON(SB), NOSPLIT, $0-52
	ATTNSCORES(LOADK16)

// func f16ToF32NEON(dst *float32, src *byte, n int)
// n (a multiple of 8) F16 values to floats, 8 a step (FCVTL, FCVTL2).
TEXT ·f16ToF32NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

f16loop:
	CBZ R2, f16done
	VLD1.P 16(R1), [V0.B16]
	FCVTL(0, 1)
	FCVTL2(0, 2)
	VST1.P [V1.S4, V2.S4], 32(R0)
	SUB $8, R2
	B f16loop

f16done:
	RET

// func bf16ToF32NEON(dst *float32, src *byte, n int)
// n (a multiple of 8) BF16 values to floats: each the high half of its float, zeros interleaved below it.
TEXT ·bf16ToF32NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V31.B16, V31.B16, V31.B16

bf16loop:
	CBZ R2, bf16done
	VLD1.P 16(R1), [V0.B16]
	VZIP1 V0.H8, V31.H8, V1.H8
	VZIP2 V0.H8, V31.H8, V2.H8
	VST1.P [V1.S4, V2.S4], 32(R0)
	SUB $8, R2
	B bf16loop

bf16done:
	RET

// The exponential of Softmax and SwiGLU, four lanes at a time, as expf (ops.go) computes it: constants
// from the table at R9 (expTable): V8 = log2(e), V9 and V10 = ln 2 in two parts, V11–V16 the polynomial,
// V17 = 1, V18 = −87.3, V19 = ln(MaxFloat32), V7 = +Inf, V6 = 127 (int32).
#define EXPCONSTS \
	VLD1R.P 4(R9), [V8.S4]  \
	VLD1R.P 4(R9), [V9.S4]  \
	VLD1R.P 4(R9), [V10.S4] \
	VLD1R.P 4(R9), [V11.S4] \
	VLD1R.P 4(R9), [V12.S4] \
	VLD1R.P 4(R9), [V13.S4] \
	VLD1R.P 4(R9), [V14.S4] \
	VLD1R.P 4(R9), [V15.S4] \
	VLD1R.P 4(R9), [V16.S4] \
	VLD1R.P 4(R9), [V17.S4] \
	VLD1R.P 4(R9), [V18.S4] \
	VLD1R.P 4(R9), [V19.S4] \
	VLD1R.P 4(R9), [V7.S4]  \
	VLD1R.P 4(R9), [V6.S4]

// EXP: V22 = e^V0. k = round(t·log2 e), r = t − k·ln2 (in two parts), e^r = 1 + r + r²·P(r), times 2^k —
// built as (min(k, 127) + 127) << 23, and doubled where k is 128 (t just below ln(MaxFloat32)) — then 0 below
// −87.3 and +Inf above ln(MaxFloat32); a NaN stays NaN.
#define EXP \
	FMULV(8, 0, 20)                \
	FRINTN4(20, 20)                \
	VORR V0.B16, V0.B16, V21.B16   \
	VFMLS V9.S4, V20.S4, V21.S4    \
	VFMLS V10.S4, V20.S4, V21.S4   \
	FMULV(21, 11, 22)              \
	FADDV(12, 22, 22)              \
	FMULV(21, 22, 22)              \
	FADDV(13, 22, 22)              \
	FMULV(21, 22, 22)              \
	FADDV(14, 22, 22)              \
	FMULV(21, 22, 22)              \
	FADDV(15, 22, 22)              \
	FMULV(21, 22, 22)              \
	FADDV(16, 22, 22)              \
	FMULV(21, 21, 23)              \
	FMULV(23, 22, 22)              \
	FADDV(21, 22, 22)              \
	FADDV(17, 22, 22)              \
	FCVTZS4(20, 24)                \
	SMIN4(6, 24, 25)               \
	VSUB V25.S4, V24.S4, V26.S4    \
	SCVTF4(26, 26)                 \
	FADDV(17, 26, 26)              \
	FMULV(26, 22, 22)              \
	VADD V6.S4, V25.S4, V25.S4     \
	VSHL $23, V25.S4, V25.S4       \
	FMULV(25, 22, 22)              \
	FCMGT4(0, 18, 26)              \
	VAND V26.B16, V22.B16, V27.B16 \
	VEOR V27.B16, V22.B16, V22.B16 \
	FCMGT4(19, 0, 26)              \
	VEOR V7.B16, V22.B16, V27.B16  \
	VAND V26.B16, V27.B16, V27.B16 \
	VEOR V27.B16, V22.B16, V22.B16

// func expSubSumNEON(x *float32, n int, mx float32, c *float32) float32
// x[i] = e^(x[i] − mx) for n (a multiple of 4) values, and their sum.
TEXT ·expSubSumNEON(SB), NOSPLIT, $0-36
	MOVD x+0(FP), R0
	MOVD n+8(FP), R2
	FMOVS mx+16(FP), F1
	MOVD c+24(FP), R9
	VDUP V1.S[0], V1.S4
	EXPCONSTS
	VEOR V2.B16, V2.B16, V2.B16

exploop:
	CBZ R2, expdone
	VLD1 (R0), [V0.S4]
	FSUBV(1, 0, 0)
	EXP
	VST1.P [V22.S4], 16(R0)
	FADDV(22, 2, 2)
	SUB $4, R2
	B exploop

expdone:
	FSUM4(2, 0)
	FMOVS F0, ret+32(FP)
	RET

// func swigluNEON(dst, gate, up *float32, n int, c *float32)
// dst[i] = gate[i] / (1 + e^−gate[i]) · up[i] for n (a multiple of 4) values.
TEXT ·swigluNEON(SB), NOSPLIT, $0-40
	MOVD dst+0(FP), R0
	MOVD gate+8(FP), R1
	MOVD up+16(FP), R3
	MOVD n+24(FP), R2
	MOVD c+32(FP), R9
	EXPCONSTS

sgloop:
	CBZ R2, sgdone
	VLD1.P 16(R1), [V1.S4]
	VLD1.P 16(R3), [V2.S4]
	VEOR V0.B16, V0.B16, V0.B16
	FSUBV(1, 0, 0) // −g
	EXP
	FADDV(17, 22, 22)
	FDIVV(22, 1, 22) // g / (1 + e^−g)
	FMULV(2, 22, 22)
	VST1.P [V22.S4], 16(R0)
	SUB $4, R2
	B sgloop

sgdone:
	RET

// func maxNEON(x *float32, n int) float32
// The largest of n (a multiple of 4) values.
TEXT ·maxNEON(SB), NOSPLIT, $0-20
	MOVD x+0(FP), R0
	MOVD n+8(FP), R2
	VLD1.P 16(R0), [V0.S4]
	SUB $4, R2

maxloop:
	CBZ R2, maxdone
	VLD1.P 16(R0), [V1.S4]
	FMAXVV(1, 0, 0)
	SUB $4, R2
	B maxloop

maxdone:
	FMAXV4(0, 0)
	FMOVS F0, ret+16(FP)
	RET

// func scaleNEON(x *float32, n int, s float32)
// x[i] *= s for n (a multiple of 4) values.
TEXT ·scaleNEON(SB), NOSPLIT, $0-20
	MOVD x+0(FP), R0
	MOVD n+8(FP), R2
	FMOVS s+16(FP), F1
	VDUP V1.S[0], V1.S4

scaleloop:
	CBZ R2, scaledone
	VLD1 (R0), [V0.S4]
	FMULV(1, 0, 0)
	VST1.P [V0.S4], 16(R0)
	SUB $4, R2
	B scaleloop

scaledone:
	RET
