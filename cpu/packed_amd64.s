//go:build amd64 && !noasm

#include "textflag.h"
#include "tile_amd64.h"

// Kernels on packed strips (packed.go): 16 rows, one int32 lane each, against one token alone (its
// activations compact: quad j at DI + 4j, its d, start and as per block at R10, R13, R11 + 4b) or 4 or 8
// tokens of an act16 group (quad j of token t at DI + 32j + 4t, the block's d, start and as at R10, R13,
// R11 + 32b + 4t); blocks of 32 values, of 16 for Q6_K. Q4_0 and Q8_0, per block of 32: the scales to floats, the block's words
// (Q4_0: four 64-byte words split into low nibbles, values 4k…4k+3 of every row, and high nibbles,
// 16+4k…; Q8_0: eight words of u = q + 128), then per token: the int32 total starts at −bias·Σq (start
// = −8·Σq, shifted by 4 for Q8_0's bias 128), eight VPDPBUSD against broadcast activation words add Σ u·q,
// and F += s·(float(total)·d) — gemm16x16VNNI8's START, QUAD and FOLD, in the same order, so a row and
// token give the same float here as in the prompt tile. Q4_K: see its kernels below. The 16-bit kernels
// (further below) take the same weights against activations split into two bytes each (SPLIT16, TOKW).
// Z25: 0x0F in every byte.

// UNPACK(off, base, L0…L3, H0…H3): the block's words at off+base into low (L) and high (H) nibbles.
#define UNPACK(off, base, L0, L1, L2, L3, H0, H1, H2, H3) \
	VMOVDQU64 (off)base, L0 \
	VMOVDQU64 (off+64)base, L1 \
	VMOVDQU64 (off+128)base, L2 \
	VMOVDQU64 (off+192)base, L3 \
	SPLIT4(Z25, L0, L1, L2, L3, H0, H1, H2, H3)

// TOKBODY(t, aoff, soff, I, F, S, W0…W7): token t's block against the block's eight weight registers
// (W_k: quad k of the block, its quads from DI+aoff, d at R10+soff), with scales S: the int32 total I,
// started by the caller, folded into F.
#define TOKBODY(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPDPBUSD.BCST       (aoff+(t)*4)(DI), W0, I \
	VPDPBUSD.BCST       (aoff+32+(t)*4)(DI), W1, I \
	VPDPBUSD.BCST       (aoff+64+(t)*4)(DI), W2, I \
	VPDPBUSD.BCST       (aoff+96+(t)*4)(DI), W3, I \
	VPDPBUSD.BCST       (aoff+128+(t)*4)(DI), W4, I \
	VPDPBUSD.BCST       (aoff+160+(t)*4)(DI), W5, I \
	VPDPBUSD.BCST       (aoff+192+(t)*4)(DI), W6, I \
	VPDPBUSD.BCST       (aoff+224+(t)*4)(DI), W7, I \
	VCVTDQ2PS           I, I \
	VMULPS.BCST         (soff+(t)*4)(R10), I, I \
	VFMADD231PS         S, I, F

// TOK (Q4_0; W0–W3 the low nibbles, W4–W7 the high) starts I at −8·Σq (start, at R13+soff); TOKQ8 (Q8_0,
// u = q + 128) at −128·Σq = 16·start.
#define TOK(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPBROADCASTD        (soff+(t)*4)(R13), I \
	TOKBODY(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7)

#define TOKQ8(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPBROADCASTD        (soff+(t)*4)(R13), I \
	VPSLLD              $4, I, I \
	TOKBODY(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7)

// LOAD8(off, base, W0…W7): a Q8_0 block's eight words at off+base.
#define LOAD8(off, base, W0, W1, W2, W3, W4, W5, W6, W7) \
	VMOVDQU64 (off)base, W0 \
	VMOVDQU64 (off+64)base, W1 \
	VMOVDQU64 (off+128)base, W2 \
	VMOVDQU64 (off+192)base, W3 \
	VMOVDQU64 (off+256)base, W4 \
	VMOVDQU64 (off+320)base, W5 \
	VMOVDQU64 (off+384)base, W6 \
	VMOVDQU64 (off+448)base, W7

// PACKSETUP loads the arguments (w, units, q, ad, start, as, out, ostride) and the constants.
#define PACKSETUP \
	MOVQ         w+0(FP), SI \
	MOVQ         units+8(FP), CX \
	MOVQ         q+16(FP), DI \
	MOVQ         ad+24(FP), R10 \
	MOVQ         start+32(FP), R13 \
	MOVQ         as+40(FP), R11 \
	MOVL         $0x0F0F0F0F, AX \
	VPBROADCASTD AX, Z25

// NEXTPAIR advances to the next pair of blocks (step bytes of packed weights, quads, d and start) and
// loops to label.
#define NEXTPAIR(step, label) \
	ADDQ $step, SI \
	ADDQ $512, DI \
	ADDQ $64, R10 \
	ADDQ $64, R13 \
	DECQ CX \
	JNZ  label

// TOK1(h, F, I, J, S, W0…W7): TOK for block h of the pair and one token whose activations lie compact
// (quad j at DI+4j, d and start per block at R10, R13 + 4b), with the first and last four quads' products
// in two chains (I and J; the same exact total) to keep the multiply-adds busy; I started by the caller.
#define TOK1(h, F, I, J, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPXORD              J, J, J \
	VPDPBUSD.BCST       (32*h)(DI), W0, I \
	VPDPBUSD.BCST       (32*(h)+16)(DI), W4, J \
	VPDPBUSD.BCST       (32*(h)+4)(DI), W1, I \
	VPDPBUSD.BCST       (32*(h)+20)(DI), W5, J \
	VPDPBUSD.BCST       (32*(h)+8)(DI), W2, I \
	VPDPBUSD.BCST       (32*(h)+24)(DI), W6, J \
	VPDPBUSD.BCST       (32*(h)+12)(DI), W3, I \
	VPDPBUSD.BCST       (32*(h)+28)(DI), W7, J \
	VPADDD              J, I, I \
	VCVTDQ2PS           I, I \
	VMULPS.BCST         (4*h)(R10), I, I \
	VFMADD231PS         S, I, F

// BLOCK1(h, base, F, I, J, S, W0…W7): Q4_0 block h of the pair of the strip at base, one token, into F.
#define BLOCK1(h, base, F, I, J, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VCVTPH2PS           (32*h)base, S \
	UNPACK(64+256*(h), base, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPBROADCASTD        (4*h)(R13), I \
	TOK1(h, F, I, J, S, W0, W1, W2, W3, W4, W5, W6, W7)

// BLOCK1Q8 is BLOCK1 for Q8_0.
#define BLOCK1Q8(h, base, F, I, J, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VCVTPH2PS           (32*h)base, S \
	LOAD8(64+512*(h), base, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPBROADCASTD        (4*h)(R13), I \
	VPSLLD              $4, I, I \
	TOK1(h, F, I, J, S, W0, W1, W2, W3, W4, W5, W6, W7)

// PAIR1(base, F): both blocks of the pair of the strip at base, for one token, into F.
#define PAIR1(base, F) \
	BLOCK1(0, base, F, Z0, Z1, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	BLOCK1(1, base, F, Z2, Z3, Z27, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)

// PAIR1Q8 is PAIR1 for Q8_0.
#define PAIR1Q8(base, F) \
	BLOCK1Q8(0, base, F, Z0, Z1, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	BLOCK1Q8(1, base, F, Z2, Z3, Z27, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)

// NEXT1 advances the one-token kernels to the next pair of blocks (step bytes of packed weights).
#define NEXT1(step) \
	ADDQ $step, SI \
	ADDQ $64, DI \
	ADDQ $8, R10 \
	ADDQ $8, R13

// S4SETUP: PACKSETUP for a one-token kernel on four strips (stripBytes apart: the strips at SI, SI+R8,
// SI+2·R8 and R9), their sums Z4–Z7 cleared; S4PAIRS(P) runs the pair macro P on each strip; S4STORE
// stores the four sums (64 rows) at out. STORE1 stores one strip's sums, Z4.
#define S4SETUP \
	PACKSETUP \
	MOVQ   stripBytes+56(FP), R8 \
	LEAQ   (SI)(R8*2), R9 \
	ADDQ   R8, R9 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7

#define S4PAIRS(P) \
	P((SI), Z4) \
	P((SI)(R8*1), Z5) \
	P((SI)(R8*2), Z6) \
	P((R9), Z7)

#define S4STORE \
	MOVQ    out+48(FP), AX \
	VMOVUPS Z4, (AX) \
	VMOVUPS Z5, 64(AX) \
	VMOVUPS Z6, 128(AX) \
	VMOVUPS Z7, 192(AX) \
	VZEROUPPER \
	RET

#define STORE1 \
	MOVQ    out+48(FP), AX \
	VMOVUPS Z4, (AX) \
	VZEROUPPER \
	RET

// func packedQ4_0x1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x1(SB), NOSPLIT, $0-64
	PACKSETUP
	VPXORD Z4, Z4, Z4

pair1:
	PAIR1((SI), Z4)
	NEXT1(576)
	DECQ CX
	JNZ  pair1

	STORE1

// func packedQ4_0x1s4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)
// Four strips (at w + k·stripBytes) against one token: four streams of memory at
// once, which one core needs to keep its share of the bandwidth busy. Their 64 results go to out.
TEXT ·packedQ4_0x1s4(SB), NOSPLIT, $0-64
	S4SETUP

pair1s4:
	S4PAIRS(PAIR1)
	NEXT1(576)
	ADDQ $576, R9
	DECQ CX
	JNZ  pair1s4

	S4STORE

// BLOCKT4(h, W, woff, T): block h of the pair for four tokens, into Z8–Z11: its scales, its words (W at
// woff: UNPACK or LOAD8) and each token (T: TOK or TOKQ8). BLOCK4 is Q4_0's, BLOCK4Q8 Q8_0's.
#define BLOCKT4(h, W, woff, T) \
	VCVTPH2PS (32*(h))(SI), Z24 \
	W(woff, (SI), Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(0, 256*(h), 32*(h), Z0, Z8, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(1, 256*(h), 32*(h), Z1, Z9, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(2, 256*(h), 32*(h), Z2, Z10, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(3, 256*(h), 32*(h), Z3, Z11, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

// BLOCKT8(h, W, woff, T): BLOCKT4 for eight tokens, into Z8–Z15.
#define BLOCKT8(h, W, woff, T) \
	BLOCKT4(h, W, woff, T) \
	T(4, 256*(h), 32*(h), Z4, Z12, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(5, 256*(h), 32*(h), Z5, Z13, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(6, 256*(h), 32*(h), Z6, Z14, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	T(7, 256*(h), 32*(h), Z7, Z15, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

#define BLOCK4(h) BLOCKT4(h, UNPACK, 64+256*(h), TOK)

// func packedQ4_0x4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x4(SB), NOSPLIT, $0-64
	PACKSETUP
	ZERO4

pair4:
	BLOCK4(0)
	BLOCK4(1)
	NEXTPAIR(576, pair4)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STORE4
	VZEROUPPER
	RET

// The eight-token kernels at 8 bits go quad by quad: each weight quad against the eight tokens of the
// group, eight independent multiply-adds in a row, rather than token by token (each token's eight a
// chain): in cache, one thread, Q4_0 5.93 → 5.71 µs for 64 rows × 2048 (BenchmarkPackedKernel, three
// alternated pairs), about 82 cycles for 16 rows × 32 values × 8 tokens, where the multiply-adds (64)
// and the folds' multiplies (16) on the same two pipes need 80.

// QUADS(qoff, W, I0…I7): quad W against the group's eight tokens (their words at DI+qoff, token t's at
// +4t), into their sums I0…I7. STARTS(soff, I0…I7) starts the sums at the tokens' starts (R13+soff).
// FOLD(t, soff, I, F, S): token t's total I folded into its sum F with the weights' scales S and its d
// (R10+soff). The eight-token kernels of every packed type at 8 bits use them, each with the registers
// its other macros leave free.
#define QUADS(qoff, W, I0, I1, I2, I3, I4, I5, I6, I7) \
	VPDPBUSD.BCST (qoff)(DI), W, I0 \
	VPDPBUSD.BCST (qoff+4)(DI), W, I1 \
	VPDPBUSD.BCST (qoff+8)(DI), W, I2 \
	VPDPBUSD.BCST (qoff+12)(DI), W, I3 \
	VPDPBUSD.BCST (qoff+16)(DI), W, I4 \
	VPDPBUSD.BCST (qoff+20)(DI), W, I5 \
	VPDPBUSD.BCST (qoff+24)(DI), W, I6 \
	VPDPBUSD.BCST (qoff+28)(DI), W, I7

#define STARTS(soff, I0, I1, I2, I3, I4, I5, I6, I7) \
	VPBROADCASTD (soff)(R13), I0 \
	VPBROADCASTD (soff+4)(R13), I1 \
	VPBROADCASTD (soff+8)(R13), I2 \
	VPBROADCASTD (soff+12)(R13), I3 \
	VPBROADCASTD (soff+16)(R13), I4 \
	VPBROADCASTD (soff+20)(R13), I5 \
	VPBROADCASTD (soff+24)(R13), I6 \
	VPBROADCASTD (soff+28)(R13), I7

#define FOLD(t, soff, I, F, S) \
	VCVTDQ2PS   I, I \
	VMULPS.BCST (soff+(t)*4)(R10), I, I \
	VFMADD231PS S, I, F

// QUAD8 and START8 for Q4_0 and Q8_0: the sums in Z0–Z7; START8Q8 starts them at 16 times the start
// (Q8_0: u = q + 128).
#define QUAD8(qoff, W) QUADS(qoff, W, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
#define START8(soff) STARTS(soff, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)

#define START8Q8(soff) \
	START8(soff) \
	VPSLLD $4, Z0, Z0 \
	VPSLLD $4, Z1, Z1 \
	VPSLLD $4, Z2, Z2 \
	VPSLLD $4, Z3, Z3 \
	VPSLLD $4, Z4, Z4 \
	VPSLLD $4, Z5, Z5 \
	VPSLLD $4, Z6, Z6 \
	VPSLLD $4, Z7, Z7

// FOLD8(soff): each token's total Z0–Z7 folded into its sums Z8–Z15 with the weights' scales Z24.
#define FOLD8(soff) \
	FOLD(0, soff, Z0, Z8, Z24) \
	FOLD(1, soff, Z1, Z9, Z24) \
	FOLD(2, soff, Z2, Z10, Z24) \
	FOLD(3, soff, Z3, Z11, Z24) \
	FOLD(4, soff, Z4, Z12, Z24) \
	FOLD(5, soff, Z5, Z13, Z24) \
	FOLD(6, soff, Z6, Z14, Z24) \
	FOLD(7, soff, Z7, Z15, Z24)

// QUADS8(a, Q): a block's eight quads Z16–Z23 (the tokens' words of quad k at DI+a+32k) through Q (QUAD8,
// QUAD8K).
#define QUADS8(a, Q) \
	Q(a, Z16) \
	Q(a+32, Z17) \
	Q(a+64, Z18) \
	Q(a+96, Z19) \
	Q(a+128, Z20) \
	Q(a+160, Z21) \
	Q(a+192, Z22) \
	Q(a+224, Z23)

// BLOCKQ8(h, W, woff, START): block h of the pair against the group's eight tokens, into Z8–Z15: its
// scales, its quads (W at woff: UNPACK or LOAD8), the sums started (START: START8 or START8Q8).
#define BLOCKQ8(h, W, woff, START) \
	VCVTPH2PS (32*(h))(SI), Z24 \
	W(woff, (SI), Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	START(32*(h)) \
	QUADS8(256*(h), QUAD8) \
	FOLD8(32*(h))

#define BLOCK8(h) BLOCKQ8(h, UNPACK, 64+256*(h), START8)

// func packedQ4_0x8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x8(SB), NOSPLIT, $0-64
	PACKSETUP
	ZEROALL

pair8:
	BLOCK8(0)
	BLOCK8(1)
	NEXTPAIR(576, pair8)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The Q8_0 kernels: the Q4_0 ones with eight words a block loaded as they are (no nibbles) and the block
// sums started at −128·Σq.

// func packedQ8_0x1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ8_0x1(SB), NOSPLIT, $0-64
	PACKSETUP
	VPXORD Z4, Z4, Z4

q8pair1:
	PAIR1Q8((SI), Z4)
	NEXT1(1088)
	DECQ CX
	JNZ  q8pair1

	STORE1

// func packedQ8_0x1s4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)
TEXT ·packedQ8_0x1s4(SB), NOSPLIT, $0-64
	S4SETUP

q8pair1s4:
	S4PAIRS(PAIR1Q8)
	NEXT1(1088)
	ADDQ $1088, R9
	DECQ CX
	JNZ  q8pair1s4

	S4STORE

#define BLOCK4Q8(h) BLOCKT4(h, LOAD8, 64+512*(h), TOKQ8)

// func packedQ8_0x4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ8_0x4(SB), NOSPLIT, $0-64
	PACKSETUP
	ZERO4

q8pair4:
	BLOCK4Q8(0)
	BLOCK4Q8(1)
	NEXTPAIR(1088, q8pair4)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STORE4
	VZEROUPPER
	RET

#define BLOCK8Q8(h) BLOCKQ8(h, LOAD8, 64+512*(h), START8Q8)

// func packedQ8_0x8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ8_0x8(SB), NOSPLIT, $0-64
	PACKSETUP
	ZEROALL

q8pair8:
	BLOCK8Q8(0)
	BLOCK8Q8(1)
	NEXTPAIR(1088, q8pair8)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The Q4_K kernels (units of one super-block, q4kPackBytes = 2368 bytes a strip): per sub-block j of 32,
// the rows' s = d·sc and o = dmin·m as the tiles compute them (Q4KSCALES; d and dmin in Z4 and Z5), the
// chunk's low or high nibbles (Q4KLO, Q4KHI: sub-blocks 2c and 2c+1) in Z16–Z23, then per token the
// int32 sum Σ u·q from zero and F += s·(float(sum)·d_x), F += o·as (as = −d_x·Σq at R11) — the tile's
// FOLD and OFFSET.

// Q4KSCALES(j, base, S, O): sub-block j's s and o of the unit's 16 rows at base.
#define Q4KSCALES(j, base, S, O) \
	VPMOVZXBD (64+16*j)base, S \
	VCVTDQ2PS S, S \
	VMULPS    Z4, S, S \
	VPMOVZXBD (192+16*j)base, O \
	VCVTDQ2PS O, O \
	VMULPS    Z5, O, O

// Q4KMASK(c, base, M): chunk c's eight words masked by M into Z16–Z23; Q4KLO: its low nibbles (sub-block
// 2c), by Z25 = 0x0F in every byte.
#define Q4KMASK(c, base, M) \
	VPANDD (320+512*c)base, M, Z16 \
	VPANDD (384+512*c)base, M, Z17 \
	VPANDD (448+512*c)base, M, Z18 \
	VPANDD (512+512*c)base, M, Z19 \
	VPANDD (576+512*c)base, M, Z20 \
	VPANDD (640+512*c)base, M, Z21 \
	VPANDD (704+512*c)base, M, Z22 \
	VPANDD (768+512*c)base, M, Z23

#define Q4KLO(c, base) Q4KMASK(c, base, Z25)

// Q4KHI(c, base): chunk c's high nibbles (sub-block 2c+1) into Z16–Z23.
#define Q4KHI(c, base) \
	VPSRLW $4, (320+512*c)base, Z16 \
	VPSRLW $4, (384+512*c)base, Z17 \
	VPSRLW $4, (448+512*c)base, Z18 \
	VPSRLW $4, (512+512*c)base, Z19 \
	VPSRLW $4, (576+512*c)base, Z20 \
	VPSRLW $4, (640+512*c)base, Z21 \
	VPSRLW $4, (704+512*c)base, Z22 \
	VPSRLW $4, (768+512*c)base, Z23 \
	VPANDD Z25, Z16, Z16 \
	VPANDD Z25, Z17, Z17 \
	VPANDD Z25, Z18, Z18 \
	VPANDD Z25, Z19, Z19 \
	VPANDD Z25, Z20, Z20 \
	VPANDD Z25, Z21, Z21 \
	VPANDD Z25, Z22, Z22 \
	VPANDD Z25, Z23, Z23

// Q4KHI16(c, base): chunk c's high nibbles (sub-block 2c+1) into Z16–Z23 as they lie, 16 times the value
// (masked by Z26 = 0xF0 in every byte, not shifted: one instruction a word instead of two).
#define Q4KHI16(c, base) Q4KMASK(c, base, Z26)

// TOKK(t, j, I, F, S, O): token t of a group against sub-block j (its quads at DI + 256j, d and as at
// R10, R11 + 32j).
#define TOKK(t, j, I, F, S, O) \
	VPXORD              I, I, I \
	TOKBODY(t, 256*(j), 32*(j), I, F, S, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	VFMADD231PS.BCST    (32*(j)+(t)*4)(R11), O, F

// TOK1K(j, F, I, J, S, O): one token alone against sub-block j (quads at DI + 32j, d and as at R10, R11
// + 4j), in two chains as TOK1.
#define TOK1K(j, F, I, J, S, O) TOK1KS(j, F, I, J, S, O, 0)

// TOK1KS is TOK1K with the sum shifted right by sh bits first (4 for Q4KHI16's sixteenfold values).
#define TOK1KS(j, F, I, J, S, O, sh) \
	VPXORD              I, I, I \
	VPXORD              J, J, J \
	VPDPBUSD.BCST       (32*j)(DI), Z16, I \
	VPDPBUSD.BCST       (32*(j)+16)(DI), Z20, J \
	VPDPBUSD.BCST       (32*(j)+4)(DI), Z17, I \
	VPDPBUSD.BCST       (32*(j)+20)(DI), Z21, J \
	VPDPBUSD.BCST       (32*(j)+8)(DI), Z18, I \
	VPDPBUSD.BCST       (32*(j)+24)(DI), Z22, J \
	VPDPBUSD.BCST       (32*(j)+12)(DI), Z19, I \
	VPDPBUSD.BCST       (32*(j)+28)(DI), Z23, J \
	VPADDD              J, I, I \
	VPSRAD              $sh, I, I \
	VCVTDQ2PS           I, I \
	VMULPS.BCST         (4*j)(R10), I, I \
	VFMADD231PS         S, I, F \
	VFMADD231PS.BCST    (4*j)(R11), O, F

// SUB1KLO(j, c, base, F), SUB1KHI: sub-block j (low or high nibbles of chunk c) of the unit at base for
// one token, into F; two register sets by j's parity, so that one sub-block's scales and sums need not
// wait for the last one's.
#define SUB1KLO(j, c, base, F) \
	Q4KLO(c, base) \
	Q4KSCALES(j, base, Z2, Z3) \
	TOK1K(j, F, Z0, Z1, Z2, Z3)

#define SUB1KHI(j, c, base, F) \
	Q4KHI16(c, base) \
	Q4KSCALES(j, base, Z6, Z7) \
	TOK1KS(j, F, Z8, Z9, Z6, Z7, 4)

// UNIT1K(base, F): the unit of the strip at base against one token, into F.
#define UNIT1K(base, F) \
	VCVTPH2PS (0)base, Z4 \
	VCVTPH2PS (32)base, Z5 \
	SUB1KLO(0, 0, base, F) \
	SUB1KHI(1, 0, base, F) \
	SUB1KLO(2, 1, base, F) \
	SUB1KHI(3, 1, base, F) \
	SUB1KLO(4, 2, base, F) \
	SUB1KHI(5, 2, base, F) \
	SUB1KLO(6, 3, base, F) \
	SUB1KHI(7, 3, base, F)

// NEXT1K advances the one-token kernels to the next super-block.
#define NEXT1K \
	ADDQ $2368, SI \
	ADDQ $256, DI \
	ADDQ $32, R10 \
	ADDQ $32, R11

// func packedQ4_Kx1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx1(SB), NOSPLIT, $0-64
	PACKSETUP
	MOVL         $0xF0F0F0F0, AX
	VPBROADCASTD AX, Z26
	VPXORD Z10, Z10, Z10

k1:
	UNIT1K((SI), Z10)
	NEXT1K
	DECQ CX
	JNZ  k1

	MOVQ    out+48(FP), AX
	VMOVUPS Z10, (AX)
	VZEROUPPER
	RET

// SUBK4(j): sub-block j (its nibbles in Z16–Z23) for four tokens of a group, into Z8–Z11.
#define SUBK4(j) \
	Q4KSCALES(j, (SI), Z2, Z3) \
	TOKK(0, j, Z0, Z8, Z2, Z3) \
	TOKK(1, j, Z1, Z9, Z2, Z3) \
	TOKK(2, j, Z6, Z10, Z2, Z3) \
	TOKK(3, j, Z7, Z11, Z2, Z3)

// SUBK8Q(j): sub-block j for the eight tokens of a group, into Z8–Z15, quad by quad as the eight-token
// Q4_0 kernel goes (QUAD8): each of the sub-block's quads against the eight tokens, their sums in Z0, Z1,
// Z6, Z7, Z26–Z29, then each token folded as TOKK folds it (the same floats). In cache, one thread
// (BenchmarkPackedKernel, three alternated pairs): 6.83/6.86/7.13 → 6.67/6.67/6.65 µs, against token by
// token (SUBK4's order for eight).
#define QUAD8K(qoff, W) QUADS(qoff, W, Z0, Z1, Z6, Z7, Z26, Z27, Z28, Z29)

#define FOLDK1(t, soff, I, F) \
	FOLD(t, soff, I, F, Z2) \
	VFMADD231PS.BCST (soff+(t)*4)(R11), Z3, F

#define SUBK8Q(j) \
	Q4KSCALES(j, (SI), Z2, Z3) \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z26, Z26, Z26 \
	VPXORD Z27, Z27, Z27 \
	VPXORD Z28, Z28, Z28 \
	VPXORD Z29, Z29, Z29 \
	QUADS8(256*(j), QUAD8K) \
	FOLDK1(0, 32*(j), Z0, Z8) \
	FOLDK1(1, 32*(j), Z1, Z9) \
	FOLDK1(2, 32*(j), Z6, Z10) \
	FOLDK1(3, 32*(j), Z7, Z11) \
	FOLDK1(4, 32*(j), Z26, Z12) \
	FOLDK1(5, 32*(j), Z27, Z13) \
	FOLDK1(6, 32*(j), Z28, Z14) \
	FOLDK1(7, 32*(j), Z29, Z15)

// NEXTK advances the group kernels to the next super-block and loops to label.
#define NEXTK(label) \
	ADDQ $2368, SI \
	ADDQ $2048, DI \
	ADDQ $256, R10 \
	ADDQ $256, R11 \
	DECQ CX \
	JNZ  label

// func packedQ4_Kx4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx4(SB), NOSPLIT, $0-64
	PACKSETUP
	ZERO4

k4:
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	Q4KLO(0, (SI))
	SUBK4(0)
	Q4KHI(0, (SI))
	SUBK4(1)
	Q4KLO(1, (SI))
	SUBK4(2)
	Q4KHI(1, (SI))
	SUBK4(3)
	Q4KLO(2, (SI))
	SUBK4(4)
	Q4KHI(2, (SI))
	SUBK4(5)
	Q4KLO(3, (SI))
	SUBK4(6)
	Q4KHI(3, (SI))
	SUBK4(7)
	NEXTK(k4)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STORE4
	VZEROUPPER
	RET

// func packedQ4_Kx8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx8(SB), NOSPLIT, $0-64
	PACKSETUP
	ZEROALL

k8:
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	Q4KLO(0, (SI))
	SUBK8Q(0)
	Q4KHI(0, (SI))
	SUBK8Q(1)
	Q4KLO(1, (SI))
	SUBK8Q(2)
	Q4KHI(1, (SI))
	SUBK8Q(3)
	Q4KLO(2, (SI))
	SUBK8Q(4)
	Q4KHI(2, (SI))
	SUBK8Q(5)
	Q4KLO(3, (SI))
	SUBK8Q(6)
	Q4KHI(3, (SI))
	SUBK8Q(7)
	NEXTK(k8)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The Q6_K kernels (units of one super-block, q6kPackBytes = 3392 bytes a unit): for each half n and
// group g of 32 values, the eight words of values u = low 4 bits | top 2 bits << 4 (B6G0…B6G3 by g: which
// nibble of ql, how far qh's bits move to bits 4–5) in Z16–Z23, then its two sub-blocks of 16 (their
// s = d·sc, SC6) per token: the int32 sum from start16 = −32·Σq, four VPDPBUSD, F += s·(float(sum)·d_x)
// — the tile's START, QUAD and FOLD on blocks of 16. d in Z4; Z25: 0x0F, Z26: 0x30 in every byte.

// SC6(j, base, S): sub-block j's s = d·sc of the unit's 16 rows.
#define SC6(j, base, S) \
	VPMOVSXBD (64+16*(j))base, S \
	VCVTDQ2PS S, S \
	VMULPS    Z4, S, S

// B6G0W(q, h, base, U): U = low nibble of the ql word at q | (the qh word at h << 4) & 0x30 (g = 0);
// B6G1W: qh << 2 (g = 1); B6G2W: the ql high nibble, qh as it is (g = 2); B6G3W: high nibble, qh >> 2.
// (Shifting 16-bit words moves bits across bytes only outside the 0x30 mask.)
#define B6G0W(q, h, base, U) \
	VPANDD     (q)base, Z25, U \
	VPSLLW     $4, (h)base, Z27 \
	VPTERNLOGD $0xF8, Z26, Z27, U

#define B6G1W(q, h, base, U) \
	VPANDD     (q)base, Z25, U \
	VPSLLW     $2, (h)base, Z27 \
	VPTERNLOGD $0xF8, Z26, Z27, U

#define B6G2W(q, h, base, U) \
	VPSRLW     $4, (q)base, U \
	VPANDD     Z25, U, U \
	VPTERNLOGD $0xF8, (h)base, Z26, U

#define B6G3W(q, h, base, U) \
	VPSRLW     $4, (q)base, U \
	VPANDD     Z25, U, U \
	VPSRLW     $2, (h)base, Z27 \
	VPTERNLOGD $0xF8, Z26, Z27, U

// B6G(W, q, qs, h, base): the group's eight words built by W (B6G0W…B6G3W by g; ql words from q, qs bytes
// apart, qh words from h, 128 bytes apart: q6kQL, q6kQH) into Z16–Z23.
#define B6G(W, q, qs, h, base) \
	W(q, h, base, Z16) \
	W(q+(qs), h+128, base, Z17) \
	W(q+2*(qs), h+256, base, Z18) \
	W(q+3*(qs), h+384, base, Z19) \
	W(q+4*(qs), h+512, base, Z20) \
	W(q+5*(qs), h+640, base, Z21) \
	W(q+6*(qs), h+768, base, Z22) \
	W(q+7*(qs), h+896, base, Z23)

// B6Gg(n, base): group g of half n (ql words 0–7, 128 bytes apart between the qh words, for g = 0 and 2;
// 8–15, 64 apart after them, for g = 1 and 3).
#define B6G0(n, base) B6G(B6G0W, 320+1536*(n), 128, 384+1536*(n), base)
#define B6G1(n, base) B6G(B6G1W, 1344+1536*(n), 64, 384+1536*(n), base)
#define B6G2(n, base) B6G(B6G2W, 320+1536*(n), 128, 384+1536*(n), base)
#define B6G3(n, base) B6G(B6G3W, 1344+1536*(n), 64, 384+1536*(n), base)

// TOK6(t, a, b, I, F, S, W0…W3): token t of a group against one sub-block of 16 (its quads at DI+a, its
// d and start at R10, R13 + b).
#define TOK6(t, a, b, I, F, S, W0, W1, W2, W3) \
	VPBROADCASTD  (b+(t)*4)(R13), I \
	VPDPBUSD.BCST (a+(t)*4)(DI), W0, I \
	VPDPBUSD.BCST (a+32+(t)*4)(DI), W1, I \
	VPDPBUSD.BCST (a+64+(t)*4)(DI), W2, I \
	VPDPBUSD.BCST (a+96+(t)*4)(DI), W3, I \
	VCVTDQ2PS     I, I \
	VMULPS.BCST   (b+(t)*4)(R10), I, I \
	VFMADD231PS   S, I, F

// TOK6C: TOK6 for one token alone (quads 4 bytes apart).
#define TOK6C(a, b, I, F, S, W0, W1, W2, W3) \
	VPBROADCASTD  (b)(R13), I \
	VPDPBUSD.BCST (a)(DI), W0, I \
	VPDPBUSD.BCST (a+4)(DI), W1, I \
	VPDPBUSD.BCST (a+8)(DI), W2, I \
	VPDPBUSD.BCST (a+12)(DI), W3, I \
	VCVTDQ2PS     I, I \
	VMULPS.BCST   (b)(R10), I, I \
	VFMADD231PS   S, I, F

// PF7(off, base): prefetches seven cache lines from off+base into the L2 cache (PREFETCHT1). Into L1
// (PREFETCHT0) the prefetches hold the line fill buffers the kernel's own loads need: 2-core AMD EPYC,
// one thread, alternated runs of `llamago bench -p 0 -n 64 -t 1` on TinyLlama-shape Q4_K_M, the Q6_K
// ffn_down matrices streamed at 14.2/13.5 → 19.3/18.9 GB/s (BenchmarkGemvStream Q6_K 16 bits: 11.8/14.3
// → 19.6/18.7 GB/s; without prefetches 11.7–11.8; farther ahead, 4 or 8 units, no better).
#define PF7(off, base) \
	PREFETCHT1 (off)base \
	PREFETCHT1 (off+64)base \
	PREFETCHT1 (off+128)base \
	PREFETCHT1 (off+192)base \
	PREFETCHT1 (off+256)base \
	PREFETCHT1 (off+320)base \
	PREFETCHT1 (off+384)base

// GRP1(n, g, j, base, F): group g of half n (sub-blocks j and j+1 = 8n+2g, +1) of the strip at base for
// one token, its words already in Z16–Z23; and an eighth of the unit two ahead asked for (the hardware
// alone does not keep the stream full while a unit takes this long: the kernel reads each ql line twice
// and each qh line four times, in the order of the layout's first reads but not straight through).
#define GRP1(n, g, j, base, F) \
	PF7(2*3392+448*(4*(n)+g), base) \
	SC6(j, base, Z2) \
	SC6(j+1, base, Z3) \
	TOK6C(128*(n)+32*(g), 4*(j), Z0, F, Z2, Z16, Z17, Z18, Z19) \
	TOK6C(128*(n)+32*(g)+16, 4*(j)+4, Z1, F, Z3, Z20, Z21, Z22, Z23)

// UNIT6(base, F): the unit of the strip at base against one token, into F.
#define UNIT6(base, F) \
	VCVTPH2PS (0)base, Z4 \
	B6G0(0, base) \
	GRP1(0, 0, 0, base, F) \
	B6G1(0, base) \
	GRP1(0, 1, 2, base, F) \
	B6G2(0, base) \
	GRP1(0, 2, 4, base, F) \
	B6G3(0, base) \
	GRP1(0, 3, 6, base, F) \
	B6G0(1, base) \
	GRP1(1, 0, 8, base, F) \
	B6G1(1, base) \
	GRP1(1, 1, 10, base, F) \
	B6G2(1, base) \
	GRP1(1, 2, 12, base, F) \
	B6G3(1, base) \
	GRP1(1, 3, 14, base, F)

// Q6SETUP: PACKSETUP and the 0x30 mask.
#define Q6SETUP \
	PACKSETUP \
	MOVL         $0x30303030, AX \
	VPBROADCASTD AX, Z26

// NEXT6C advances the one-token kernels to the next super-block.
#define NEXT6C \
	ADDQ $3392, SI \
	ADDQ $256, DI \
	ADDQ $64, R10 \
	ADDQ $64, R13

// func packedQ6_Kx1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx1(SB), NOSPLIT, $0-64
	Q6SETUP
	VPXORD Z10, Z10, Z10

q6k1:
	UNIT6((SI), Z10)
	NEXT6C
	DECQ CX
	JNZ  q6k1

	MOVQ    out+48(FP), AX
	VMOVUPS Z10, (AX)
	VZEROUPPER
	RET

// The 16-bit one-token kernel for packed Q6_K: UNIT6's rebuilt 6-bit values against the token's split
// quads (lo at DI + 8k, hi at DI + 8k + 4, as SPLIT16 takes them; d and start = −32·Σq per sub-block of 16
// at R10, R13 + 4j): Σ u·lo from the start and 256·Σ u·hi, the 16-bit tile's integer, folded as it folds.

// TOK6W(a, b, I, J, F, S, W0…W3): one sub-block of 16 (its split quads at DI+a) into F; J a spare register.
#define TOK6W(a, b, I, J, F, S, W0, W1, W2, W3) \
	VPBROADCASTD  (b)(R13), I \
	VPXORD        J, J, J \
	VPDPBUSD.BCST (a)(DI), W0, I \
	VPDPBUSD.BCST (a+4)(DI), W0, J \
	VPDPBUSD.BCST (a+8)(DI), W1, I \
	VPDPBUSD.BCST (a+12)(DI), W1, J \
	VPDPBUSD.BCST (a+16)(DI), W2, I \
	VPDPBUSD.BCST (a+20)(DI), W2, J \
	VPDPBUSD.BCST (a+24)(DI), W3, I \
	VPDPBUSD.BCST (a+28)(DI), W3, J \
	VPSLLD        $8, J, J \
	VPADDD        J, I, I \
	VCVTDQ2PS     I, I \
	VMULPS.BCST   (b)(R10), I, I \
	VFMADD231PS   S, I, F

// GRP1W(n, g, j, F): GRP1 at 16 bits, for the strip at SI.
#define GRP1W(n, g, j, F) \
	PF7(2*3392+448*(4*(n)+g), (SI)) \
	SC6(j, (SI), Z2) \
	SC6(j+1, (SI), Z3) \
	TOK6W(256*(n)+64*(g), 4*(j), Z0, Z5, F, Z2, Z16, Z17, Z18, Z19) \
	TOK6W(256*(n)+64*(g)+32, 4*(j)+4, Z1, Z6, F, Z3, Z20, Z21, Z22, Z23)

// func packedQ6_Kx1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx1w(SB), NOSPLIT, $0-64
	Q6SETUP
	VPXORD Z10, Z10, Z10

q6kw1:
	VCVTPH2PS (SI), Z4
	B6G0(0, (SI))
	GRP1W(0, 0, 0, Z10)
	B6G1(0, (SI))
	GRP1W(0, 1, 2, Z10)
	B6G2(0, (SI))
	GRP1W(0, 2, 4, Z10)
	B6G3(0, (SI))
	GRP1W(0, 3, 6, Z10)
	B6G0(1, (SI))
	GRP1W(1, 0, 8, Z10)
	B6G1(1, (SI))
	GRP1W(1, 1, 10, Z10)
	B6G2(1, (SI))
	GRP1W(1, 2, 12, Z10)
	B6G3(1, (SI))
	GRP1W(1, 3, 14, Z10)
	ADDQ $3392, SI
	ADDQ $512, DI
	ADDQ $64, R10
	ADDQ $64, R13
	DECQ CX
	JNZ  q6kw1

	MOVQ    out+48(FP), AX
	VMOVUPS Z10, (AX)
	VZEROUPPER
	RET

// GRP4T(n, g, j, T): group g of half n (sub-blocks j, j+1) for four tokens of a group, into Z8–Z11, each
// token's sub-block by T (TOK6; TOK6W8 at 16 bits). GRP4 and GRP8 are the 8-bit ones.
#define GRP4T(n, g, j, T) \
	SC6(j, (SI), Z2) \
	SC6(j+1, (SI), Z3) \
	T(0, 1024*(n)+256*(g), 32*(j), Z0, Z8, Z2, Z16, Z17, Z18, Z19) \
	T(0, 1024*(n)+256*(g)+128, 32*(j)+32, Z1, Z8, Z3, Z20, Z21, Z22, Z23) \
	T(1, 1024*(n)+256*(g), 32*(j), Z5, Z9, Z2, Z16, Z17, Z18, Z19) \
	T(1, 1024*(n)+256*(g)+128, 32*(j)+32, Z6, Z9, Z3, Z20, Z21, Z22, Z23) \
	T(2, 1024*(n)+256*(g), 32*(j), Z0, Z10, Z2, Z16, Z17, Z18, Z19) \
	T(2, 1024*(n)+256*(g)+128, 32*(j)+32, Z1, Z10, Z3, Z20, Z21, Z22, Z23) \
	T(3, 1024*(n)+256*(g), 32*(j), Z5, Z11, Z2, Z16, Z17, Z18, Z19) \
	T(3, 1024*(n)+256*(g)+128, 32*(j)+32, Z6, Z11, Z3, Z20, Z21, Z22, Z23)

// GRP8T(n, g, j, T): GRP4T for eight tokens, into Z8–Z15.
#define GRP8T(n, g, j, T) \
	GRP4T(n, g, j, T) \
	T(4, 1024*(n)+256*(g), 32*(j), Z0, Z12, Z2, Z16, Z17, Z18, Z19) \
	T(4, 1024*(n)+256*(g)+128, 32*(j)+32, Z1, Z12, Z3, Z20, Z21, Z22, Z23) \
	T(5, 1024*(n)+256*(g), 32*(j), Z5, Z13, Z2, Z16, Z17, Z18, Z19) \
	T(5, 1024*(n)+256*(g)+128, 32*(j)+32, Z6, Z13, Z3, Z20, Z21, Z22, Z23) \
	T(6, 1024*(n)+256*(g), 32*(j), Z0, Z14, Z2, Z16, Z17, Z18, Z19) \
	T(6, 1024*(n)+256*(g)+128, 32*(j)+32, Z1, Z14, Z3, Z20, Z21, Z22, Z23) \
	T(7, 1024*(n)+256*(g), 32*(j), Z5, Z15, Z2, Z16, Z17, Z18, Z19) \
	T(7, 1024*(n)+256*(g)+128, 32*(j)+32, Z6, Z15, Z3, Z20, Z21, Z22, Z23)

#define GRP4(n, g, j) GRP4T(n, g, j, TOK6)

// GRP8(n, g, j): GRP8T for TOK6 quad by quad, as the eight-token Q4_0 kernel goes (QUAD8): for each block
// of 16, each of its quads against the eight tokens (sums in Z0, Z1, Z5, Z6, Z7, Z24, Z28, Z29), then each
// token folded as TOK6 folds it (the same floats, in the same order per token). In cache, one thread
// (BenchmarkPackedKernel, three alternated pairs): 7.63/7.43/7.42 → 7.24/7.12/7.08 µs, against GRP8T(TOK6).
#define QUAD8Q6(qoff, W) QUADS(qoff, W, Z0, Z1, Z5, Z6, Z7, Z24, Z28, Z29)

#define HALF8(a, b, S, W0, W1, W2, W3) \
	STARTS(b, Z0, Z1, Z5, Z6, Z7, Z24, Z28, Z29) \
	QUAD8Q6(a, W0) \
	QUAD8Q6(a+32, W1) \
	QUAD8Q6(a+64, W2) \
	QUAD8Q6(a+96, W3) \
	FOLD(0, b, Z0, Z8, S) \
	FOLD(1, b, Z1, Z9, S) \
	FOLD(2, b, Z5, Z10, S) \
	FOLD(3, b, Z6, Z11, S) \
	FOLD(4, b, Z7, Z12, S) \
	FOLD(5, b, Z24, Z13, S) \
	FOLD(6, b, Z28, Z14, S) \
	FOLD(7, b, Z29, Z15, S)

#define GRP8(n, g, j) \
	SC6(j, (SI), Z2) \
	SC6(j+1, (SI), Z3) \
	HALF8(1024*(n)+256*(g), 32*(j), Z2, Z16, Z17, Z18, Z19) \
	HALF8(1024*(n)+256*(g)+128, 32*(j)+32, Z3, Z20, Z21, Z22, Z23)

// NEXT6 advances the group kernels to the next super-block and loops to label.
#define NEXT6(label) \
	ADDQ $3392, SI \
	ADDQ $2048, DI \
	ADDQ $512, R10 \
	ADDQ $512, R13 \
	DECQ CX \
	JNZ  label

// func packedQ6_Kx4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx4(SB), NOSPLIT, $0-64
	Q6SETUP
	ZERO4

q6k4:
	VCVTPH2PS (SI), Z4
	B6G0(0, (SI))
	GRP4(0, 0, 0)
	B6G1(0, (SI))
	GRP4(0, 1, 2)
	B6G2(0, (SI))
	GRP4(0, 2, 4)
	B6G3(0, (SI))
	GRP4(0, 3, 6)
	B6G0(1, (SI))
	GRP4(1, 0, 8)
	B6G1(1, (SI))
	GRP4(1, 1, 10)
	B6G2(1, (SI))
	GRP4(1, 2, 12)
	B6G3(1, (SI))
	GRP4(1, 3, 14)
	NEXT6(q6k4)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STORE4
	VZEROUPPER
	RET

// func packedQ6_Kx8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx8(SB), NOSPLIT, $0-64
	Q6SETUP
	ZEROALL

q6k8:
	VCVTPH2PS (SI), Z4
	B6G0(0, (SI))
	GRP8(0, 0, 0)
	B6G1(0, (SI))
	GRP8(0, 1, 2)
	B6G2(0, (SI))
	GRP8(0, 2, 4)
	B6G3(0, (SI))
	GRP8(0, 3, 6)
	B6G0(1, (SI))
	GRP8(1, 0, 8)
	B6G1(1, (SI))
	GRP8(1, 1, 10)
	B6G2(1, (SI))
	GRP8(1, 2, 12)
	B6G3(1, (SI))
	GRP8(1, 3, 14)
	NEXT6(q6k8)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The 16-bit one-token kernels for packed Q4_0 (llamago's default precision): the activations are a
// token's 16-bit values alone, each split into bytes (q = 256·hi + lo, lo and hi signed: act16's q16c), quad
// k of a block (values 4k…4k+3) as two words at DI + 8k (the four lo) and DI + 8k + 4 (the four hi); d and
// start = −8·Σq per block at R10, R13 + 4b. The weights' bytes stay as the 8-bit kernels hold them (u, one
// quad of each row a lane), and two VPDPBUSD per quad against the broadcast lo and hi words give two
// exact sums, Σ u·lo from the start and Σ u·hi from zero; 256·(the second) + the first is the same int32
// as the 16-bit tile's Σ (u−8)·q, folded as it folds. (Nothing is widened: half the instructions of
// int16 pairs.)

// SPLIT16(off): the eight quads Z16–Z23 of the block against the token's split quads at DI + off, Σ u·lo
// into Z0 (started by the caller) and Σ u·hi into Z1 (from zero), then Z0 += 256·Z1.
#define SPLIT16(off) \
	VPXORD              Z1, Z1, Z1 \
	VPDPBUSD.BCST       (off)(DI), Z16, Z0 \
	VPDPBUSD.BCST       ((off)+4)(DI), Z16, Z1 \
	VPDPBUSD.BCST       ((off)+8)(DI), Z17, Z0 \
	VPDPBUSD.BCST       ((off)+12)(DI), Z17, Z1 \
	VPDPBUSD.BCST       ((off)+16)(DI), Z18, Z0 \
	VPDPBUSD.BCST       ((off)+20)(DI), Z18, Z1 \
	VPDPBUSD.BCST       ((off)+24)(DI), Z19, Z0 \
	VPDPBUSD.BCST       ((off)+28)(DI), Z19, Z1 \
	VPDPBUSD.BCST       ((off)+32)(DI), Z20, Z0 \
	VPDPBUSD.BCST       ((off)+36)(DI), Z20, Z1 \
	VPDPBUSD.BCST       ((off)+40)(DI), Z21, Z0 \
	VPDPBUSD.BCST       ((off)+44)(DI), Z21, Z1 \
	VPDPBUSD.BCST       ((off)+48)(DI), Z22, Z0 \
	VPDPBUSD.BCST       ((off)+52)(DI), Z22, Z1 \
	VPDPBUSD.BCST       ((off)+56)(DI), Z23, Z0 \
	VPDPBUSD.BCST       ((off)+60)(DI), Z23, Z1 \
	VPSLLD              $8, Z1, Z1 \
	VPADDD              Z1, Z0, Z0

// BLOCK1W(h, base, F): block h of the pair of the strip at base against one token (16-bit), into F.
#define BLOCK1W(h, base, F) \
	VCVTPH2PS           (32*h)base, Z24 \
	UNPACK(64+256*(h), base, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	VPBROADCASTD        (4*h)(R13), Z0 \
	SPLIT16(64*(h)) \
	VCVTDQ2PS           Z0, Z0 \
	VMULPS.BCST         (4*h)(R10), Z0, Z0 \
	VFMADD231PS         Z24, Z0, F

// PAIR1W(base, F): both blocks of the pair of the strip at base, one token at 16 bits, into F.
#define PAIR1W(base, F) \
	BLOCK1W(0, base, F) \
	BLOCK1W(1, base, F)

// NEXT1W advances the 16-bit one-token kernels to the next pair of blocks.
#define NEXT1W \
	ADDQ $576, SI \
	ADDQ $128, DI \
	ADDQ $8, R10 \
	ADDQ $8, R13

// func packedQ4_0x1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x1w(SB), NOSPLIT, $0-64
	PACKSETUP
	VPXORD Z4, Z4, Z4

w1:
	PAIR1W((SI), Z4)
	NEXT1W
	DECQ CX
	JNZ  w1

	STORE1

// func packedQ4_0x1s4w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)
TEXT ·packedQ4_0x1s4w(SB), NOSPLIT, $0-64
	S4SETUP

w1s4:
	S4PAIRS(PAIR1W)
	NEXT1W
	ADDQ $576, R9
	DECQ CX
	JNZ  w1s4

	S4STORE

// func unpackPackedQ4_0AVX512(src *byte, pairs int, q *uint32, s, o *float32, next *byte)
// unpackPacked for a whole strip: per block, its four words' low and high nibbles to q (quads b·8+k and
// b·8+4+k, 16 rows each), its 16 scales to floats in s and 8× them in o; the strip at next (the one the
// tiles will want after this one's) asked for meanwhile.
TEXT ·unpackPackedQ4_0AVX512(SB), NOSPLIT, $0-48
	MOVQ         next+40(FP), R10
	MOVQ         src+0(FP), SI
	MOVQ         pairs+8(FP), CX
	MOVQ         q+16(FP), DI
	MOVQ         s+24(FP), R8
	MOVQ         o+32(FP), R9
	MOVL         $0x0F0F0F0F, AX
	VPBROADCASTD AX, Z25
	MOVL         $0x41000000, AX // 8.0
	VPBROADCASTD AX, Z24

upair:
	PREFETCHT0   (R10)
	PREFETCHT0   64(R10)
	PREFETCHT0   128(R10)
	PREFETCHT0   192(R10)
	PREFETCHT0   256(R10)
	PREFETCHT0   320(R10)
	PREFETCHT0   384(R10)
	PREFETCHT0   448(R10)
	PREFETCHT0   512(R10)
	ADDQ         $576, R10
	UNPACK(64, (SI), Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VMOVDQU64    Z16, (DI)
	VMOVDQU64    Z17, 64(DI)
	VMOVDQU64    Z18, 128(DI)
	VMOVDQU64    Z19, 192(DI)
	VMOVDQU64    Z20, 256(DI)
	VMOVDQU64    Z21, 320(DI)
	VMOVDQU64    Z22, 384(DI)
	VMOVDQU64    Z23, 448(DI)
	UNPACK(320, (SI), Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VMOVDQU64    Z16, 512(DI)
	VMOVDQU64    Z17, 576(DI)
	VMOVDQU64    Z18, 640(DI)
	VMOVDQU64    Z19, 704(DI)
	VMOVDQU64    Z20, 768(DI)
	VMOVDQU64    Z21, 832(DI)
	VMOVDQU64    Z22, 896(DI)
	VMOVDQU64    Z23, 960(DI)
	VCVTPH2PS    (SI), Z0
	VCVTPH2PS    32(SI), Z1
	VMOVUPS      Z0, (R8)
	VMOVUPS      Z1, 64(R8)
	VMULPS       Z24, Z0, Z0
	VMULPS       Z24, Z1, Z1
	VMOVUPS      Z0, (R9)
	VMOVUPS      Z1, 64(R9)
	ADDQ         $576, SI
	ADDQ         $1024, DI
	ADDQ         $128, R8
	ADDQ         $128, R9
	DECQ         CX
	JNZ          upair
	VZEROUPPER
	RET

// The 16-bit one-token kernel for packed Q4_K: per sub-block, its nibbles against the token's split quads
// (SPLIT16; d and as per block at R10, R11 + 4b) from zero, then the tile's FOLD and OFFSET.

// SUB1KW(j, F): sub-block j of the unit at SI (its nibbles already in Z16–Z23) against one token, into F.
#define SUB1KW(j, F) \
	Q4KSCALES(j, (SI), Z2, Z3) \
	VPXORD              Z0, Z0, Z0 \
	SPLIT16(64*(j)) \
	VCVTDQ2PS           Z0, Z0 \
	VMULPS.BCST         (4*j)(R10), Z0, Z0 \
	VFMADD231PS         Z2, Z0, F \
	VFMADD231PS.BCST    (4*j)(R11), Z3, F

// SUB1KWH(j, F): SUB1KW for a high-nibble sub-block from Q4KHI16: the sums are 16 times the value's (each
// product's weight is 16u: at most 240, still an unsigned byte; |16·Σ| stays below 2^31), so an arithmetic
// shift by 4 gives the same exact int32 before the fold.
#define SUB1KWH(j, F) \
	Q4KSCALES(j, (SI), Z2, Z3) \
	VPXORD              Z0, Z0, Z0 \
	SPLIT16(64*(j)) \
	VPSRAD              $4, Z0, Z0 \
	VCVTDQ2PS           Z0, Z0 \
	VMULPS.BCST         (4*j)(R10), Z0, Z0 \
	VFMADD231PS         Z2, Z0, F \
	VFMADD231PS.BCST    (4*j)(R11), Z3, F

// func packedQ4_Kx1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx1w(SB), NOSPLIT, $0-64
	PACKSETUP
	MOVL         $0xF0F0F0F0, AX
	VPBROADCASTD AX, Z26
	VPXORD Z6, Z6, Z6

kw1:
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	Q4KLO(0, (SI))
	SUB1KW(0, Z6)
	Q4KHI16(0, (SI))
	SUB1KWH(1, Z6)
	Q4KLO(1, (SI))
	SUB1KW(2, Z6)
	Q4KHI16(1, (SI))
	SUB1KWH(3, Z6)
	Q4KLO(2, (SI))
	SUB1KW(4, Z6)
	Q4KHI16(2, (SI))
	SUB1KWH(5, Z6)
	Q4KLO(3, (SI))
	SUB1KW(6, Z6)
	Q4KHI16(3, (SI))
	SUB1KWH(7, Z6)
	ADDQ $2368, SI
	ADDQ $512, DI
	ADDQ $32, R10
	ADDQ $32, R11
	DECQ CX
	JNZ  kw1

	MOVQ    out+48(FP), AX
	VMOVUPS Z6, (AX)
	VZEROUPPER
	RET

// UQ4K(c): chunk c's low and high nibbles (Z16–Z23 each in turn) stored as strip quads 16c… and
// 16c+8… from DI.
#define UQ4K(c) \
	Q4KLO(c, (SI)) \
	VMOVDQU64 Z16, (1024*c)(DI) \
	VMOVDQU64 Z17, (1024*(c)+64)(DI) \
	VMOVDQU64 Z18, (1024*(c)+128)(DI) \
	VMOVDQU64 Z19, (1024*(c)+192)(DI) \
	VMOVDQU64 Z20, (1024*(c)+256)(DI) \
	VMOVDQU64 Z21, (1024*(c)+320)(DI) \
	VMOVDQU64 Z22, (1024*(c)+384)(DI) \
	VMOVDQU64 Z23, (1024*(c)+448)(DI) \
	Q4KHI(c, (SI)) \
	VMOVDQU64 Z16, (1024*(c)+512)(DI) \
	VMOVDQU64 Z17, (1024*(c)+576)(DI) \
	VMOVDQU64 Z18, (1024*(c)+640)(DI) \
	VMOVDQU64 Z19, (1024*(c)+704)(DI) \
	VMOVDQU64 Z20, (1024*(c)+768)(DI) \
	VMOVDQU64 Z21, (1024*(c)+832)(DI) \
	VMOVDQU64 Z22, (1024*(c)+896)(DI) \
	VMOVDQU64 Z23, (1024*(c)+960)(DI)

// USC4K(j): sub-block j's s and o of the 16 rows stored at R8, R9 + 64j.
#define USC4K(j) \
	Q4KSCALES(j, (SI), Z2, Z3) \
	VMOVUPS Z2, (64*j)(R8) \
	VMOVUPS Z3, (64*j)(R9)

// func unpackPackedQ4_KAVX512(src *byte, units int, q *uint32, s, o *float32, next *byte)
// unpackPacked for a Q4_K strip: per super-block, the nibbles to q as unpackQ4_K lays them, s = d·sc and
// o = dmin·m to s and o; the strip at next asked for meanwhile.
TEXT ·unpackPackedQ4_KAVX512(SB), NOSPLIT, $0-48
	MOVQ         src+0(FP), SI
	MOVQ         units+8(FP), CX
	MOVQ         q+16(FP), DI
	MOVQ         s+24(FP), R8
	MOVQ         o+32(FP), R9
	MOVQ         next+40(FP), R10
	MOVL         $0x0F0F0F0F, AX
	VPBROADCASTD AX, Z25

uk:
	PF7(0, (R10))
	PF7(448, (R10))
	PF7(896, (R10))
	PF7(1344, (R10))
	PF7(1792, (R10))
	PREFETCHT0   2240(R10)
	PREFETCHT0   2304(R10)
	VCVTPH2PS    (SI), Z4
	VCVTPH2PS    32(SI), Z5
	USC4K(0)
	USC4K(1)
	USC4K(2)
	USC4K(3)
	USC4K(4)
	USC4K(5)
	USC4K(6)
	USC4K(7)
	UQ4K(0)
	UQ4K(1)
	UQ4K(2)
	UQ4K(3)
	ADDQ         $2368, SI
	ADDQ         $2368, R10
	ADDQ         $4096, DI
	ADDQ         $512, R8
	ADDQ         $512, R9
	DECQ         CX
	JNZ          uk
	VZEROUPPER
	RET

// The 16-bit one-token kernels for packed Q8_0: the block's eight words (u = q + 128) against the token's
// split quads (SPLIT16) from −128·Σq (16 × start), the tile's fold.

// BLOCK1Q8W(h, base, F): block h of the pair of the strip at base against one token (16-bit), into F.
#define BLOCK1Q8W(h, base, F) \
	VCVTPH2PS           (32*h)base, Z24 \
	LOAD8(64+512*(h), base, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	VPBROADCASTD        (4*h)(R13), Z0 \
	VPSLLD              $4, Z0, Z0 \
	SPLIT16(64*(h)) \
	VCVTDQ2PS           Z0, Z0 \
	VMULPS.BCST         (4*h)(R10), Z0, Z0 \
	VFMADD231PS         Z24, Z0, F

#define PAIR1Q8W(base, F) \
	BLOCK1Q8W(0, base, F) \
	BLOCK1Q8W(1, base, F)

// func packedQ8_0x1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ8_0x1w(SB), NOSPLIT, $0-64
	PACKSETUP
	VPXORD Z4, Z4, Z4

q8w1:
	PAIR1Q8W((SI), Z4)
	ADDQ $1088, SI
	ADDQ $128, DI
	ADDQ $8, R10
	ADDQ $8, R13
	DECQ CX
	JNZ  q8w1

	STORE1

// func packedQ8_0x1s4w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)
TEXT ·packedQ8_0x1s4w(SB), NOSPLIT, $0-64
	S4SETUP

q8w1s4:
	S4PAIRS(PAIR1Q8W)
	ADDQ $1088, SI
	ADDQ $1088, R9
	ADDQ $128, DI
	ADDQ $8, R10
	ADDQ $8, R13
	DECQ CX
	JNZ  q8w1s4

	S4STORE

// func unpackPackedQ8_0AVX512(src *byte, pairs int, q *uint32, s, o *float32, next *byte)
// unpackPacked for a Q8_0 strip: the packed words are the strip's (u = q + 128); d to s, 128·d to o; the
// strip at next asked for meanwhile.
TEXT ·unpackPackedQ8_0AVX512(SB), NOSPLIT, $0-48
	MOVQ         src+0(FP), SI
	MOVQ         pairs+8(FP), CX
	MOVQ         q+16(FP), DI
	MOVQ         s+24(FP), R8
	MOVQ         o+32(FP), R9
	MOVQ         next+40(FP), R10
	MOVL         $0x43000000, AX // 128.0
	VPBROADCASTD AX, Z24

u8pair:
	PF7(0, (R10))
	PF7(448, (R10))
	PREFETCHT0   896(R10)
	PREFETCHT0   960(R10)
	PREFETCHT0   1024(R10)
	ADDQ         $1088, R10
	LOAD8(64, (SI), Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VMOVDQU64    Z16, (DI)
	VMOVDQU64    Z17, 64(DI)
	VMOVDQU64    Z18, 128(DI)
	VMOVDQU64    Z19, 192(DI)
	VMOVDQU64    Z20, 256(DI)
	VMOVDQU64    Z21, 320(DI)
	VMOVDQU64    Z22, 384(DI)
	VMOVDQU64    Z23, 448(DI)
	LOAD8(576, (SI), Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VMOVDQU64    Z16, 512(DI)
	VMOVDQU64    Z17, 576(DI)
	VMOVDQU64    Z18, 640(DI)
	VMOVDQU64    Z19, 704(DI)
	VMOVDQU64    Z20, 768(DI)
	VMOVDQU64    Z21, 832(DI)
	VMOVDQU64    Z22, 896(DI)
	VMOVDQU64    Z23, 960(DI)
	VCVTPH2PS    (SI), Z0
	VCVTPH2PS    32(SI), Z1
	VMOVUPS      Z0, (R8)
	VMOVUPS      Z1, 64(R8)
	VMULPS       Z24, Z0, Z0
	VMULPS       Z24, Z1, Z1
	VMOVUPS      Z0, (R9)
	VMOVUPS      Z1, 64(R9)
	ADDQ         $1088, SI
	ADDQ         $1024, DI
	ADDQ         $128, R8
	ADDQ         $128, R9
	DECQ         CX
	JNZ          u8pair
	VZEROUPPER
	RET

// The 16-bit group kernels for packed Q4_0 and Q8_0: the eight tokens of an act16 group against a strip, their 16-bit values split into bytes (act16.q16s: quad k of token t's four lo at DI + 64k + 4t,
// its four hi at DI + 64k + 32 + 4t; d and start per block at R10, R13 + 32b + 4t). Per token and block
// the one-token kernels' arithmetic (SPLIT16): Σ u·lo from the start, Σ u·hi from zero in Z26, the int32
// 256·hi + lo folded as the 16-bit tile folds it. BLOCKT8 passes aoff = 256h (the 8-bit group layout's),
// which TOKW doubles.

// TOKWBODY(t, aoff, soff, I, F, S, W0…W7): TOKBODY on split quads; I started by the caller.
#define TOKWBODY(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPXORD              Z26, Z26, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+(t)*4)(DI), W0, I \
	VPDPBUSD.BCST       (2*(aoff)+32+(t)*4)(DI), W0, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+64+(t)*4)(DI), W1, I \
	VPDPBUSD.BCST       (2*(aoff)+96+(t)*4)(DI), W1, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+128+(t)*4)(DI), W2, I \
	VPDPBUSD.BCST       (2*(aoff)+160+(t)*4)(DI), W2, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+192+(t)*4)(DI), W3, I \
	VPDPBUSD.BCST       (2*(aoff)+224+(t)*4)(DI), W3, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+256+(t)*4)(DI), W4, I \
	VPDPBUSD.BCST       (2*(aoff)+288+(t)*4)(DI), W4, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+320+(t)*4)(DI), W5, I \
	VPDPBUSD.BCST       (2*(aoff)+352+(t)*4)(DI), W5, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+384+(t)*4)(DI), W6, I \
	VPDPBUSD.BCST       (2*(aoff)+416+(t)*4)(DI), W6, Z26 \
	VPDPBUSD.BCST       (2*(aoff)+448+(t)*4)(DI), W7, I \
	VPDPBUSD.BCST       (2*(aoff)+480+(t)*4)(DI), W7, Z26 \
	VPSLLD              $8, Z26, Z26 \
	VPADDD              Z26, I, I \
	VCVTDQ2PS           I, I \
	VMULPS.BCST         (soff+(t)*4)(R10), I, I \
	VFMADD231PS         S, I, F

// TOKW (Q4_0) starts I at −8·Σq, TOKWQ8 (Q8_0) at −128·Σq.
#define TOKW(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPBROADCASTD        (soff+(t)*4)(R13), I \
	TOKWBODY(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7)

#define TOKWQ8(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7) \
	VPBROADCASTD        (soff+(t)*4)(R13), I \
	VPSLLD              $4, I, I \
	TOKWBODY(t, aoff, soff, I, F, S, W0, W1, W2, W3, W4, W5, W6, W7)

// NEXTPAIRW is NEXTPAIR for split quads (twice the bytes of activations).
#define NEXTPAIRW(step, label) \
	ADDQ $step, SI \
	ADDQ $1024, DI \
	ADDQ $64, R10 \
	ADDQ $64, R13 \
	DECQ CX \
	JNZ  label

// func packedQ4_0x8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x8w(SB), NOSPLIT, $0-64
	PACKSETUP
	ZEROALL

w8:
	BLOCKT8(0, UNPACK, 64, TOKW)
	BLOCKT8(1, UNPACK, 320, TOKW)
	NEXTPAIRW(576, w8)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// func packedQ8_0x8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ8_0x8w(SB), NOSPLIT, $0-64
	PACKSETUP
	ZEROALL

q8w8:
	BLOCKT8(0, LOAD8, 64, TOKWQ8)
	BLOCKT8(1, LOAD8, 576, TOKWQ8)
	NEXTPAIRW(1088, q8w8)

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The 16-bit eight-token kernel for packed Q4_K: SUBK8's sub-blocks against the group's split quads
// (TOKWBODY, from zero), then the tile's FOLD and OFFSET.

// TOKKW(t, j, I, F, S, O): TOKK on split quads (sub-block j's at DI + 512j).
#define TOKKW(t, j, I, F, S, O) \
	VPXORD              I, I, I \
	TOKWBODY(t, 256*(j), 32*(j), I, F, S, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23) \
	VFMADD231PS.BCST    (32*(j)+(t)*4)(R11), O, F

// SUBK8W(j): SUBK8 at 16 bits.
#define SUBK8W(j) \
	Q4KSCALES(j, (SI), Z2, Z3) \
	TOKKW(0, j, Z0, Z8, Z2, Z3) \
	TOKKW(1, j, Z1, Z9, Z2, Z3) \
	TOKKW(2, j, Z6, Z10, Z2, Z3) \
	TOKKW(3, j, Z7, Z11, Z2, Z3) \
	TOKKW(4, j, Z0, Z12, Z2, Z3) \
	TOKKW(5, j, Z1, Z13, Z2, Z3) \
	TOKKW(6, j, Z6, Z14, Z2, Z3) \
	TOKKW(7, j, Z7, Z15, Z2, Z3)

// func packedQ4_Kx8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx8w(SB), NOSPLIT, $0-64
	PACKSETUP
	ZEROALL

kw8:
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	Q4KLO(0, (SI))
	SUBK8W(0)
	Q4KHI(0, (SI))
	SUBK8W(1)
	Q4KLO(1, (SI))
	SUBK8W(2)
	Q4KHI(1, (SI))
	SUBK8W(3)
	Q4KLO(2, (SI))
	SUBK8W(4)
	Q4KHI(2, (SI))
	SUBK8W(5)
	Q4KLO(3, (SI))
	SUBK8W(6)
	Q4KHI(3, (SI))
	SUBK8W(7)
	ADDQ $2368, SI
	ADDQ $4096, DI
	ADDQ $256, R10
	ADDQ $256, R11
	DECQ CX
	JNZ  kw8

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET

// The 16-bit eight-token kernel for packed Q6_K: GRP8's groups against the group's split quads (lo at DI +
// 2a + 64k + 4t, hi 32 bytes on, where a is the 8-bit layout's offset; d and start = −32·Σq per sub-block
// of 16 at R10, R13 + 32j + 4t), the hi sums in Z28.

// TOK6W8(t, a, b, I, F, S, W0…W3): TOK6 on split quads.
#define TOK6W8(t, a, b, I, F, S, W0, W1, W2, W3) \
	VPBROADCASTD  (b+(t)*4)(R13), I \
	VPXORD        Z28, Z28, Z28 \
	VPDPBUSD.BCST (2*(a)+(t)*4)(DI), W0, I \
	VPDPBUSD.BCST (2*(a)+32+(t)*4)(DI), W0, Z28 \
	VPDPBUSD.BCST (2*(a)+64+(t)*4)(DI), W1, I \
	VPDPBUSD.BCST (2*(a)+96+(t)*4)(DI), W1, Z28 \
	VPDPBUSD.BCST (2*(a)+128+(t)*4)(DI), W2, I \
	VPDPBUSD.BCST (2*(a)+160+(t)*4)(DI), W2, Z28 \
	VPDPBUSD.BCST (2*(a)+192+(t)*4)(DI), W3, I \
	VPDPBUSD.BCST (2*(a)+224+(t)*4)(DI), W3, Z28 \
	VPSLLD        $8, Z28, Z28 \
	VPADDD        Z28, I, I \
	VCVTDQ2PS     I, I \
	VMULPS.BCST   (b+(t)*4)(R10), I, I \
	VFMADD231PS   S, I, F

// func packedQ6_Kx8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx8w(SB), NOSPLIT, $0-64
	Q6SETUP
	ZEROALL

q6kw8:
	VCVTPH2PS (SI), Z4
	B6G0(0, (SI))
	GRP8T(0, 0, 0, TOK6W8)
	B6G1(0, (SI))
	GRP8T(0, 1, 2, TOK6W8)
	B6G2(0, (SI))
	GRP8T(0, 2, 4, TOK6W8)
	B6G3(0, (SI))
	GRP8T(0, 3, 6, TOK6W8)
	B6G0(1, (SI))
	GRP8T(1, 0, 8, TOK6W8)
	B6G1(1, (SI))
	GRP8T(1, 1, 10, TOK6W8)
	B6G2(1, (SI))
	GRP8T(1, 2, 12, TOK6W8)
	B6G3(1, (SI))
	GRP8T(1, 3, 14, TOK6W8)
	ADDQ $3392, SI
	ADDQ $4096, DI
	ADDQ $512, R10
	ADDQ $512, R13
	DECQ CX
	JNZ  q6kw8

	MOVQ    out+48(FP), AX
	MOVQ    ostride+56(FP), BX
	STOREALL
	VZEROUPPER
	RET
