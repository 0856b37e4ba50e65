//go:build amd64 && !noasm

#include "textflag.h"

// The attention kernels, each for keys and values stored as float32 (VMOVUPS) or as half-precision floats
// widened as they are read (VCVTPH2PS, F16C: on every CPU with AVX2 and FMA): the macros below are the
// kernels' bodies, LD the load and the offsets those of the element size.

#define LOADP \
	MOVQ p+0(FP), AX \
	MOVQ 0(AX), R8 \
	MOVQ 8(AX), R9 \
	MOVQ 16(AX), R10 \
	MOVQ 24(AX), R11 \
	MOVQ n+8(FP), CX \
	MOVQ v+16(FP), SI \
	MOVQ vstride+24(FP), DX \
	XORQ BX, BX

#define LOADQ \
	MOVQ q+0(FP), AX \
	MOVQ 0(AX), R8 \
	MOVQ 8(AX), R9 \
	MOVQ 16(AX), R10 \
	MOVQ 24(AX), R11 \
	MOVQ k+8(FP), R12 \
	MOVQ tileStride+16(FP), R13 \
	MOVQ hd+24(FP), DX \
	SHLQ $2, DX \
	MOVQ tiles+32(FP), CX \
	MOVQ s+40(FP), DI \
	MOVQ stride+48(FP), SI

// OUTPTRS: R8–R11 the four queries' output rows (the values kernels' out argument), for their stores.
#define OUTPTRS \
	MOVQ out+32(FP), AX \
	MOVQ 0(AX), R8 \
	MOVQ 8(AX), R9 \
	MOVQ 16(AX), R10 \
	MOVQ 24(AX), R11

// func attnScoresAVX512(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)
// For each tile of 16 keys: Z0–Z3 (even dimensions) and Z4–Z7 (odd) hold the 16 scores of the four queries.
// tileStride is in bytes.
#define SCORES512(LD, OFF, STEP) \
	LOADQ \
	VBROADCASTSS scale+56(FP), Z31 \
tile: \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	MOVQ R12, AX \
	XORQ BX, BX \
dim: \
	LD (AX), Z8 \
	LD OFF(AX), Z9 \
	VFMADD231PS.BCST (R8)(BX*1), Z8, Z0 \
	VFMADD231PS.BCST 4(R8)(BX*1), Z9, Z4 \
	VFMADD231PS.BCST (R9)(BX*1), Z8, Z1 \
	VFMADD231PS.BCST 4(R9)(BX*1), Z9, Z5 \
	VFMADD231PS.BCST (R10)(BX*1), Z8, Z2 \
	VFMADD231PS.BCST 4(R10)(BX*1), Z9, Z6 \
	VFMADD231PS.BCST (R11)(BX*1), Z8, Z3 \
	VFMADD231PS.BCST 4(R11)(BX*1), Z9, Z7 \
	ADDQ $STEP, AX \
	ADDQ $8, BX \
	CMPQ BX, DX \
	JLT  dim \
	VADDPS Z4, Z0, Z0 \
	VADDPS Z5, Z1, Z1 \
	VADDPS Z6, Z2, Z2 \
	VADDPS Z7, Z3, Z3 \
	VMULPS Z31, Z0, Z0 \
	VMULPS Z31, Z1, Z1 \
	VMULPS Z31, Z2, Z2 \
	VMULPS Z31, Z3, Z3 \
	MOVQ DI, AX \
	VMOVUPS Z0, (AX) \
	ADDQ SI, AX \
	VMOVUPS Z1, (AX) \
	ADDQ SI, AX \
	VMOVUPS Z2, (AX) \
	ADDQ SI, AX \
	VMOVUPS Z3, (AX) \
	ADDQ $64, DI \
	ADDQ R13, R12 \
	DECQ CX \
	JNZ  tile \
	VZEROUPPER \
	RET

// func attnValues64AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)
// out[i][0:64] += Σ_{j<n} p[i][j]·v[j·vstride + 0:64] (vstride in bytes): the sum accumulates, so that a
// paged cache adds block by block. Z0–Z15: 64 output dimensions of the four queries; Z16–Z19 one value row.
#define VALUES64(LD, O1, O2, O3) \
	LOADP \
	MOVQ out+32(FP), AX \
	MOVQ 0(AX), DI \
	VMOVUPS (DI), Z0 \
	VMOVUPS 64(DI), Z1 \
	VMOVUPS 128(DI), Z2 \
	VMOVUPS 192(DI), Z3 \
	MOVQ 8(AX), DI \
	VMOVUPS (DI), Z4 \
	VMOVUPS 64(DI), Z5 \
	VMOVUPS 128(DI), Z6 \
	VMOVUPS 192(DI), Z7 \
	MOVQ 16(AX), DI \
	VMOVUPS (DI), Z8 \
	VMOVUPS 64(DI), Z9 \
	VMOVUPS 128(DI), Z10 \
	VMOVUPS 192(DI), Z11 \
	MOVQ 24(AX), DI \
	VMOVUPS (DI), Z12 \
	VMOVUPS 64(DI), Z13 \
	VMOVUPS 128(DI), Z14 \
	VMOVUPS 192(DI), Z15 \
row64: \
	LD (SI), Z16 \
	LD O1(SI), Z17 \
	LD O2(SI), Z18 \
	LD O3(SI), Z19 \
	VBROADCASTSS (R8)(BX*4), Z20 \
	VBROADCASTSS (R9)(BX*4), Z21 \
	VBROADCASTSS (R10)(BX*4), Z22 \
	VBROADCASTSS (R11)(BX*4), Z23 \
	VFMADD231PS Z16, Z20, Z0 \
	VFMADD231PS Z17, Z20, Z1 \
	VFMADD231PS Z18, Z20, Z2 \
	VFMADD231PS Z19, Z20, Z3 \
	VFMADD231PS Z16, Z21, Z4 \
	VFMADD231PS Z17, Z21, Z5 \
	VFMADD231PS Z18, Z21, Z6 \
	VFMADD231PS Z19, Z21, Z7 \
	VFMADD231PS Z16, Z22, Z8 \
	VFMADD231PS Z17, Z22, Z9 \
	VFMADD231PS Z18, Z22, Z10 \
	VFMADD231PS Z19, Z22, Z11 \
	VFMADD231PS Z16, Z23, Z12 \
	VFMADD231PS Z17, Z23, Z13 \
	VFMADD231PS Z18, Z23, Z14 \
	VFMADD231PS Z19, Z23, Z15 \
	ADDQ DX, SI \
	INCQ BX \
	CMPQ BX, CX \
	JLT  row64 \
	OUTPTRS \
	VMOVUPS Z0, (R8) \
	VMOVUPS Z1, 64(R8) \
	VMOVUPS Z2, 128(R8) \
	VMOVUPS Z3, 192(R8) \
	VMOVUPS Z4, (R9) \
	VMOVUPS Z5, 64(R9) \
	VMOVUPS Z6, 128(R9) \
	VMOVUPS Z7, 192(R9) \
	VMOVUPS Z8, (R10) \
	VMOVUPS Z9, 64(R10) \
	VMOVUPS Z10, 128(R10) \
	VMOVUPS Z11, 192(R10) \
	VMOVUPS Z12, (R11) \
	VMOVUPS Z13, 64(R11) \
	VMOVUPS Z14, 128(R11) \
	VMOVUPS Z15, 192(R11) \
	VZEROUPPER \
	RET

// func attnValues16AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)
// As attnValues64AVX512 for 16 output dimensions.
#define VALUES16_512(LD) \
	LOADP \
	MOVQ out+32(FP), AX \
	MOVQ 0(AX), DI \
	VMOVUPS (DI), Z0 \
	MOVQ 8(AX), DI \
	VMOVUPS (DI), Z1 \
	MOVQ 16(AX), DI \
	VMOVUPS (DI), Z2 \
	MOVQ 24(AX), DI \
	VMOVUPS (DI), Z3 \
row16: \
	LD (SI), Z16 \
	VFMADD231PS.BCST (R8)(BX*4), Z16, Z0 \
	VFMADD231PS.BCST (R9)(BX*4), Z16, Z1 \
	VFMADD231PS.BCST (R10)(BX*4), Z16, Z2 \
	VFMADD231PS.BCST (R11)(BX*4), Z16, Z3 \
	ADDQ DX, SI \
	INCQ BX \
	CMPQ BX, CX \
	JLT  row16 \
	OUTPTRS \
	VMOVUPS Z0, (R8) \
	VMOVUPS Z1, (R9) \
	VMOVUPS Z2, (R10) \
	VMOVUPS Z3, (R11) \
	VZEROUPPER \
	RET

// FMA4Q2(S): Y0–Y3 += Y8 · the four queries' (R8–R11) values at BX·S, and Y4–Y7 += Y9 · the same: the AVX2
// kernels' step (a dimension of 16 keys for the scores, a row of 16 values for the outputs).
#define FMA4Q2(S) \
	VBROADCASTSS (R8)(BX*S), Y10 \
	VFMADD231PS Y8, Y10, Y0 \
	VFMADD231PS Y9, Y10, Y4 \
	VBROADCASTSS (R9)(BX*S), Y11 \
	VFMADD231PS Y8, Y11, Y1 \
	VFMADD231PS Y9, Y11, Y5 \
	VBROADCASTSS (R10)(BX*S), Y12 \
	VFMADD231PS Y8, Y12, Y2 \
	VFMADD231PS Y9, Y12, Y6 \
	VBROADCASTSS (R11)(BX*S), Y13 \
	VFMADD231PS Y8, Y13, Y3 \
	VFMADD231PS Y9, Y13, Y7

// func attnScoresAVX2(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)
// As attnScoresAVX512 with 256-bit registers: Y0–Y3 the first 8 keys of the tile for the four queries, Y4–Y7
// the last 8.
#define SCORES2(LD, OFF, STEP) \
	LOADQ \
	VBROADCASTSS scale+56(FP), Y15 \
tile2: \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	MOVQ R12, AX \
	XORQ BX, BX \
dim2: \
	LD (AX), Y8 \
	LD OFF(AX), Y9 \
	FMA4Q2(1) \
	ADDQ $STEP, AX \
	ADDQ $4, BX \
	CMPQ BX, DX \
	JLT  dim2 \
	MOVQ DI, AX \
	VMULPS Y15, Y0, Y0 \
	VMULPS Y15, Y4, Y4 \
	VMOVUPS Y0, (AX) \
	VMOVUPS Y4, 32(AX) \
	ADDQ SI, AX \
	VMULPS Y15, Y1, Y1 \
	VMULPS Y15, Y5, Y5 \
	VMOVUPS Y1, (AX) \
	VMOVUPS Y5, 32(AX) \
	ADDQ SI, AX \
	VMULPS Y15, Y2, Y2 \
	VMULPS Y15, Y6, Y6 \
	VMOVUPS Y2, (AX) \
	VMOVUPS Y6, 32(AX) \
	ADDQ SI, AX \
	VMULPS Y15, Y3, Y3 \
	VMULPS Y15, Y7, Y7 \
	VMOVUPS Y3, (AX) \
	VMOVUPS Y7, 32(AX) \
	ADDQ $64, DI \
	ADDQ R13, R12 \
	DECQ CX \
	JNZ  tile2 \
	VZEROUPPER \
	RET

// func attnValues16AVX2(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)
// As attnValues16AVX512 with 256-bit registers: Y0–Y3 dimensions 0–7 of the four queries, Y4–Y7 8–15.
#define VALUES16_2(LD, OFF) \
	LOADP \
	MOVQ out+32(FP), AX \
	MOVQ 0(AX), DI \
	VMOVUPS (DI), Y0 \
	VMOVUPS 32(DI), Y4 \
	MOVQ 8(AX), DI \
	VMOVUPS (DI), Y1 \
	VMOVUPS 32(DI), Y5 \
	MOVQ 16(AX), DI \
	VMOVUPS (DI), Y2 \
	VMOVUPS 32(DI), Y6 \
	MOVQ 24(AX), DI \
	VMOVUPS (DI), Y3 \
	VMOVUPS 32(DI), Y7 \
row2: \
	LD (SI), Y8 \
	LD OFF(SI), Y9 \
	FMA4Q2(4) \
	ADDQ DX, SI \
	INCQ BX \
	CMPQ BX, CX \
	JLT  row2 \
	OUTPTRS \
	VMOVUPS Y0, (R8) \
	VMOVUPS Y4, 32(R8) \
	VMOVUPS Y1, (R9) \
	VMOVUPS Y5, 32(R9) \
	VMOVUPS Y2, (R10) \
	VMOVUPS Y6, 32(R10) \
	VMOVUPS Y3, (R11) \
	VMOVUPS Y7, 32(R11) \
	VZEROUPPER \
	RET

TEXT ·attnScoresAVX512(SB), NOSPLIT, $0-60
	SCORES512(VMOVUPS, 64, 128)

// func attnScoresF16AVX512(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)
TEXT ·attnScoresF16AVX512(SB), NOSPLIT, $0-60
	SCORES512(VCVTPH2PS, 32, 64)

TEXT ·attnValues64AVX512(SB), NOSPLIT, $0-40
	VALUES64(VMOVUPS, 64, 128, 192)

// func attnValues64F16AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)
TEXT ·attnValues64F16AVX512(SB), NOSPLIT, $0-40
	VALUES64(VCVTPH2PS, 32, 64, 96)

TEXT ·attnValues16AVX512(SB), NOSPLIT, $0-40
	VALUES16_512(VMOVUPS)

// func attnValues16F16AVX512(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)
TEXT ·attnValues16F16AVX512(SB), NOSPLIT, $0-40
	VALUES16_512(VCVTPH2PS)

TEXT ·attnScoresAVX2(SB), NOSPLIT, $0-60
	SCORES2(VMOVUPS, 32, 64)

// func attnScoresF16AVX2(q *[4]*float32, k unsafe.Pointer, tileStride, hd, tiles int, s *float32, stride int, scale float32)
TEXT ·attnScoresF16AVX2(SB), NOSPLIT, $0-60
	SCORES2(VCVTPH2PS, 16, 32)

TEXT ·attnValues16AVX2(SB), NOSPLIT, $0-40
	VALUES16_2(VMOVUPS, 32)

// func attnValues16F16AVX2(p *[4]*float32, n int, v unsafe.Pointer, vstride int, out *[4]*float32)
TEXT ·attnValues16F16AVX2(SB), NOSPLIT, $0-40
	VALUES16_2(VCVTPH2PS, 16)
