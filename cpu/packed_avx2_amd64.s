//go:build amd64 && !noasm

#include "textflag.h"

// One-token kernels on packed Q4_0 strips (packed.go) for CPUs with AVX2 but not AVX-512 VNNI. The strip
// layout is the AVX-512 kernels': each 64-byte word holds four values of each of 16 rows; here it is read as
// two 256-bit halves, rows 0–7 and 8–15, one int32 lane a row. Without VPDPBUSD, VPMADDUBSW multiplies the
// unsigned nibbles u by a broadcast word of four signed activation bytes and adds adjacent products into
// 16-bit lanes (|2·15·128| = 3,840 each); a block's eight quads add up in those lanes (≤ 30,720: exact, no
// saturation), and one VPMADDWD against 16-bit ones (×256 for the high bytes of 16-bit activations) makes
// the row's int32 sum of the block. The total then starts from −8·Σq (start) and folds as every packed
// kernel and the prompt tiles fold it, F += s·(float(total)·d_x), so the floats are theirs.
//
// Arguments as packedQ4_0x1's (w, units, q, ad, start, as, out, ostride); registers: SI the unit, DI the
// token's quads, R10 its d per block, R13 its start per block, CX units left; Y10/Y11 the float sums of
// rows 0–7/8–15; Y15 0x0F bytes, Y14 words of 1, Y13 words of 256.

// Prefetch distances (bytes ahead in the strip) of the one-token kernels, which ask for the lines of a
// unit that far ahead into L2 (PREFETCHT1) as they read each one: on Zen 3 the hardware alone left the
// stream short. Measured on a 2-core AMD EPYC (Zen 3, AVX2 only), BenchmarkGemvStream n=1, packed, 16
// bits, one thread, two runs each: Q4_0 without 11.7–12.2 GB/s, 2,304 bytes ahead 14.6–15.6, 4,608
// 15.0–15.9; Q4_K without 8.7–9.4, 2,368 12.0–13.3, 9,472 12.8–13.1; Q6_K without 9.3–9.7, 13,568
// 10.7–10.8 (its kernel's own ceiling is near: 9.5–13 GB/s in cache). Decoding (llamago bench -p 0 -n 64,
// 2 threads, alternated): Q4_0 37.8/36.7 → 48.0/49.2 t/s with 2,304 bytes ahead (4,608, kept for the
// stream rate above, decoded 40.4/40.5 t/s in a slower minute where ik_llama.cpp did 35.9/35.1), Q4_K_M
// 25.2/24.4 → 28.3–33.5.
#define PFQ40 4608
#define PFQ4K 9472
#define PFQ6K 13568
#define PFQ80 4352

// UARGS: an unpacker's arguments (src, units, q, s, o) to SI, CX, DI, R8, R9. (Defined before the
// first TEXT: vet reads a macro's FP names against the function it follows in the file.)
#define UARGS \
	MOVQ src+0(FP), SI \
	MOVQ units+8(FP), CX \
	MOVQ q+16(FP), DI \
	MOVQ s+24(FP), R8 \
	MOVQ o+32(FP), R9

#define SETUP2 \
	MOVQ         w+0(FP), SI \
	MOVQ         units+8(FP), CX \
	MOVQ         q+16(FP), DI \
	MOVQ         ad+24(FP), R10 \
	MOVQ         start+32(FP), R13 \
	MOVL         $0x0F0F0F0F, AX \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15 \
	MOVL         $0x00010001, AX \
	VMOVD        AX, X14 \
	VPBROADCASTD X14, Y14 \
	MOVL         $0x01000100, AX \
	VMOVD        AX, X13 \
	VPBROADCASTD X13, Y13 \
	VPXOR        Y10, Y10, Y10 \
	VPXOR        Y11, Y11, Y11

// WORD2(off): the word at off(SI) as low (Y4 rows 0–7, Y6 rows 8–15) and high nibbles (Y5, Y7).
#define WORD2(off) \
	VMOVDQU (off)(SI), Y4 \
	VMOVDQU (off+32)(SI), Y6 \
	VPSRLW  $4, Y4, Y5 \
	VPSRLW  $4, Y6, Y7 \
	VPAND   Y15, Y4, Y4 \
	VPAND   Y15, Y5, Y5 \
	VPAND   Y15, Y6, Y6 \
	VPAND   Y15, Y7, Y7

// MUL2(a, L, H, A, B): the broadcast activation word at a(DI) times the nibbles L (rows 0–7) into A and H
// (rows 8–15) into B, as the first products of A and B; ADD2 adds them instead.
#define MUL2(a, L, H, A, B) \
	VPBROADCASTD (a)(DI), Y8 \
	VPMADDUBSW   Y8, L, A \
	VPMADDUBSW   Y8, H, B

#define ADD2(a, L, H, A, B) \
	VPBROADCASTD (a)(DI), Y8 \
	VPMADDUBSW   Y8, L, Y9 \
	VPMADDUBSW   Y8, H, Y12 \
	VPADDW       Y9, A, A \
	VPADDW       Y12, B, B

// FOLD2(h): block h's int32 totals Y0 (rows 0–7) and Y2 (rows 8–15), started at −8·Σq, folded into Y10,
// Y11 with the rows' scales at 32h(SI).
#define FOLD2(h) \
	VPBROADCASTD (4*(h))(R13), Y8 \
	VPADDD       Y8, Y0, Y0 \
	VPADDD       Y8, Y2, Y2 \
	VCVTDQ2PS    Y0, Y0 \
	VCVTDQ2PS    Y2, Y2 \
	VBROADCASTSS (4*(h))(R10), Y8 \
	VMULPS       Y8, Y0, Y0 \
	VMULPS       Y8, Y2, Y2 \
	VCVTPH2PS    (32*(h))(SI), Y4 \
	VCVTPH2PS    (32*(h)+16)(SI), Y6 \
	VFMADD231PS  Y4, Y0, Y10 \
	VFMADD231PS  Y6, Y2, Y11

// STORE2 stores the 16 rows' sums at out.
#define STORE2 \
	MOVQ    out+48(FP), AX \
	VMOVUPS Y10, (AX) \
	VMOVUPS Y11, 32(AX) \
	VZEROUPPER \
	RET

// BLOCK8(h): block h of the unit at 8 bits (quad k of the block at DI + 32h + 4k; word k's low nibbles are
// values 4k…4k+3, its high nibbles quad 4+k): Σ u·q of rows 0–7 in Y0, 8–15 in Y2, as int32.
#define BLOCK8(h) \
	WORD2(64+256*(h)) \
	MUL2(32*(h), Y4, Y6, Y0, Y2) \
	ADD2(32*(h)+16, Y5, Y7, Y0, Y2) \
	WORD2(64+256*(h)+64) \
	ADD2(32*(h)+4, Y4, Y6, Y0, Y2) \
	ADD2(32*(h)+20, Y5, Y7, Y0, Y2) \
	WORD2(64+256*(h)+128) \
	ADD2(32*(h)+8, Y4, Y6, Y0, Y2) \
	ADD2(32*(h)+24, Y5, Y7, Y0, Y2) \
	WORD2(64+256*(h)+192) \
	ADD2(32*(h)+12, Y4, Y6, Y0, Y2) \
	ADD2(32*(h)+28, Y5, Y7, Y0, Y2) \
	VPMADDWD Y14, Y0, Y0 \
	VPMADDWD Y14, Y2, Y2 \
	FOLD2(h)

// PF8(off): the eight lines at off(SI) on, asked for into L2.
#define PF8(off) \
	PREFETCHT1 (off)(SI) \
	PREFETCHT1 (off+64)(SI) \
	PREFETCHT1 (off+128)(SI) \
	PREFETCHT1 (off+192)(SI) \
	PREFETCHT1 (off+256)(SI) \
	PREFETCHT1 (off+320)(SI) \
	PREFETCHT1 (off+384)(SI) \
	PREFETCHT1 (off+448)(SI)

// PF40: a Q4_0 unit's nine lines, PFQ40 bytes ahead.
#define PF40 \
	PF8(PFQ40) \
	PREFETCHT1 (PFQ40+512)(SI)

// func packedQ4_0x1AVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x1AVX2(SB), NOSPLIT, $0-64
	SETUP2

a1:
	PF40
	BLOCK8(0)
	BLOCK8(1)
	ADDQ $576, SI
	ADDQ $64, DI
	ADDQ $8, R10
	ADDQ $8, R13
	DECQ CX
	JNZ  a1

	STORE2

// QUADW(lo, L, H): one quad of 16-bit activations split into bytes (lo word at lo(DI), hi word after it)
// against the nibbles L (rows 0–7) and H (rows 8–15): the lo products into Y0/Y2, the hi ones into Y1/Y3.
#define QUADW(lo, L, H) \
	ADD2(lo, L, H, Y0, Y2) \
	ADD2(lo+4, L, H, Y1, Y3)

// BLOCKW(h): block h of the unit at 16 bits (quad k's split words at DI + 64h + 8k): Σ u·q of rows 0–7
// in Y0, 8–15 in Y2, as int32 (lo sums + 256 × hi sums).
#define BLOCKW(h) \
	WORD2(64+256*(h)) \
	MUL2(64*(h), Y4, Y6, Y0, Y2) \
	MUL2(64*(h)+4, Y4, Y6, Y1, Y3) \
	QUADW(64*(h)+32, Y5, Y7) \
	WORD2(64+256*(h)+64) \
	QUADW(64*(h)+8, Y4, Y6) \
	QUADW(64*(h)+40, Y5, Y7) \
	WORD2(64+256*(h)+128) \
	QUADW(64*(h)+16, Y4, Y6) \
	QUADW(64*(h)+48, Y5, Y7) \
	WORD2(64+256*(h)+192) \
	QUADW(64*(h)+24, Y4, Y6) \
	QUADW(64*(h)+56, Y5, Y7) \
	VPMADDWD Y14, Y0, Y0 \
	VPMADDWD Y14, Y2, Y2 \
	VPMADDWD Y13, Y1, Y1 \
	VPMADDWD Y13, Y3, Y3 \
	VPADDD   Y1, Y0, Y0 \
	VPADDD   Y3, Y2, Y2 \
	FOLD2(h)

// func packedQ4_0x1wAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_0x1wAVX2(SB), NOSPLIT, $0-64
	SETUP2

w1:
	PF40
	BLOCKW(0)
	BLOCKW(1)
	ADDQ $576, SI
	ADDQ $128, DI
	ADDQ $8, R10
	ADDQ $8, R13
	DECQ CX
	JNZ  w1

	STORE2

// Q4_K (units of one super-block, q4kPackBytes = 2368 bytes a strip, see packQ4_KUnit): chunk c's word k
// holds quad k of sub-block 2c in its low nibbles and of sub-block 2c+1 in its high ones. Per sub-block j
// the int32 sum Σ u·q from zero, then the tile's fold and offset: F += s·(float(sum)·d_x), F += o·as,
// with s = float(sc)·d and o = float(m)·dmin as the tiles compute them (as = −d_x·Σq at R11 + 4j).

// Both halves of the strip go through each chunk together: every broadcast activation word serves the two
// halves' products, and the two halves' float sums (Y10, Y11) fold in turn, so that their chains of
// dependent FMAs (two per sub-block) overlap: with one half after the other the fold's latency bounded the
// kernel (on a Zen 3, taking the fold out made it 37% faster). d and dmin of the unit's 16 rows are
// converted once per unit, to the frame (at R12: d of rows 0–7, 8–15, then dmin the same).

// KD: the unit's d and dmin as floats to the frame.
#define KD \
	VCVTPH2PS (SI), Y4 \
	VCVTPH2PS 16(SI), Y6 \
	VMOVUPS   Y4, 0(R12) \
	VMOVUPS   Y6, 32(R12) \
	VCVTPH2PS 32(SI), Y4 \
	VCVTPH2PS 48(SI), Y6 \
	VMOVUPS   Y4, 64(R12) \
	VMOVUPS   Y6, 96(R12)

// KWORDS(off, SHIFT): the word at off(SI), rows 0–7 in Y4 and 8–15 in Y6: its low nibbles, or with SHIFT
// (KHI) its high ones.
#define KWORDS(off, SHIFT) \
	VMOVDQU (off)(SI), Y4 \
	VMOVDQU (off+32)(SI), Y6 \
	SHIFT \
	VPAND   Y15, Y4, Y4 \
	VPAND   Y15, Y6, Y6

#define KLO
#define KHI \
	VPSRLW $4, Y4, Y4 \
	VPSRLW $4, Y6, Y6

// KMUL2(a, A, B): the broadcast activation word at a(DI) times the nibbles Y4 (rows 0–7) into A and Y6
// (rows 8–15) into B, their first products; KADD2 adds them.
#define KMUL2(a, A, B) \
	VPBROADCASTD (a)(DI), Y8 \
	VPMADDUBSW   Y8, Y4, A \
	VPMADDUBSW   Y8, Y6, B

#define KADD2(a, A, B) \
	VPBROADCASTD (a)(DI), Y8 \
	VPMADDUBSW   Y8, Y4, Y9 \
	VPMADDUBSW   Y8, Y6, Y12 \
	VPADDW       Y9, A, A \
	VPADDW       Y12, B, B

// KFOLD2(j, I, J): sub-block j's int32 sums I (rows 0–7) and J (8–15) folded into Y10 and Y11: F += s·(float(sum)·d_x)
// and F += o·as with s = float(sc)·d, o = float(m)·dmin, the tiles' floats.
#define KFOLD2(j, I, J) \
	VBROADCASTSS (4*(j))(R10), Y8 \
	VCVTDQ2PS    I, I \
	VCVTDQ2PS    J, J \
	VMULPS       Y8, I, I \
	VMULPS       Y8, J, J \
	VPMOVZXBD    (64+16*(j))(SI), Y4 \
	VPMOVZXBD    (64+16*(j)+8)(SI), Y6 \
	VCVTDQ2PS    Y4, Y4 \
	VCVTDQ2PS    Y6, Y6 \
	VMULPS       0(R12), Y4, Y4 \
	VMULPS       32(R12), Y6, Y6 \
	VFMADD231PS  Y4, I, Y10 \
	VFMADD231PS  Y6, J, Y11 \
	VBROADCASTSS (4*(j))(R11), Y8 \
	VPMOVZXBD    (192+16*(j))(SI), Y4 \
	VPMOVZXBD    (192+16*(j)+8)(SI), Y6 \
	VCVTDQ2PS    Y4, Y4 \
	VCVTDQ2PS    Y6, Y6 \
	VMULPS       64(R12), Y4, Y4 \
	VMULPS       96(R12), Y6, Y6 \
	VFMADD231PS  Y8, Y4, Y10 \
	VFMADD231PS  Y8, Y6, Y11

// KQ8(off, a, FIRST, FIRSTH): one word at 8 bits (quad k of sub-block j at DI + 32j + 4k; a the quad of sub-block
// 2c): its low nibbles' products into Y0/Y2, its high nibbles' (sub-block 2c+1, 32 bytes on) into Y1/Y3,
// as the first products (FIRST, FIRSTH: KMUL2, KMUL2H) or added (KADD2, KADD2H).
#define KQ8(off, a, FIRST, FIRSTH) \
	WORD2(off) \
	FIRST(a, Y0, Y2) \
	VPBROADCASTD (a+32)(DI), Y8 \
	FIRSTH(Y1, Y3)

// KMUL2H, KADD2H: KMUL2 and KADD2 on the high nibbles (Y5, Y7), the word already broadcast in Y8.
#define KMUL2H(A, B) \
	VPMADDUBSW Y8, Y5, A \
	VPMADDUBSW Y8, Y7, B

#define KADD2H(A, B) \
	VPMADDUBSW Y8, Y5, Y9 \
	VPMADDUBSW Y8, Y7, Y12 \
	VPADDW     Y9, A, A \
	VPADDW     Y12, B, B

// KCHUNK8(c): chunk c at 8 bits: Σ u·q of sub-block 2c (rows 0–7 in Y0, 8–15 in Y2) and 2c+1 (Y1, Y3)
// as int32, each folded.
#define KCHUNK8(c) \
	KQ8(320+512*(c), 64*(c), KMUL2, KMUL2H) \
	KQ8(320+512*(c)+64, 64*(c)+4, KADD2, KADD2H) \
	KQ8(320+512*(c)+128, 64*(c)+8, KADD2, KADD2H) \
	KQ8(320+512*(c)+192, 64*(c)+12, KADD2, KADD2H) \
	KQ8(320+512*(c)+256, 64*(c)+16, KADD2, KADD2H) \
	KQ8(320+512*(c)+320, 64*(c)+20, KADD2, KADD2H) \
	KQ8(320+512*(c)+384, 64*(c)+24, KADD2, KADD2H) \
	KQ8(320+512*(c)+448, 64*(c)+28, KADD2, KADD2H) \
	VPMADDWD Y14, Y0, Y0 \
	VPMADDWD Y14, Y2, Y2 \
	VPMADDWD Y14, Y1, Y1 \
	VPMADDWD Y14, Y3, Y3 \
	KFOLD2(2*(c), Y0, Y2) \
	KFOLD2(2*(c)+1, Y1, Y3)

// KQW(off, SHIFT, a): one word at 16 bits (the quad's split activation words at a(DI), a+4(DI)): its
// lo products added to Y0/Y2, its hi ones to Y1/Y3.
#define KQW(off, SHIFT, a) \
	KWORDS(off, SHIFT) \
	KADD2(a, Y0, Y2) \
	KADD2((a)+4, Y1, Y3)

// KSUBW(c, SHIFT, a): sub-block 2c (SHIFT KLO, a = 0) or 2c+1 (KHI, a = 64) of chunk c at 16 bits (quad k
// of sub-block j split at DI + 64j + 8k): int32 sums of rows 0–7 in Y0, 8–15 in Y2 (lo sums + 256 × hi
// sums).
#define KSUBW(c, SHIFT, a) \
	KWORDS(320+512*(c), SHIFT) \
	KMUL2(128*(c)+(a), Y0, Y2) \
	KMUL2(128*(c)+(a)+4, Y1, Y3) \
	KQW(320+512*(c)+64, SHIFT, 128*(c)+(a)+8) \
	KQW(320+512*(c)+128, SHIFT, 128*(c)+(a)+16) \
	KQW(320+512*(c)+192, SHIFT, 128*(c)+(a)+24) \
	KQW(320+512*(c)+256, SHIFT, 128*(c)+(a)+32) \
	KQW(320+512*(c)+320, SHIFT, 128*(c)+(a)+40) \
	KQW(320+512*(c)+384, SHIFT, 128*(c)+(a)+48) \
	KQW(320+512*(c)+448, SHIFT, 128*(c)+(a)+56) \
	VPMADDWD Y14, Y0, Y0 \
	VPMADDWD Y13, Y1, Y1 \
	VPADDD   Y1, Y0, Y0 \
	VPMADDWD Y14, Y2, Y2 \
	VPMADDWD Y13, Y3, Y3 \
	VPADDD   Y3, Y2, Y2

#define KCHUNKW(c) \
	KSUBW(c, KLO, 0) \
	KFOLD2(2*(c), Y0, Y2) \
	KSUBW(c, KHI, 64) \
	KFOLD2(2*(c)+1, Y0, Y2)

// KPF(c): the lines of chunk c's words PFQ4K bytes ahead (KPF0: the unit's scales).
#define KPF(c) \
	PF8(PFQ4K+320+512*(c))

#define KPF0 \
	PREFETCHT1 (PFQ4K)(SI) \
	PREFETCHT1 (PFQ4K+64)(SI) \
	PREFETCHT1 (PFQ4K+128)(SI) \
	PREFETCHT1 (PFQ4K+192)(SI) \
	PREFETCHT1 (PFQ4K+256)(SI)

#define KSETUP \
	SETUP2 \
	MOVQ as+40(FP), R11 \
	MOVQ SP, R12

// KNEXT(step): the next super-block (step bytes of the token's quads).
#define KNEXT(step) \
	ADDQ $2368, SI \
	ADDQ $step, DI \
	ADDQ $32, R10 \
	ADDQ $32, R11 \
	DECQ CX

// KUNIT(CHUNK): one super-block chunk by chunk with the chunk macro CHUNK (KCHUNK8 or KCHUNKW), the unit
// PFQ4K bytes ahead asked for as it goes.
#define KUNIT(CHUNK) \
	KPF0 \
	KD \
	KPF(0) \
	CHUNK(0) \
	KPF(1) \
	CHUNK(1) \
	KPF(2) \
	CHUNK(2) \
	KPF(3) \
	CHUNK(3)

// func packedQ4_Kx1AVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx1AVX2(SB), NOSPLIT, $128-64
	KSETUP

k1:
	KUNIT(KCHUNK8)
	KNEXT(256)
	JNZ k1

	STORE2

// func packedQ4_Kx1wAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ4_Kx1wAVX2(SB), NOSPLIT, $128-64
	KSETUP

kw1:
	KUNIT(KCHUNKW)
	KNEXT(512)
	JNZ kw1

	STORE2

// Unpacking packed strips for the AVX2 tiles (unpackPacked): the packed words are the strip's words
// already, split into low and high nibbles; the scales converted (and for Q4_K multiplied by the 6-bit
// scales and minimums), as unpackPackedGo does.

// UWORD(off, lo, hi): the 64-byte word at off(SI) to lo(DI) (low nibbles) and hi(DI) (high nibbles).
#define UWORD(off, lo, hi) \
	VMOVDQU (off)(SI), Y0 \
	VMOVDQU (off+32)(SI), Y1 \
	VPSRLW  $4, Y0, Y2 \
	VPSRLW  $4, Y1, Y3 \
	VPAND   Y15, Y0, Y0 \
	VPAND   Y15, Y1, Y1 \
	VPAND   Y15, Y2, Y2 \
	VPAND   Y15, Y3, Y3 \
	VMOVDQU Y0, (lo)(DI) \
	VMOVDQU Y1, (lo+32)(DI) \
	VMOVDQU Y2, (hi)(DI) \
	VMOVDQU Y3, (hi+32)(DI)

#define UMASK \
	MOVL         $0x0F0F0F0F, AX \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15

// USO(off, F): the 16 rows' scales Y4 (rows 0–7), Y5 (8–15) to s at off(R8) and, times F, to o at off(R9).
#define USO(off, F) \
	VMOVUPS Y4, (off)(R8) \
	VMOVUPS Y5, (off+32)(R8) \
	VMULPS  F, Y4, Y4 \
	VMULPS  F, Y5, Y5 \
	VMOVUPS Y4, (off)(R9) \
	VMOVUPS Y5, (off+32)(R9)

// UDS(h): block h's 16 fp16 scales as floats to s (R8) and, times Y14 (8 or 128), to o (R9).
#define UDS(h) \
	VCVTPH2PS (32*(h))(SI), Y4 \
	VCVTPH2PS (32*(h)+16)(SI), Y5 \
	USO(64*(h), Y14)

// UBLOCK(h): block h of the pair: its 16 scales to s (R8) and 8× them to o (R9), its words to q.
#define UBLOCK(h) \
	UDS(h) \
	UWORD(64+256*(h), 512*(h), 512*(h)+256) \
	UWORD(128+256*(h), 512*(h)+64, 512*(h)+320) \
	UWORD(192+256*(h), 512*(h)+128, 512*(h)+384) \
	UWORD(256+256*(h), 512*(h)+192, 512*(h)+448)

// func unpackPackedQ4_0AVX2(src *byte, units int, q *uint32, s, o *float32)
TEXT ·unpackPackedQ4_0AVX2(SB), NOSPLIT, $0-40
	UARGS
	UMASK
	MOVL         $0x41000000, AX // 8.0
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14

upair2:
	UBLOCK(0)
	UBLOCK(1)
	ADDQ $576, SI
	ADDQ $1024, DI
	ADDQ $128, R8
	ADDQ $128, R9
	DECQ CX
	JNZ  upair2
	VZEROUPPER
	RET

// UCOPY(off, dst): the 64-byte word at off(SI) as it is to dst(DI) (Q8_0's packed words are the strip's).
#define UCOPY(off, dst) \
	VMOVDQU (off)(SI), Y0 \
	VMOVDQU (off+32)(SI), Y1 \
	VMOVDQU Y0, (dst)(DI) \
	VMOVDQU Y1, (dst+32)(DI)

// UBLOCK8(h): block h of a Q8_0 pair: its 16 scales to s (R8) and 128× them to o (R9), its eight words to q.
#define UBLOCK8(h) \
	UDS(h) \
	UCOPY(64+512*(h), 512*(h)) \
	UCOPY(128+512*(h), 512*(h)+64) \
	UCOPY(192+512*(h), 512*(h)+128) \
	UCOPY(256+512*(h), 512*(h)+192) \
	UCOPY(320+512*(h), 512*(h)+256) \
	UCOPY(384+512*(h), 512*(h)+320) \
	UCOPY(448+512*(h), 512*(h)+384) \
	UCOPY(512+512*(h), 512*(h)+448)

// func unpackPackedQ8_0AVX2(src *byte, units int, q *uint32, s, o *float32)
TEXT ·unpackPackedQ8_0AVX2(SB), NOSPLIT, $0-40
	UARGS
	MOVL         $0x43000000, AX // 128.0
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14

u8pair2:
	UBLOCK8(0)
	UBLOCK8(1)
	ADDQ $1088, SI
	ADDQ $1024, DI
	ADDQ $128, R8
	ADDQ $128, R9
	DECQ CX
	JNZ  u8pair2
	VZEROUPPER
	RET

// USCALE(j, h): sub-block j's s = float(sc)·d and o = float(m)·dmin of rows 8h…8h+7 (d, dmin in Y4+h, Y6+h).
#define USCALE(j, h, D, M) \
	VPMOVZXBD (64+16*(j)+8*(h))(SI), Y0 \
	VCVTDQ2PS Y0, Y0 \
	VMULPS    D, Y0, Y0 \
	VMOVUPS   Y0, (64*(j)+32*(h))(R8) \
	VPMOVZXBD (192+16*(j)+8*(h))(SI), Y1 \
	VCVTDQ2PS Y1, Y1 \
	VMULPS    M, Y1, Y1 \
	VMOVUPS   Y1, (64*(j)+32*(h))(R9)

#define USCALES(j) \
	USCALE(j, 0, Y4, Y6) \
	USCALE(j, 1, Y5, Y7)

// UCHUNK(c): chunk c's eight words: low nibbles to quads 16c…16c+7, high to 16c+8…16c+15.
#define UCHUNK(c) \
	UWORD(320+512*(c), 1024*(c), 1024*(c)+512) \
	UWORD(384+512*(c), 1024*(c)+64, 1024*(c)+576) \
	UWORD(448+512*(c), 1024*(c)+128, 1024*(c)+640) \
	UWORD(512+512*(c), 1024*(c)+192, 1024*(c)+704) \
	UWORD(576+512*(c), 1024*(c)+256, 1024*(c)+768) \
	UWORD(640+512*(c), 1024*(c)+320, 1024*(c)+832) \
	UWORD(704+512*(c), 1024*(c)+384, 1024*(c)+896) \
	UWORD(768+512*(c), 1024*(c)+448, 1024*(c)+960)

// func unpackPackedQ4_KAVX2(src *byte, units int, q *uint32, s, o *float32)
TEXT ·unpackPackedQ4_KAVX2(SB), NOSPLIT, $0-40
	UARGS
	UMASK

uk2:
	VCVTPH2PS (SI), Y4
	VCVTPH2PS 16(SI), Y5
	VCVTPH2PS 32(SI), Y6
	VCVTPH2PS 48(SI), Y7
	USCALES(0)
	USCALES(1)
	USCALES(2)
	USCALES(3)
	USCALES(4)
	USCALES(5)
	USCALES(6)
	USCALES(7)
	UCHUNK(0)
	UCHUNK(1)
	UCHUNK(2)
	UCHUNK(3)
	ADDQ $2368, SI
	ADDQ $4096, DI
	ADDQ $512, R8
	ADDQ $512, R9
	DECQ CX
	JNZ  uk2
	VZEROUPPER
	RET

// Q6_K (units of one super-block, q6kPackBytes = 3392 bytes a strip, see packQ6_KUnit): per half n of 128
// values and group g of 32, quad m of the group has its low 4 bits in ql word 8(g%2)+m (the high nibble
// for g ≥ 2) and its top 2 bits at bit 2g of qh word m; the values u = low | top << 4 (0…63) are rebuilt
// four words at a time, those of one sub-block of 16 (its quads 4p…4p+3, p = 0, 1) for one half of the
// rows. A pair of VPMADDUBSW sums stays within 16 bits (2·2·63·128 = 32,256), so each pair goes to int32
// at once (VPMADDWD); the sum starts at −32·Σq (start16) and folds as the tile folds blocks of 16:
// F += s·(float(sum)·d_x), s = float(sc)·d. Y12: 0x30 in every byte.

// U6G0…U6G3(m, n, h, U): quad m of group g (0…3) of half n, rows 8h…8h+7, into U (Y9 scratch).
#define U6G0(m, n, h, U) \
	VMOVDQU (320+1536*(n)+128*(m)+32*(h))(SI), U \
	VPAND   Y15, U, U \
	VMOVDQU (384+1536*(n)+128*(m)+32*(h))(SI), Y9 \
	VPSLLW  $4, Y9, Y9 \
	VPAND   Y12, Y9, Y9 \
	VPOR    Y9, U, U

#define U6G1(m, n, h, U) \
	VMOVDQU (1344+1536*(n)+64*(m)+32*(h))(SI), U \
	VPAND   Y15, U, U \
	VMOVDQU (384+1536*(n)+128*(m)+32*(h))(SI), Y9 \
	VPSLLW  $2, Y9, Y9 \
	VPAND   Y12, Y9, Y9 \
	VPOR    Y9, U, U

#define U6G2(m, n, h, U) \
	VMOVDQU (320+1536*(n)+128*(m)+32*(h))(SI), U \
	VPSRLW  $4, U, U \
	VPAND   Y15, U, U \
	VPAND   (384+1536*(n)+128*(m)+32*(h))(SI), Y12, Y9 \
	VPOR    Y9, U, U

#define U6G3(m, n, h, U) \
	VMOVDQU (1344+1536*(n)+64*(m)+32*(h))(SI), U \
	VPSRLW  $4, U, U \
	VPAND   Y15, U, U \
	VMOVDQU (384+1536*(n)+128*(m)+32*(h))(SI), Y9 \
	VPSRLW  $2, Y9, Y9 \
	VPAND   Y12, Y9, Y9 \
	VPOR    Y9, U, U

// P6(a, W, D): the broadcast activation word at a(DI) times the values W, into D.
#define P6(a, W, D) \
	VPBROADCASTD (a)(DI), Y8 \
	VPMADDUBSW   Y8, W, D

// SUM6(a, s, K, D): the four quads' products (activation words at a, a+s, a+2s, a+3s against Y0–Y3) as
// int32 in D, pairs widened by VPMADDWD against K (ones, or 256s for high bytes); Y5, Y6 scratch.
#define SUM6(a, s, K, D) \
	P6(a, Y0, D) \
	P6(a+(s), Y1, Y5) \
	VPADDW   Y5, D, D \
	VPMADDWD K, D, D \
	P6(a+2*(s), Y2, Y5) \
	P6(a+3*(s), Y3, Y6) \
	VPADDW   Y6, Y5, Y5 \
	VPMADDWD K, Y5, Y5 \
	VPADDD   Y5, D, D

// FOLD6(j, h, F): sub-block j's int32 sum Y4 of half h, from start16, folded into F (d of the half's rows
// at 32h(R12), converted once per unit by D6).
#define FOLD6(j, h, F) \
	VPBROADCASTD (4*(j))(R13), Y8 \
	VPADDD       Y8, Y4, Y4 \
	VCVTDQ2PS    Y4, Y4 \
	VBROADCASTSS (4*(j))(R10), Y8 \
	VMULPS       Y8, Y4, Y4 \
	VPMOVSXBD    (64+16*(j)+8*(h))(SI), Y5 \
	VCVTDQ2PS    Y5, Y5 \
	VMULPS       (32*(h))(R12), Y5, Y5 \
	VFMADD231PS  Y5, Y4, F

// PF6(n, g): an eighth of the unit (seven lines) PFQ6K bytes ahead, per group.
#define PF6(n, g) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g)))(SI) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g))+64)(SI) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g))+128)(SI) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g))+192)(SI) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g))+256)(SI) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g))+320)(SI) \
	PREFETCHT1 (PFQ6K+448*(4*(n)+(g))+384)(SI)

// SUB6(U, n, g, p, h, F): sub-block p of group g of half n, rows 8h…8h+7, at 8 bits (quads at DI + 4·value).
#define SUB6(U, n, g, p, h, F) \
	U(4*(p), n, h, Y0) \
	U(4*(p)+1, n, h, Y1) \
	U(4*(p)+2, n, h, Y2) \
	U(4*(p)+3, n, h, Y3) \
	SUM6(128*(n)+32*(g)+16*(p), 4, Y14, Y4) \
	FOLD6(8*(n)+2*(g)+(p), h, F)

// GRP6(U, n, g): group g of half n, both sub-blocks, both halves of the rows.
#define GRP6(U, n, g) \
	PF6(n, g) \
	SUB6(U, n, g, 0, 0, Y10) \
	SUB6(U, n, g, 0, 1, Y11) \
	SUB6(U, n, g, 1, 0, Y10) \
	SUB6(U, n, g, 1, 1, Y11)

// D6: the unit's 16 d as floats to the frame (R12).
#define D6 \
	VCVTPH2PS (SI), Y4 \
	VCVTPH2PS 16(SI), Y5 \
	VMOVUPS   Y4, (R12) \
	VMOVUPS   Y5, 32(R12)

#define Q6SETUP2 \
	MOVQ SP, R12 \
	SETUP2 \
	MOVL         $0x30303030, AX \
	VMOVD        AX, X12 \
	VPBROADCASTD X12, Y12

// NEXT6(step): the next super-block (step bytes of the token's quads).
#define NEXT6(step) \
	ADDQ $3392, SI \
	ADDQ $step, DI \
	ADDQ $64, R10 \
	ADDQ $64, R13 \
	DECQ CX

// UNIT6X(GRP): one super-block, group by group with the group macro GRP (GRP6 or GRP6W).
#define UNIT6X(GRP) \
	D6 \
	GRP(U6G0, 0, 0) \
	GRP(U6G1, 0, 1) \
	GRP(U6G2, 0, 2) \
	GRP(U6G3, 0, 3) \
	GRP(U6G0, 1, 0) \
	GRP(U6G1, 1, 1) \
	GRP(U6G2, 1, 2) \
	GRP(U6G3, 1, 3)

// func packedQ6_Kx1AVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx1AVX2(SB), NOSPLIT, $64-64
	Q6SETUP2

q61:
	UNIT6X(GRP6)
	NEXT6(256)
	JNZ q61

	STORE2

// SUB6W(U, n, g, p, h, F): SUB6 at 16 bits (quad of value v split at DI + 2v, lo then hi word): Σ u·lo +
// 256·Σ u·hi (Y7 the hi sums).
#define SUB6W(U, n, g, p, h, F) \
	U(4*(p), n, h, Y0) \
	U(4*(p)+1, n, h, Y1) \
	U(4*(p)+2, n, h, Y2) \
	U(4*(p)+3, n, h, Y3) \
	SUM6(256*(n)+64*(g)+32*(p), 8, Y14, Y4) \
	SUM6(256*(n)+64*(g)+32*(p)+4, 8, Y13, Y7) \
	VPADDD Y7, Y4, Y4 \
	FOLD6(8*(n)+2*(g)+(p), h, F)

#define GRP6W(U, n, g) \
	PF6(n, g) \
	SUB6W(U, n, g, 0, 0, Y10) \
	SUB6W(U, n, g, 0, 1, Y11) \
	SUB6W(U, n, g, 1, 0, Y10) \
	SUB6W(U, n, g, 1, 1, Y11)

// func packedQ6_Kx1wAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
TEXT ·packedQ6_Kx1wAVX2(SB), NOSPLIT, $64-64
	Q6SETUP2

q6w1:
	UNIT6X(GRP6W)
	NEXT6(512)
	JNZ q6w1

	STORE2

// Q8_0 (pairs of blocks, 1088 bytes a strip: the 16 rows' fp16 scales of block h at 32h, its eight words
// at 64+512h+64k, row r's u = q + 128 of values 4k…4k+3 at +4r). Unsigned bytes up to 255 would saturate
// VPMADDUBSW's 16-bit sums, so this kernel widens them to words, in lane: VPUNPCKLBW with zero bytes turns
// the half word of rows 0–7 into rows 0, 1 (low lane) and 4, 5 (high lane), VPUNPCKHBW into rows 2, 3 and
// 6, 7, four values each. VPMADDWD against the quad's four codes as words (the token's 16-bit codes,
// act16.tq, at either precision: VPBROADCASTQ makes x0…x3 twice a lane) gives each row two int32 lanes;
// per block one VPHADDD brings rows 0–3 and 4–7 (8–11, 12–15) in order, one lane each, the total starts
// at −128·Σq (16 × start) — Σ u·q − 128·Σq = Σ q_w·q exactly (|total| < 2^31) — and folds as the tiles
// fold. Y0/Y1 rows 0, 1, 4, 5 / 2, 3, 6, 7, Y2/Y3 the same for rows 8–15 (two lanes a row), Y8 the
// quad's codes, Y15 zero.
//
// Before, the kernel widened the weights with VPMOVZXBW (a lane-crossing shuffle, rows 0–3 a register,
// and a VPERMQ per block to order them) and rebuilt each quad's words from the token's bytes (two
// broadcasts, two sign extensions, a shift and an add at 16 bits). Measured on a 2-core AMD EPYC (Zen 3),
// best of four alternated runs: BenchmarkPackedKernel type=Q8_0 tokens=1 (in cache, one thread) 8 bits
// 4392 → 3811 ns, 16 bits 5180 → 3395; `llamago bench -p 32 -n 16 --parallel 1,4,8,16` (two runs each:
// up to 16 sequences then took this kernel token after token, on strips still in L2; now up to 12,
// packedAVX2Tokens) 8 sequences 39.4–39.7 →
// 49.0–53.4 t/s, 16 34.0–36.7 → 46.4–51.8; one sequence (`-p 0 -n 64`, eight alternated pairs, memory-
// bound) 21.8 → 22.6 t/s on average, within the machine's swings.

// Q8WC(off, a, M): the word at off(SI) against the quad's four codes at a(DI) (twice in each lane of Y8)
// into Y0–Y3 with M (ADDACC to add, or the first word's MOVACC to start them); Y4–Y7 scratch. (Y15 is zero in this kernel, not SETUP2's 0x0F bytes; Y13 and Y14
// go unused.)
#define Q8WC(off, a, M) \
	VPBROADCASTQ (a)(DI), Y8 \
	VMOVDQU    (off)(SI), Y4 \
	VMOVDQU    (off+32)(SI), Y6 \
	VPUNPCKLBW Y15, Y4, Y5 \
	VPUNPCKHBW Y15, Y4, Y4 \
	VPUNPCKLBW Y15, Y6, Y7 \
	VPUNPCKHBW Y15, Y6, Y6 \
	VPMADDWD   Y8, Y5, Y5 \
	VPMADDWD   Y8, Y4, Y4 \
	VPMADDWD   Y8, Y7, Y7 \
	VPMADDWD   Y8, Y6, Y6 \
	M(Y5, Y0) \
	M(Y4, Y1) \
	M(Y7, Y2) \
	M(Y6, Y3)

#define ADDACC(S, D) VPADDD S, D, D
#define MOVACC(S, D) VMOVDQA S, D

// FOLDC(h): block h's lanes in row order, from −128·Σq, folded into Y10 (rows 0–7) and Y11 (8–15).
#define FOLDC(h) \
	VPHADDD      Y1, Y0, Y0 \
	VPHADDD      Y3, Y2, Y2 \
	VPBROADCASTD (4*(h))(R13), Y8 \
	VPSLLD       $4, Y8, Y8 \
	VPADDD       Y8, Y0, Y0 \
	VPADDD       Y8, Y2, Y2 \
	VCVTDQ2PS    Y0, Y0 \
	VCVTDQ2PS    Y2, Y2 \
	VBROADCASTSS (4*(h))(R10), Y8 \
	VMULPS       Y8, Y0, Y0 \
	VMULPS       Y8, Y2, Y2 \
	VCVTPH2PS    (32*(h))(SI), Y4 \
	VCVTPH2PS    (32*(h)+16)(SI), Y5 \
	VFMADD231PS  Y4, Y0, Y10 \
	VFMADD231PS  Y5, Y2, Y11

// BLOCKC(h): block h of the unit (word k against the codes at DI + 64h + 8k).
#define BLOCKC(h) \
	Q8WC(64+512*(h), 64*(h), MOVACC) \
	Q8WC(64+512*(h)+64, 64*(h)+8, ADDACC) \
	Q8WC(64+512*(h)+128, 64*(h)+16, ADDACC) \
	Q8WC(64+512*(h)+192, 64*(h)+24, ADDACC) \
	Q8WC(64+512*(h)+256, 64*(h)+32, ADDACC) \
	Q8WC(64+512*(h)+320, 64*(h)+40, ADDACC) \
	Q8WC(64+512*(h)+384, 64*(h)+48, ADDACC) \
	Q8WC(64+512*(h)+448, 64*(h)+56, ADDACC) \
	FOLDC(h)

// PF80: a Q8_0 unit's 17 lines, PFQ80 bytes ahead.
#define PF80 \
	PF8(PFQ80) \
	PF8(PFQ80+512) \
	PREFETCHT1 (PFQ80+1024)(SI)

// func packedQ8_0x1cAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
// (q: the token's 16-bit codes, two words a quad)
TEXT ·packedQ8_0x1cAVX2(SB), NOSPLIT, $0-64
	SETUP2
	VPXOR Y15, Y15, Y15

q8c1:
	PF80
	BLOCKC(0)
	BLOCKC(1)
	ADDQ $1088, SI
	ADDQ $128, DI
	ADDQ $8, R10
	ADDQ $8, R13
	DECQ CX
	JNZ  q8c1

	STORE2

// Unpacking packed Q6_K strips for the tiles (unpackPackedQ6_KGo in AVX2): per unit, the 16 sub-blocks'
// s = d·sc and o = 32·s of the 16 rows (s at R8 + 64j, o at R9 + 64j), then the values u = low | top << 4
// word by word, as the one-token kernels rebuild them (U6G0…U6G3), to q (DI): output word 32n + 8g + k
// of the unit is quad k of group g of half n, rows 0–7 then 8–15. Y10/Y11 the rows' d, Y13 32.0, Y15
// 0x0F bytes, Y12 0x30 bytes.

// U6S(j): sub-block j's scales of the 16 rows as s and o.
#define U6S(j) \
	VPMOVSXBD (64+16*(j))(SI), Y4 \
	VPMOVSXBD (64+16*(j)+8)(SI), Y5 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VMULPS    Y10, Y4, Y4 \
	VMULPS    Y11, Y5, Y5 \
	USO(64*(j), Y13)

// U6W(G, g, n, k): quad k of group g (rebuilt by G) of half n, both halves of the rows, to its word.
#define U6W(G, g, n, k) \
	G(k, n, 0, Y0) \
	VMOVDQU Y0, ((32*(n)+8*(g)+(k))*64)(DI) \
	G(k, n, 1, Y1) \
	VMOVDQU Y1, ((32*(n)+8*(g)+(k))*64+32)(DI)

#define U6GRP(G, g, n) \
	U6W(G, g, n, 0) \
	U6W(G, g, n, 1) \
	U6W(G, g, n, 2) \
	U6W(G, g, n, 3) \
	U6W(G, g, n, 4) \
	U6W(G, g, n, 5) \
	U6W(G, g, n, 6) \
	U6W(G, g, n, 7)

// func unpackPackedQ6_KAVX2(src *byte, units int, q *uint32, s, o *float32)
TEXT ·unpackPackedQ6_KAVX2(SB), NOSPLIT, $0-40
	UARGS
	UMASK
	MOVL         $0x30303030, AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Y12
	MOVL         $0x42000000, AX // 32.0
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13

u6:
	VCVTPH2PS (SI), Y10
	VCVTPH2PS 16(SI), Y11
	U6S(0)
	U6S(1)
	U6S(2)
	U6S(3)
	U6S(4)
	U6S(5)
	U6S(6)
	U6S(7)
	U6S(8)
	U6S(9)
	U6S(10)
	U6S(11)
	U6S(12)
	U6S(13)
	U6S(14)
	U6S(15)
	U6GRP(U6G0, 0, 0)
	U6GRP(U6G1, 1, 0)
	U6GRP(U6G2, 2, 0)
	U6GRP(U6G3, 3, 0)
	U6GRP(U6G0, 0, 1)
	U6GRP(U6G1, 1, 1)
	U6GRP(U6G2, 2, 1)
	U6GRP(U6G3, 3, 1)
	ADDQ $3392, SI
	ADDQ $4096, DI
	ADDQ $1024, R8
	ADDQ $1024, R9
	DECQ CX
	JNZ  u6
	VZEROUPPER
	RET
