//go:build amd64 && !noasm

#include "textflag.h"
#include "tile_amd64.h"

// The gemm kernel (see gemm.go): 16 weight rows (one int32 lane each) × 8 tokens.
// Z0–Z7: int32 sums of the current block per token; Z8–Z15: float sums per token;
// Z16: one pair of values of each of the 16 rows; Z18, Z19: the block's s and o of the 16 rows.

// FIRST starts a block's sums with the products of one pair: w at SI+wo, the 8 tokens' words at DI+ao.
#define FIRST(wo, ao) \
	VMOVDQU32 wo(SI), Z16 \
	VPBROADCASTD (ao+0)(DI), Z17 \
	VPMADDWD Z17, Z16, Z0 \
	VPBROADCASTD (ao+4)(DI), Z20 \
	VPMADDWD Z20, Z16, Z1 \
	VPBROADCASTD (ao+8)(DI), Z17 \
	VPMADDWD Z17, Z16, Z2 \
	VPBROADCASTD (ao+12)(DI), Z20 \
	VPMADDWD Z20, Z16, Z3 \
	VPBROADCASTD (ao+16)(DI), Z17 \
	VPMADDWD Z17, Z16, Z4 \
	VPBROADCASTD (ao+20)(DI), Z20 \
	VPMADDWD Z20, Z16, Z5 \
	VPBROADCASTD (ao+24)(DI), Z17 \
	VPMADDWD Z17, Z16, Z6 \
	VPBROADCASTD (ao+28)(DI), Z20 \
	VPMADDWD Z20, Z16, Z7

// PAIR adds the products of one pair.
#define PAIR(wo, ao) \
	VMOVDQU32 wo(SI), Z16 \
	VPDPWSSD.BCST (ao+0)(DI), Z16, Z0 \
	VPDPWSSD.BCST (ao+4)(DI), Z16, Z1 \
	VPDPWSSD.BCST (ao+8)(DI), Z16, Z2 \
	VPDPWSSD.BCST (ao+12)(DI), Z16, Z3 \
	VPDPWSSD.BCST (ao+16)(DI), Z16, Z4 \
	VPDPWSSD.BCST (ao+20)(DI), Z16, Z5 \
	VPDPWSSD.BCST (ao+24)(DI), Z16, Z6 \
	VPDPWSSD.BCST (ao+28)(DI), Z16, Z7

// FOLD adds token t's block: F += s·(float(I)·d_t).
#define FOLD(t, I, F) \
	VCVTDQ2PS I, I \
	VMULPS.BCST (t*4)(R10), I, I \
	VFMADD231PS Z18, I, F

// OFFSET adds token t's offset term: F += o·as_t.
#define OFFSET(t, F) \
	VFMADD231PS.BCST (t*4)(R11), Z19, F

// FOLDALL folds the eight tokens' block sums (s at R8, d at R10); OFFSETALL adds their offset terms (o at
// R9, as at R11, which it advances).
#define FOLDALL \
	VMOVUPS (R8), Z18 \
	FOLD(0, Z0, Z8) \
	FOLD(1, Z1, Z9) \
	FOLD(2, Z2, Z10) \
	FOLD(3, Z3, Z11) \
	FOLD(4, Z4, Z12) \
	FOLD(5, Z5, Z13) \
	FOLD(6, Z6, Z14) \
	FOLD(7, Z7, Z15)

#define OFFSETALL \
	VMOVUPS (R9), Z19 \
	OFFSET(0, Z8) \
	OFFSET(1, Z9) \
	OFFSET(2, Z10) \
	OFFSET(3, Z11) \
	OFFSET(4, Z12) \
	OFFSET(5, Z13) \
	OFFSET(6, Z14) \
	OFFSET(7, Z15) \
	ADDQ $32, R11

// func gemm16x16VNNI(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, nblk, groups, offsets int, out *float32, ostride int)
// groups: pairs per block / 4 (at least 2); token t's 16 results go to out + t·ostride bytes.
TEXT ·gemm16x16VNNI(SB), NOSPLIT, $0-88
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ wo+16(FP), R9
	MOVQ q+24(FP), DI
	MOVQ ad+32(FP), R10
	MOVQ as+40(FP), R11
	MOVQ nblk+48(FP), CX
	MOVQ groups+56(FP), DX
	DECQ DX
	MOVQ offsets+64(FP), R12
	MOVQ out+72(FP), AX
	ZEROALL

block:
	FIRST(0, 0)
	PAIR(64, 32)
	PAIR(128, 64)
	PAIR(192, 96)
	ADDQ $256, SI
	ADDQ $128, DI
	MOVQ DX, BX

pairs:
	PAIR(0, 0)
	PAIR(64, 32)
	PAIR(128, 64)
	PAIR(192, 96)
	ADDQ $256, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  pairs

	FOLDALL
	TESTQ R12, R12
	JZ    next
	OFFSETALL

next:
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  block

	MOVQ ostride+80(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The 8-bit kernel (8-bit activations, see gemm.go): the strip's unsigned bytes as they are, four values of
// each row per lane against four signed bytes of each token (VPDPBUSD: twice the values per instruction of
// VPDPWSSD, and no widening). Each block's sums start at −bias·Σq of the token (R13: the tokens' Σq per
// block, Z21: −bias), so they are Σ (u−bias)·q exactly, as the 16-bit kernel's.

// QUAD adds the products of four values: w at SI+wo, the 8 tokens' words at DI+ao.
#define QUAD(wo, ao) \
	VMOVDQU32 wo(SI), Z16 \
	VPDPBUSD.BCST (ao+0)(DI), Z16, Z0 \
	VPDPBUSD.BCST (ao+4)(DI), Z16, Z1 \
	VPDPBUSD.BCST (ao+8)(DI), Z16, Z2 \
	VPDPBUSD.BCST (ao+12)(DI), Z16, Z3 \
	VPDPBUSD.BCST (ao+16)(DI), Z16, Z4 \
	VPDPBUSD.BCST (ao+20)(DI), Z16, Z5 \
	VPDPBUSD.BCST (ao+24)(DI), Z16, Z6 \
	VPDPBUSD.BCST (ao+28)(DI), Z16, Z7

// START sets token t's block sums I to −bias·Σq.
#define START(t, I) \
	VPBROADCASTD (t*4)(R13), I \
	VPMULLD Z21, I, I

// func gemm16x16VNNI8(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, sq *int32, nblk, groups, offsets, bias int, out *float32, ostride int)
// groups: quads per block / 4 (at least 1); token t's 16 results go to out + t·ostride bytes.
TEXT ·gemm16x16VNNI8(SB), NOSPLIT, $0-104
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ wo+16(FP), R9
	MOVQ q+24(FP), DI
	MOVQ ad+32(FP), R10
	MOVQ as+40(FP), R11
	MOVQ sq+48(FP), R13
	MOVQ nblk+56(FP), CX
	MOVQ groups+64(FP), DX
	MOVQ offsets+72(FP), R12
	MOVQ bias+80(FP), AX
	NEGQ AX
	VPBROADCASTD AX, Z21
	ZEROALL

block8:
	START(0, Z0)
	START(1, Z1)
	START(2, Z2)
	START(3, Z3)
	START(4, Z4)
	START(5, Z5)
	START(6, Z6)
	START(7, Z7)
	MOVQ DX, BX

quads8:
	QUAD(0, 0)
	QUAD(64, 32)
	QUAD(128, 64)
	QUAD(192, 96)
	ADDQ $256, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  quads8

	FOLDALL
	TESTQ R12, R12
	JZ    next8
	OFFSETALL

next8:
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $32, R10
	ADDQ $32, R13
	DECQ CX
	JNZ  block8

	MOVQ out+88(FP), AX
	MOVQ ostride+96(FP), BX
	STOREALL
	VZEROUPPER
	RET

// func widenAVX512(dst, src *uint32, quads int, bias int16, ctl *[128]byte)
// Each 64-byte run of src (4 bytes of each of 16 rows) becomes two 64-byte runs of int16 pairs minus bias:
// bytes 0–1 of every row, then bytes 2–3 (ctl holds the two byte shuffles).
TEXT ·widenAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ quads+16(FP), CX
	VPBROADCASTW bias+24(FP), Z5
	MOVQ ctl+32(FP), AX
	VMOVDQU64 (AX), Z6
	VMOVDQU64 64(AX), Z7

widen:
	VMOVDQU32 (SI), Z0
	VPSHUFB Z6, Z0, Z1
	VPSHUFB Z7, Z0, Z2
	VPSUBW Z5, Z1, Z1
	VPSUBW Z5, Z2, Z2
	VMOVDQU32 Z1, (DI)
	VMOVDQU32 Z2, 64(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  widen
	VZEROUPPER
	RET

// func gemmF16x8AVX512(w, x *float32, cols int, out *float32, ostride int)
// Float tiles: Z0–Z7 hold the 16 rows' sums of the 8 tokens; per column, one load of the 16 rows' weights
// and a broadcast multiply-add per token.
TEXT ·gemmF16x8AVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ cols+16(FP), CX
	MOVQ out+24(FP), AX
	MOVQ ostride+32(FP), BX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

fcol:
	VMOVUPS (SI), Z16
	VFMADD231PS.BCST 0(DI), Z16, Z0
	VFMADD231PS.BCST 4(DI), Z16, Z1
	VFMADD231PS.BCST 8(DI), Z16, Z2
	VFMADD231PS.BCST 12(DI), Z16, Z3
	VFMADD231PS.BCST 16(DI), Z16, Z4
	VFMADD231PS.BCST 20(DI), Z16, Z5
	VFMADD231PS.BCST 24(DI), Z16, Z6
	VFMADD231PS.BCST 28(DI), Z16, Z7
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  fcol

	VMOVUPS Z0, (AX)
	ADDQ BX, AX
	VMOVUPS Z1, (AX)
	ADDQ BX, AX
	VMOVUPS Z2, (AX)
	ADDQ BX, AX
	VMOVUPS Z3, (AX)
	ADDQ BX, AX
	VMOVUPS Z4, (AX)
	ADDQ BX, AX
	VMOVUPS Z5, (AX)
	ADDQ BX, AX
	VMOVUPS Z6, (AX)
	ADDQ BX, AX
	VMOVUPS Z7, (AX)
	VZEROUPPER
	RET

// func gemmF16x4AVX2(w, x *float32, cols int, out *float32, ostride int)
// Float tiles without AVX-512: 16 rows × 4 tokens (x at a 32-byte stride per column, as the 8-token group is
// laid out; the caller runs the group's two halves). Y0–Y7 hold token t's rows 0–7 and 8–15 in Y(2t) and
// Y(2t+1); per column two loads of the 16 rows' weights and, per token, a broadcast and two multiply-adds.
TEXT ·gemmF16x4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ cols+16(FP), CX
	MOVQ out+24(FP), AX
	MOVQ ostride+32(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

f4col:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VBROADCASTSS 0(DI), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y1
	VBROADCASTSS 4(DI), Y11
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y11, Y9, Y3
	VBROADCASTSS 8(DI), Y12
	VFMADD231PS Y12, Y8, Y4
	VFMADD231PS Y12, Y9, Y5
	VBROADCASTSS 12(DI), Y13
	VFMADD231PS Y13, Y8, Y6
	VFMADD231PS Y13, Y9, Y7
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  f4col

	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)
	ADDQ BX, AX
	VMOVUPS Y2, (AX)
	VMOVUPS Y3, 32(AX)
	ADDQ BX, AX
	VMOVUPS Y4, (AX)
	VMOVUPS Y5, 32(AX)
	ADDQ BX, AX
	VMOVUPS Y6, (AX)
	VMOVUPS Y7, 32(AX)
	VZEROUPPER
	RET


// func widenAVX2(dst, src *uint32, quads int, bias int16, ctl *[128]byte)
// As widenAVX512, 32 bytes (8 rows) at a time.
TEXT ·widenAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ quads+16(FP), CX
	MOVWLZX bias+24(FP), AX
	MOVL AX, BX
	SHLL $16, BX
	ORL  BX, AX
	VMOVD AX, X5
	VPBROADCASTD X5, Y5
	MOVQ ctl+32(FP), AX
	VMOVDQU (AX), Y6
	VMOVDQU 64(AX), Y7

widen2:
	VMOVDQU (SI), Y0
	VPSHUFB Y6, Y0, Y1
	VPSHUFB Y7, Y0, Y2
	VPSUBW Y5, Y1, Y1
	VPSUBW Y5, Y2, Y2
	VMOVDQU Y1, (DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU 32(SI), Y0
	VPSHUFB Y6, Y0, Y1
	VPSHUFB Y7, Y0, Y2
	VPSUBW Y5, Y1, Y1
	VPSUBW Y5, Y2, Y2
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 96(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  widen2
	VZEROUPPER
	RET

// The AVX2 gemm kernel over a whole strip: 16 rows × 4 tokens (one half of a token group). Y0–Y7 hold the
// int32 block sums, token t's rows 0–7 and 8–15 in Y(2t) and Y(2t+1); Y8, Y9 one pair of values of the 16
// rows; each token's broadcast serves both row halves, which halves the loads per multiply of the 8-row
// kernel. The float sums live in out (64 bytes per token, ostride apart), folded in once per block.

#define PAIR16(t, A, B) \
	VPBROADCASTD (t*4)(DI), Y10 \
	VPMADDWD Y10, Y8, Y11 \
	VPADDD Y11, A, A \
	VPMADDWD Y10, Y9, Y11 \
	VPADDD Y11, B, B

// PAIR16FIRST is PAIR16 for a block's first pair: its products are the sums' first values (no zeroing, no add).
#define PAIR16FIRST(t, A, B) \
	VPBROADCASTD (t*4)(DI), Y10 \
	VPMADDWD Y10, Y8, A \
	VPMADDWD Y10, Y9, B

// PAIRV16 is PAIR16 with AVX-VNNI: VPDPWSSD A, Y8, Y10 (C4 C2 3D 52 /r) and VPDPWSSD B, Y9, Y10
// (C4 C2 35 52 /r); MA, MB are their ModRM bytes (A = Y0, Y2, Y4, Y6: C2, D2, E2, F2; B = Y1, Y3, Y5, Y7:
// CA, DA, EA, FA).
#define PAIRV16(t, MA, MB) \
	VPBROADCASTD (t*4)(DI), Y10 \
	BYTE $0xC4; BYTE $0xC2; BYTE $0x3D; BYTE $0x52; BYTE $MA \
	BYTE $0xC4; BYTE $0xC2; BYTE $0x35; BYTE $0x52; BYTE $MB

// FOLDT(t, I, J): out rows 0–7 and 8–15 of token t (at R12) += s · (float(I|J) · ad[t]).
#define FOLDT(t, I, J) \
	VBROADCASTSS (t*4)(R10), Y12 \
	VCVTDQ2PS I, I \
	VCVTDQ2PS J, J \
	VMULPS Y12, I, I \
	VMULPS Y12, J, J \
	VMOVUPS (R12), Y13 \
	VMOVUPS 32(R12), Y14 \
	VFMADD231PS (R8), I, Y13 \
	VFMADD231PS 32(R8), J, Y14 \
	VMOVUPS Y13, (R12) \
	VMOVUPS Y14, 32(R12)

// FOLDOFFT(t, I, J): FOLDT, then += o · as[t] on the same loaded sums: per float the same two FMAs in the
// same order as a fold of every token followed by the offsets of every token.
#define FOLDOFFT(t, I, J) \
	VBROADCASTSS (t*4)(R10), Y12 \
	VCVTDQ2PS I, I \
	VCVTDQ2PS J, J \
	VMULPS Y12, I, I \
	VMULPS Y12, J, J \
	VBROADCASTSS (t*4)(R11), Y12 \
	VMOVUPS (R12), Y13 \
	VMOVUPS 32(R12), Y14 \
	VFMADD231PS (R8), I, Y13 \
	VFMADD231PS 32(R8), J, Y14 \
	VFMADD231PS (R9), Y12, Y13 \
	VFMADD231PS 32(R9), Y12, Y14 \
	VMOVUPS Y13, (R12) \
	VMOVUPS Y14, 32(R12)

// OUTZERO4 clears the four tokens' 16 float sums (out at AX, tokens R13 bytes apart; Y0 zero); OUTFOLD4 folds
// their block sums Y0–Y7 into them (FOLDT); OUTFOLDOFF4 adds their offset terms too (FOLDOFFT) and advances
// as. Each token's sums are loaded and stored once a block.
#define OUTZERO4 \
	MOVQ AX, R12 \
	VMOVUPS Y0, (R12) \
	VMOVUPS Y0, 32(R12) \
	ADDQ R13, R12 \
	VMOVUPS Y0, (R12) \
	VMOVUPS Y0, 32(R12) \
	ADDQ R13, R12 \
	VMOVUPS Y0, (R12) \
	VMOVUPS Y0, 32(R12) \
	ADDQ R13, R12 \
	VMOVUPS Y0, (R12) \
	VMOVUPS Y0, 32(R12)

#define OUTFOLD4 \
	MOVQ AX, R12 \
	FOLDT(0, Y0, Y1) \
	ADDQ R13, R12 \
	FOLDT(1, Y2, Y3) \
	ADDQ R13, R12 \
	FOLDT(2, Y4, Y5) \
	ADDQ R13, R12 \
	FOLDT(3, Y6, Y7)

#define OUTFOLDOFF4 \
	MOVQ AX, R12 \
	FOLDOFFT(0, Y0, Y1) \
	ADDQ R13, R12 \
	FOLDOFFT(1, Y2, Y3) \
	ADDQ R13, R12 \
	FOLDOFFT(2, Y4, Y5) \
	ADDQ R13, R12 \
	FOLDOFFT(3, Y6, Y7) \
	ADDQ $32, R11

// func gemm16x4AVX2(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, nblk, pairs, offsets int, out *float32, ostride, vnni int)
// pairs: pairs of values per block (8 or 16); token t's 16 results go to out + t·ostride bytes; vnni ≠ 0
// takes the AVX-VNNI inner loop.
TEXT ·gemm16x4AVX2(SB), NOSPLIT, $0-96
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ wo+16(FP), R9
	MOVQ q+24(FP), DI
	MOVQ ad+32(FP), R10
	MOVQ as+40(FP), R11
	MOVQ nblk+48(FP), CX
	MOVQ pairs+56(FP), DX
	MOVQ out+72(FP), AX
	MOVQ ostride+80(FP), R13
	VPXOR Y0, Y0, Y0
	OUTZERO4

block16:
	VMOVDQU (SI), Y8
	VMOVDQU 32(SI), Y9
	PAIR16FIRST(0, Y0, Y1)
	PAIR16FIRST(1, Y2, Y3)
	PAIR16FIRST(2, Y4, Y5)
	PAIR16FIRST(3, Y6, Y7)
	ADDQ $64, SI
	ADDQ $32, DI
	MOVQ DX, BX
	DECQ BX
	JZ   fold16
	CMPQ vnni+88(FP), $0
	JNE  pairv16

pair16:
	VMOVDQU (SI), Y8
	VMOVDQU 32(SI), Y9
	PAIR16(0, Y0, Y1)
	PAIR16(1, Y2, Y3)
	PAIR16(2, Y4, Y5)
	PAIR16(3, Y6, Y7)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  pair16
	JMP  fold16

pairv16:
	VMOVDQU (SI), Y8
	VMOVDQU 32(SI), Y9
	PAIRV16(0, 0xC2, 0xCA)
	PAIRV16(1, 0xD2, 0xDA)
	PAIRV16(2, 0xE2, 0xEA)
	PAIRV16(3, 0xF2, 0xFA)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  pairv16

fold16:
	CMPQ offsets+64(FP), $0
	JE   nooff16
	OUTFOLDOFF4
	JMP  next16

nooff16:
	OUTFOLD4

next16:
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  block16
	VZEROUPPER
	RET

// func unpackQ4_0x16AVX512(w *byte, stride int, nb int, q *uint32, s, o *float32, idx *[80]int32)
// unpackQ4_0 for a whole strip, 16 rows stride bytes apart: per block, the rows' 16 bytes of nibbles four
// rows to a register (Z0–Z3), low and high nibbles apart, then transposed so that word k·16+r of the
// block's output is values 4k…4k+3 of row r (VPERMT2D with the indices idx[0:64], k = 0…3 for the low
// nibbles, then the same for the high ones as k = 4…7). The 16 scales are gathered (idx[64:80]: the rows'
// offsets), converted from fp16, and stored as s = d and o = 8·d.
TEXT ·unpackQ4_0x16AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R9
	MOVQ nb+16(FP), CX
	MOVQ q+24(FP), DI
	MOVQ s+32(FP), R8
	MOVQ o+40(FP), DX
	MOVQ idx+48(FP), AX
	VMOVDQU32 (AX), Z20
	VMOVDQU32 64(AX), Z21
	VMOVDQU32 128(AX), Z22
	VMOVDQU32 192(AX), Z23
	VMOVDQU32 256(AX), Z25
	MOVL $0x0F0F0F0F, AX
	VPBROADCASTD AX, Z24
	MOVL $0x41000000, AX // 8.0
	VPBROADCASTD AX, Z26
	LEAQ (R9)(R9*2), R11
	LEAQ (SI)(R9*4), BX
	LEAQ (BX)(R9*4), R12
	LEAQ (R12)(R9*4), R13

#define ROWS4(base, Z, X) \
	VMOVDQU 2(base), X \
	VINSERTI32X4 $1, 2(base)(R9*1), Z, Z \
	VINSERTI32X4 $2, 2(base)(R9*2), Z, Z \
	VINSERTI32X4 $3, 2(base)(R11*1), Z, Z

// TRANS(IDX, A, B, C, D, off): the 16 rows' word k (IDX's) of A–D to off(DI).
#define TRANS(IDX, A, B, C, D, off) \
	VMOVDQA64 A, Z8 \
	VPERMT2D B, IDX, Z8 \
	VMOVDQA64 C, Z9 \
	VPERMT2D D, IDX, Z9 \
	VINSERTI64X4 $1, Y9, Z8, Z8 \
	VMOVDQU32 Z8, off(DI)

u4block:
	// The next strip's rows (16 rows on), at this block: its rows are too short and too many at once for
	// the hardware prefetcher.
	LEAQ (R13)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 (AX)(R9*2)
	PREFETCHT1 (AX)(R11*1)
	LEAQ (AX)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 (AX)(R9*2)
	PREFETCHT1 (AX)(R11*1)
	LEAQ (AX)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 (AX)(R9*2)
	PREFETCHT1 (AX)(R11*1)
	LEAQ (AX)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 (AX)(R9*2)
	PREFETCHT1 (AX)(R11*1)
	ROWS4(SI, Z0, X0)
	ROWS4(BX, Z1, X1)
	ROWS4(R12, Z2, X2)
	ROWS4(R13, Z3, X3)
	SPLIT4(Z24, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	TRANS(Z20, Z0, Z1, Z2, Z3, 0)
	TRANS(Z21, Z0, Z1, Z2, Z3, 64)
	TRANS(Z22, Z0, Z1, Z2, Z3, 128)
	TRANS(Z23, Z0, Z1, Z2, Z3, 192)
	TRANS(Z20, Z4, Z5, Z6, Z7, 256)
	TRANS(Z21, Z4, Z5, Z6, Z7, 320)
	TRANS(Z22, Z4, Z5, Z6, Z7, 384)
	TRANS(Z23, Z4, Z5, Z6, Z7, 448)
	KXNORW K1, K1, K1
	VPGATHERDD (SI)(Z25*1), K1, Z10
	VPMOVDW Z10, Y10
	VCVTPH2PS Y10, Z10
	VMOVUPS Z10, (R8)
	VMULPS Z26, Z10, Z10
	VMOVUPS Z10, (DX)
	ADDQ $18, SI
	ADDQ $18, BX
	ADDQ $18, R12
	ADDQ $18, R13
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $64, DX
	DECQ CX
	JNZ  u4block
	VZEROUPPER
	RET

// func unpackQ4_Kx16AVX512(w *byte, stride int, nsb int, q *uint32, s, o *float32, idx *[64]int32)
// unpackQ4_K for a whole strip, 16 rows stride bytes apart, per super-block: each 32-byte chunk c of the
// rows' nibbles, two rows to a register (Z0–Z7: rows 2j and 2j+1), low and high nibbles apart, is
// transposed into 16 words k of 16 rows (16c+k for the low nibbles, 16c+8+k for the high) in two steps:
// VPERMT2D takes four rows' words k…k+3 into one register (indices idx[0:32]), VSHUFI32X4 gathers the
// four groups' 128-bit pieces. The scales and mins are decoded for the 16 rows at once from gathered words
// (idx[32:48]: the rows' offsets): sc·d into s and m·dmin into o, [sub-block][row].
TEXT ·unpackQ4_Kx16AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R9
	MOVQ nsb+16(FP), CX
	MOVQ q+24(FP), DI
	MOVQ s+32(FP), R8
	MOVQ o+40(FP), DX
	MOVQ idx+48(FP), AX
	VMOVDQU32 (AX), Z28
	VMOVDQU32 64(AX), Z29
	VMOVDQU32 128(AX), Z30
	MOVL $0x0F0F0F0F, AX
	VPBROADCASTD AX, Z31
	LEAQ (R9)(R9*2), R11

// LOAD2(off, ra, rb, Z, Y): 32 bytes at off of rows ra and rb (addresses) into the halves of Z.
#define LOAD2(off, ra, rb, Z, Y) \
	VMOVDQU (off)ra, Y \
	VINSERTI64X4 $1, (off)rb, Z, Z

// GROUPK(P, Q, IDX, G): four rows' words (IDX's four) from P = rows 0,1 and Q = rows 2,3 of a group.
#define GROUPK(P, Q, IDX, G) \
	VMOVDQA64 P, G \
	VPERMT2D Q, IDX, G

// OUT2(G0, G1, G2, G3, imm, off): the 16 rows' words of a pair of k (imm picks them) to off(DI), off+64(DI).
#define OUT2(G0, G1, G2, G3, imm, off) \
	VSHUFI32X4 $imm, G1, G0, Z24 \
	VSHUFI32X4 $imm, G3, G2, Z25 \
	VSHUFI32X4 $0x88, Z25, Z24, Z26 \
	VMOVDQU32 Z26, off(DI) \
	VSHUFI32X4 $0xDD, Z25, Z24, Z26 \
	VMOVDQU32 Z26, (off+64)(DI)

// CHUNK(c): chunk c (bytes 16+32c of each super-block) of the 16 rows.
#define CHUNK(c) \
	LOAD2(16+32*c, (SI), (SI)(R9*1), Z0, Y0) \
	LOAD2(16+32*c, (SI)(R9*2), (SI)(R11*1), Z1, Y1) \
	LOAD2(16+32*c, (BX), (BX)(R9*1), Z2, Y2) \
	LOAD2(16+32*c, (BX)(R9*2), (BX)(R11*1), Z3, Y3) \
	LOAD2(16+32*c, (R12), (R12)(R9*1), Z4, Y4) \
	LOAD2(16+32*c, (R12)(R9*2), (R12)(R11*1), Z5, Y5) \
	LOAD2(16+32*c, (R13), (R13)(R9*1), Z6, Y6) \
	LOAD2(16+32*c, (R13)(R9*2), (R13)(R11*1), Z7, Y7) \
	VPSRLW $4, Z0, Z8 \
	VPSRLW $4, Z1, Z9 \
	VPSRLW $4, Z2, Z10 \
	VPSRLW $4, Z3, Z11 \
	VPSRLW $4, Z4, Z12 \
	VPSRLW $4, Z5, Z13 \
	VPSRLW $4, Z6, Z14 \
	VPSRLW $4, Z7, Z15 \
	HALF(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, (c*1024)) \
	HALF(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, (c*1024+512))

// HALF: the low (or shifted high) nibbles of four groups of four rows (A–H, two rows each) to 8 words.
#define HALF(A, B, C, D, E, F, G, H, off) \
	VPANDD Z31, A, A \
	VPANDD Z31, B, B \
	VPANDD Z31, C, C \
	VPANDD Z31, D, D \
	VPANDD Z31, E, E \
	VPANDD Z31, F, F \
	VPANDD Z31, G, G \
	VPANDD Z31, H, H \
	GROUPK(A, B, Z28, Z16) \
	GROUPK(C, D, Z28, Z17) \
	GROUPK(E, F, Z28, Z18) \
	GROUPK(G, H, Z28, Z19) \
	GROUPK(A, B, Z29, Z20) \
	GROUPK(C, D, Z29, Z21) \
	GROUPK(E, F, Z29, Z22) \
	GROUPK(G, H, Z29, Z23) \
	OUT2(Z16, Z17, Z18, Z19, 0x44, off) \
	OUT2(Z16, Z17, Z18, Z19, 0xEE, (off+128)) \
	OUT2(Z20, Z21, Z22, Z23, 0x44, (off+256)) \
	OUT2(Z20, Z21, Z22, Z23, 0xEE, (off+384))

// SCALEJ(j, byte, V, F, DST): sub-block j's 6-bit values (byte b of V's lanes) times F, to DST + 64·j.
#define SCALEJ(j, b, V, F, DST) \
	VPSRLD $(8*b), V, Z24 \
	VPANDD Z27, Z24, Z24 \
	VCVTDQ2PS Z24, Z24 \
	VMULPS F, Z24, Z24 \
	VMOVUPS Z24, (64*j)(DST)

	MOVL $0xFF, AX
	VPBROADCASTD AX, Z27
	JMP  u4kblock

// PREFETCH16ROWS(off): off bytes into each of the 16 rows from AX on (R10 walks them).
#define PREFETCH16ROWS(off) \
	MOVQ AX, R10 \
	PREFETCHT1 off(R10) \
	PREFETCHT1 off(R10)(R9*1) \
	PREFETCHT1 off(R10)(R9*2) \
	PREFETCHT1 off(R10)(R11*1) \
	LEAQ (R10)(R9*4), R10 \
	PREFETCHT1 off(R10) \
	PREFETCHT1 off(R10)(R9*1) \
	PREFETCHT1 off(R10)(R9*2) \
	PREFETCHT1 off(R10)(R11*1) \
	LEAQ (R10)(R9*4), R10 \
	PREFETCHT1 off(R10) \
	PREFETCHT1 off(R10)(R9*1) \
	PREFETCHT1 off(R10)(R9*2) \
	PREFETCHT1 off(R10)(R11*1) \
	LEAQ (R10)(R9*4), R10 \
	PREFETCHT1 off(R10) \
	PREFETCHT1 off(R10)(R9*1) \
	PREFETCHT1 off(R10)(R9*2) \
	PREFETCHT1 off(R10)(R11*1)

u4kblock:
	LEAQ (SI)(R9*4), BX
	LEAQ (BX)(R9*4), R12
	LEAQ (R12)(R9*4), R13
	// The next strip's rows (16 rows on), at this super-block.
	LEAQ (R13)(R9*4), AX
	PREFETCH16ROWS(0)
	PREFETCH16ROWS(64)
	PREFETCH16ROWS(128)
	CHUNK(0)
	CHUNK(1)
	CHUNK(2)
	CHUNK(3)
	// Scales: d|dmin, then the 12 bytes as three words, of the 16 rows.
	KXNORW K1, K1, K1
	VPGATHERDD (SI)(Z30*1), K1, Z16
	KXNORW K1, K1, K1
	VPGATHERDD 4(SI)(Z30*1), K1, Z17
	KXNORW K1, K1, K1
	VPGATHERDD 8(SI)(Z30*1), K1, Z18
	KXNORW K1, K1, K1
	VPGATHERDD 12(SI)(Z30*1), K1, Z19
	VPMOVDW Z16, Y20
	VCVTPH2PS Y20, Z20 // d
	VPSRLD $16, Z16, Z21
	VPMOVDW Z21, Y21
	VCVTPH2PS Y21, Z21 // dmin
	MOVL $0x3f3f3f3f, AX
	VPBROADCASTD AX, Z22
	VPANDD Z22, Z17, Z0 // sc0–3
	VPANDD Z22, Z18, Z1 // m0–3
	MOVL $0x03030303, AX
	VPBROADCASTD AX, Z22
	VPSRLD $6, Z17, Z2
	VPANDD Z22, Z2, Z2
	VPSLLD $4, Z2, Z2
	VPANDD Z31, Z19, Z3
	VPORD Z2, Z3, Z2 // sc4–7
	VPSRLD $6, Z18, Z3
	VPANDD Z22, Z3, Z3
	VPSLLD $4, Z3, Z3
	VPSRLD $4, Z19, Z4
	VPANDD Z31, Z4, Z4
	VPORD Z3, Z4, Z3 // m4–7
	SCALEJ(0, 0, Z0, Z20, R8)
	SCALEJ(1, 1, Z0, Z20, R8)
	SCALEJ(2, 2, Z0, Z20, R8)
	SCALEJ(3, 3, Z0, Z20, R8)
	SCALEJ(4, 0, Z2, Z20, R8)
	SCALEJ(5, 1, Z2, Z20, R8)
	SCALEJ(6, 2, Z2, Z20, R8)
	SCALEJ(7, 3, Z2, Z20, R8)
	SCALEJ(0, 0, Z1, Z21, DX)
	SCALEJ(1, 1, Z1, Z21, DX)
	SCALEJ(2, 2, Z1, Z21, DX)
	SCALEJ(3, 3, Z1, Z21, DX)
	SCALEJ(4, 0, Z3, Z21, DX)
	SCALEJ(5, 1, Z3, Z21, DX)
	SCALEJ(6, 2, Z3, Z21, DX)
	SCALEJ(7, 3, Z3, Z21, DX)
	ADDQ $144, SI
	ADDQ $4096, DI
	ADDQ $512, R8
	ADDQ $512, DX
	DECQ CX
	JNZ  u4kblock
	VZEROUPPER
	RET

// The AVX2 8-bit kernel (8-bit activations, act16.narrow) for weights of at most 4 bits (Q4_0, Q4_K): the
// strip's unsigned bytes as they are against four signed bytes of each token, VPMADDUBSW (twice the
// values per instruction of VPMADDWD). Its 16-bit lanes add adjacent products (|2·15·128| ≤ 3,840), and a
// block's eight quads add up within them (≤ 30,720: exact, never saturated); at the block's end one
// VPMADDWD against 16-bit ones gives the int32 sums, started at −bias·Σq of the token, then the 16-bit
// kernel's FOLDT and FOLDOFFT: the same floats as every other kernel on these sums. Y0–Y7 the 16-bit sums
// (token t's rows 0–7 and 8–15 in Y(2t), Y(2t+1)), Y8/Y9 a quad of the 16 rows, Y15 words of 1.

#define QUAD8FIRST(t, A, B) \
	VPBROADCASTD (t*4)(DI), Y10 \
	VPMADDUBSW   Y10, Y8, A \
	VPMADDUBSW   Y10, Y9, B

#define QUAD8ADD(t, A, B) \
	VPBROADCASTD (t*4)(DI), Y10 \
	VPMADDUBSW   Y10, Y8, Y11 \
	VPADDW       Y11, A, A \
	VPMADDUBSW   Y10, Y9, Y12 \
	VPADDW       Y12, B, B

// SUM8(t, A, B): token t's 16-bit sums to int32, started at −bias·Σq (Σq at DX + 4t, −bias in Y9).
#define SUM8(t, A, B) \
	VPMADDWD     Y15, A, A \
	VPMADDWD     Y15, B, B \
	VPBROADCASTD (t*4)(DX), Y10 \
	VPMULLD      Y9, Y10, Y10 \
	VPADDD       Y10, A, A \
	VPADDD       Y10, B, B

// func gemm16x4AVX2Q8(w *uint32, ws, wo *float32, q *uint32, ad, as *float32, sq *int32, nblk, quads, offsets, bias int, out *float32, ostride int)
// quads: quads of values per block (8); token t's 16 results go to out + t·ostride bytes.
TEXT ·gemm16x4AVX2Q8(SB), NOSPLIT, $0-104
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ wo+16(FP), R9
	MOVQ q+24(FP), DI
	MOVQ ad+32(FP), R10
	MOVQ as+40(FP), R11
	MOVQ sq+48(FP), DX
	MOVQ nblk+56(FP), CX
	MOVQ out+88(FP), AX
	MOVQ ostride+96(FP), R13
	MOVL $0x00010001, BX
	VMOVD BX, X15
	VPBROADCASTD X15, Y15
	VPXOR Y0, Y0, Y0
	OUTZERO4

block8:
	VMOVDQU (SI), Y8
	VMOVDQU 32(SI), Y9
	QUAD8FIRST(0, Y0, Y1)
	QUAD8FIRST(1, Y2, Y3)
	QUAD8FIRST(2, Y4, Y5)
	QUAD8FIRST(3, Y6, Y7)
	ADDQ $64, SI
	ADDQ $32, DI
	MOVQ quads+64(FP), BX
	DECQ BX

quad8:
	VMOVDQU (SI), Y8
	VMOVDQU 32(SI), Y9
	QUAD8ADD(0, Y0, Y1)
	QUAD8ADD(1, Y2, Y3)
	QUAD8ADD(2, Y4, Y5)
	QUAD8ADD(3, Y6, Y7)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  quad8

	MOVQ bias+80(FP), BX
	TESTQ BX, BX
	JZ   nobias8
	NEGQ BX
	VMOVD BX, X9
	VPBROADCASTD X9, Y9
	SUM8(0, Y0, Y1)
	SUM8(1, Y2, Y3)
	SUM8(2, Y4, Y5)
	SUM8(3, Y6, Y7)
	JMP  fold8

nobias8: // Q4_K: no −bias·Σq term
	VPMADDWD Y15, Y0, Y0
	VPMADDWD Y15, Y1, Y1
	VPMADDWD Y15, Y2, Y2
	VPMADDWD Y15, Y3, Y3
	VPMADDWD Y15, Y4, Y4
	VPMADDWD Y15, Y5, Y5
	VPMADDWD Y15, Y6, Y6
	VPMADDWD Y15, Y7, Y7

fold8:
	CMPQ offsets+72(FP), $0
	JE   nooff8
	OUTFOLDOFF4
	JMP  next8

nooff8:
	OUTFOLD4

next8:
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $32, R10
	ADDQ $32, DX
	DECQ CX
	JNZ  block8
	VZEROUPPER
	RET

// The AVX2 8-bit kernel for Q6_K (blocks of 16 values, bias 32, no offsets): the strip's bytes u, the 6-bit
// codes (0…63) of the weights u − 32, against the tokens' 8-bit quads by VPMADDUBSW. A lane's pair of products reaches 2·63·127 =
// 16,002 (Q8_K's |q| ≤ 127), so two quads add up in 16 bits (≤ 32,004) and go to int32 at once (VPMADDWD
// against words of 1, from memory: the 16 registers are taken); a block's two pairs of quads make its
// int32 sums Σ u·q, which start at −32·Σq of the token (sq16) and fold as FOLDT does: the floats of the
// 16-bit kernel on the same integers. Y0–Y7 the int32 sums (token t's rows 0–7 and 8–15 in Y(2t),
// Y(2t+1)); Y8/Y9 and Y13/Y14 the two quads' 16 rows.

DATA onesW<>+0(SB)/8, $0x0001000100010001
DATA onesW<>+8(SB)/8, $0x0001000100010001
DATA onesW<>+16(SB)/8, $0x0001000100010001
DATA onesW<>+24(SB)/8, $0x0001000100010001
GLOBL onesW<>(SB), RODATA|NOPTR, $32

// PAIR6(a, t, A, B, FIRST): quads a and a+1 of token t (at DI + 32a + 4t) against Y8/Y9 and Y13/Y14, as
// int32 into A (rows 0–7) and B (8–15): moved there (FIRST PAIR6MOV) or added (PAIR6ADD).
#define PAIR6(a, t, A, B, FIRST) \
	VPBROADCASTD (32*(a)+4*(t))(DI), Y10 \
	VPMADDUBSW   Y10, Y8, Y11 \
	VPMADDUBSW   Y10, Y9, Y12 \
	VPBROADCASTD (32*(a)+32+4*(t))(DI), Y10 \
	VPMADDUBSW   Y10, Y13, Y15 \
	VPADDW       Y15, Y11, Y11 \
	VPMADDUBSW   Y10, Y14, Y15 \
	VPADDW       Y15, Y12, Y12 \
	VPMADDWD     onesW<>(SB), Y11, Y11 \
	VPMADDWD     onesW<>(SB), Y12, Y12 \
	FIRST(A, B)

#define PAIR6MOV(A, B) \
	VMOVDQA Y11, A \
	VMOVDQA Y12, B

#define PAIR6ADD(A, B) \
	VPADDD Y11, A, A \
	VPADDD Y12, B, B

// QUADS6(a, FIRST): quads a and a+1 of the block for the four tokens.
#define QUADS6(a, FIRST) \
	VMOVDQU (64*(a))(SI), Y8 \
	VMOVDQU (64*(a)+32)(SI), Y9 \
	VMOVDQU (64*(a)+64)(SI), Y13 \
	VMOVDQU (64*(a)+96)(SI), Y14 \
	PAIR6(a, 0, Y0, Y1, FIRST) \
	PAIR6(a, 1, Y2, Y3, FIRST) \
	PAIR6(a, 2, Y4, Y5, FIRST) \
	PAIR6(a, 3, Y6, Y7, FIRST)

// BIAS6(t, A, B): token t's sums −= 32·Σq (Σq at DX + 4t).
#define BIAS6(t, A, B) \
	VPBROADCASTD (t*4)(DX), Y10 \
	VPSLLD       $5, Y10, Y10 \
	VPSUBD       Y10, A, A \
	VPSUBD       Y10, B, B

// func gemm16x4AVX2Q6(w *uint32, ws *float32, q *uint32, ad *float32, sq *int32, nblk int, out *float32, ostride int)
// Token t's 16 results go to out + t·ostride bytes.
TEXT ·gemm16x4AVX2Q6(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ ws+8(FP), R8
	MOVQ q+16(FP), DI
	MOVQ ad+24(FP), R10
	MOVQ sq+32(FP), DX
	MOVQ nblk+40(FP), CX
	MOVQ out+48(FP), AX
	MOVQ ostride+56(FP), R13
	VPXOR Y0, Y0, Y0
	OUTZERO4

block6:
	QUADS6(0, PAIR6MOV)
	QUADS6(2, PAIR6ADD)
	BIAS6(0, Y0, Y1)
	BIAS6(1, Y2, Y3)
	BIAS6(2, Y4, Y5)
	BIAS6(3, Y6, Y7)
	OUTFOLD4
	ADDQ $256, SI
	ADDQ $128, DI
	ADDQ $64, R8
	ADDQ $32, R10
	ADDQ $32, DX
	DECQ CX
	JNZ  block6
	VZEROUPPER
	RET
