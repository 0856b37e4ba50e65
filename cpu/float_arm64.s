//go:build arm64 && !noasm

#include "textflag.h"
#include "neon_arm64.h"

// NEON kernels of the float operations on arm64: dot products (F32/F16 weights), AXPY (attention's
// weighted sum of values) and attention scores against tiles of keys. Sixteen floats (four registers) a
// step; the Go side does what is left over.


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
	MOVD q+0(FP), R0
	MOVD k+8(FP), R1
	MOVD hd+16(FP), R2
	MOVD tiles+24(FP), R3
	MOVD tileBytes+32(FP), R4
	MOVD s+40(FP), R5
	FMOVS scale+48(FP), F31
	VDUP V31.S[0], V30.S4

tileloop:
	CBZ R3, tilesdone
	MOVD R0, R6
	MOVD R1, R7
	MOVD R2, R8
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

dimloop:
	VLD1R.P 4(R6), [V4.S4]
	VLD1.P 64(R7), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA V4.S4, V16.S4, V0.S4
	VFMLA V4.S4, V17.S4, V1.S4
	VFMLA V4.S4, V18.S4, V2.S4
	VFMLA V4.S4, V19.S4, V3.S4
	SUBS $1, R8, R8
	BNE dimloop

	FMULV(30, 0, 0)
	FMULV(30, 1, 1)
	FMULV(30, 2, 2)
	FMULV(30, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R5)
	ADD R4, R1
	SUB $1, R3
	B tileloop

tilesdone:
	RET

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
