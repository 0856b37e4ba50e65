//go:build arm64 && !noasm

#include "textflag.h"
#include "neon_arm64.h"

// NEON kernels of the quantized products on arm64 (Apple silicon, Graviton, Ampere): Q4_0 and Q8_0
// weights against activations rounded to 16 bits per block of 32 (Q16Row). A block's 32 products
// are integers, summed exactly in 32-bit lanes (SMLAL: 16 × 16 → 32 bits), then scaled in float as the
// portable loops do. The instructions Go's assembler lacks are encoded in neon_arm64.h.


// The activations of a block: 32 int16 in V16–V19. The products of a row's 32 weights, widened to 16
// bits in V2–V5, with them: into V6 and V7 (two chains), then V6 = V6 + V7.
#define PRODUCTS16 \
	VEOR V6.B16, V6.B16, V6.B16 \
	VEOR V7.B16, V7.B16, V7.B16 \
	SMLAL(16, 2, 6)             \
	SMLAL2(16, 2, 7)            \
	SMLAL(17, 3, 6)             \
	SMLAL2(17, 3, 7)            \
	SMLAL(18, 4, 6)             \
	SMLAL2(18, 4, 7)            \
	SMLAL(19, 5, 6)             \
	SMLAL2(19, 5, 7)            \
	VADD V7.S4, V6.S4, V6.S4

// WIDEN8: a Q8_0 block's 32 weights at (rw) (past its scale) sign-extended into V2–V5; rw moves on by 32.
#define WIDEN8(rw) \
	VLD1.P 32(rw), [V0.B16, V1.B16] \
	SXTL(0, 2)                      \
	SXTL2(0, 3)                     \
	SXTL(1, 4)                      \
	SXTL2(1, 5)

// WIDEN4: a Q4_0 block's 32 nibbles at (rw) (past its scale) into V2–V5 as 16-bit values 0…15: the low
// nibbles (values 0–15 of the block) in V2–V3, the high ones (16–31) in V4–V5; rw moves on by 16. V31
// holds 0x0F in every byte.
#define WIDEN4(rw) \
	VLD1.P 16(rw), [V0.B16]         \
	VAND V31.B16, V0.B16, V1.B16    \
	VUSHR $4, V0.B16, V0.B16        \
	VUXTL V1.B8, V2.H8              \
	VUXTL2 V1.B16, V3.H8            \
	VUXTL V0.B8, V4.H8              \
	VUXTL2 V0.B16, V5.H8

// The 8-bit path (activations within ±127, Q16Row.Narrow; CPUs with the dot product): the block's
// activations narrowed once to bytes in V28 (values 0–15) and V29 (16–31), then two SDOTs per row instead of
// the widening and eight SMLALs.
#define NARROW \
	XTN(16, 28)  \
	XTN2(17, 28) \
	XTN(18, 29)  \
	XTN2(19, 29)

// LOAD8: a Q8_0 block's 32 weights at (rw) into V0 (values 0–15) and V1 (16–31); rw moves on by 32.
#define LOAD8(rw) \
	VLD1.P 32(rw), [V0.B16, V1.B16]

// NIBBLES: a Q4_0 block's nibbles at (rw): V1 the low ones (values 0–15), V0 the high ones (16–31), as
// bytes 0…15; rw moves on by 16.
#define NIBBLES(rw) \
	VLD1.P 16(rw), [V0.B16]         \
	VAND V31.B16, V0.B16, V1.B16    \
	VUSHR $4, V0.B16, V0.B16

// DOTS8Q8 and DOTS8Q4: the products of the row's bytes (LOAD8, NIBBLES) with V28–V29 into V6.
#define DOTS8Q8 \
	VEOR V6.B16, V6.B16, V6.B16 \
	VEOR V7.B16, V7.B16, V7.B16 \
	SDOT(28, 0, 6)              \
	SDOT(29, 1, 7)              \
	VADD V7.S4, V6.S4, V6.S4

#define DOTS8Q4 \
	VEOR V6.B16, V6.B16, V6.B16 \
	VEOR V7.B16, V7.B16, V7.B16 \
	SDOT(28, 1, 6)              \
	SDOT(29, 0, 7)              \
	VADD V7.S4, V6.S4, V6.S4

// SCALE(rw): the row's f16 block scale at (rw), as a float from the table (R5) into F21; rw moves on by 2.
#define SCALE(rw) \
	MOVHU.P 2(rw), R10           \
	ADD R10<<2, R5, R10          \
	FMOVS (R10), F21

// SUM(fsum): fsum += F21 (weight scale) × F20 (activation scale) × the int32 sum of V6's lanes minus R12
// (8·Σq for Q4_0, else 0).
#define SUM(fsum) \
	VADDV V6.S4, V6      \
	VMOV V6.S[0], R10    \
	SUBW R12, R10, R10   \
	SCVTFWS R10, F22     \
	FMULS F21, F20, F23  \
	FMULS F22, F23, F23  \
	FADDS F23, fsum, fsum

// func dotQ16NEON(w *byte, q *int16, d *float32, s *int32, nb int, tab *float32, q4 int) float32
// One row against one token's 16-bit activations: Q8_0, or Q4_0 where q4 ≠ 0 (8·S of each block taken off
// its integer sum; s is read only then).
TEXT ·dotQ16NEON(SB), NOSPLIT, $0-60
	MOVD w+0(FP), R0
	MOVD q+8(FP), R2
	MOVD d+16(FP), R3
	MOVD s+24(FP), R6
	MOVD nb+32(FP), R4
	MOVD tab+40(FP), R5
	MOVD q4+48(FP), R13
	VMOVI $15, V31.B16
	MOVD ZR, R12
	FMOVS ZR, F24

loop1:
	CBZ R4, done1
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8]
	FMOVS.P 4(R3), F20
	SCALE(R0)
	CBNZ R13, q4one
	WIDEN8(R0)
	B products1

q4one:
	MOVW.P 4(R6), R12
	LSLW $3, R12, R12
	WIDEN4(R0)

products1:
	PRODUCTS16
	SUM(F24)
	SUB $1, R4
	B loop1

done1:
	FMOVS F24, ret+56(FP)
	RET

// ROWS4(LOAD, PRODUCTS): four rows (R0, R7, R8, R9) against the block's activations into F24–F27: each
// row's scale, its weights loaded by LOAD, multiplied by PRODUCTS.
#define ROWS4(LOAD, PRODUCTS) \
	SCALE(R0)        \
	LOAD(R0)         \
	PRODUCTS         \
	SUM(F24)         \
	SCALE(R7)        \
	LOAD(R7)         \
	PRODUCTS         \
	SUM(F25)         \
	SCALE(R8)        \
	LOAD(R8)         \
	PRODUCTS         \
	SUM(F26)         \
	SCALE(R9)        \
	LOAD(R9)         \
	PRODUCTS         \
	SUM(F27)

// STORE4: F24–F27 to out (R6).
#define STORE4 \
	FMOVS F24, 0(R6)  \
	FMOVS F25, 4(R6)  \
	FMOVS F26, 8(R6)  \
	FMOVS F27, 12(R6)

// func dotQ8_0x4NEON(w *byte, stride int, q *int16, d *float32, nb int, tab *float32, out *float32, sdot int)
// Four Q8_0 rows against one token: the 16-bit activations widened against the rows (SMLAL), or, where
// sdot ≠ 0 (8-bit activations, a CPU with the dot product), narrowed once per block for SDOT.
TEXT ·dotQ8_0x4NEON(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD stride+8(FP), R1
	MOVD q+16(FP), R2
	MOVD d+24(FP), R3
	MOVD nb+32(FP), R4
	MOVD tab+40(FP), R5
	MOVD out+48(FP), R6
	MOVD sdot+56(FP), R13
	ADD R1, R0, R7
	ADD R1, R7, R8
	ADD R1, R8, R9
	MOVD ZR, R12
	FMOVS ZR, F24
	FMOVS ZR, F25
	FMOVS ZR, F26
	FMOVS ZR, F27

loop8x4:
	CBZ R4, done8x4
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8]
	FMOVS.P 4(R3), F20
	CBNZ R13, sdot8x4
	ROWS4(WIDEN8, PRODUCTS16)
	B next8x4

sdot8x4:
	NARROW
	ROWS4(LOAD8, DOTS8Q8)

next8x4:
	SUB $1, R4
	B loop8x4

done8x4:
	STORE4
	RET

// func dotQ4_0x4NEON(w *byte, stride int, q *int16, d *float32, s *int32, nb int, tab *float32, out *float32, sdot int)
// The same for Q4_0 rows, 8·S of the block taken off each row's integer sum.
TEXT ·dotQ4_0x4NEON(SB), NOSPLIT, $0-72
	MOVD w+0(FP), R0
	MOVD stride+8(FP), R1
	MOVD q+16(FP), R2
	MOVD d+24(FP), R3
	MOVD s+32(FP), R11
	MOVD nb+40(FP), R4
	MOVD tab+48(FP), R5
	MOVD out+56(FP), R6
	MOVD sdot+64(FP), R13
	ADD R1, R0, R7
	ADD R1, R7, R8
	ADD R1, R8, R9
	VMOVI $15, V31.B16
	FMOVS ZR, F24
	FMOVS ZR, F25
	FMOVS ZR, F26
	FMOVS ZR, F27

loop4x4:
	CBZ R4, done4x4
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8]
	FMOVS.P 4(R3), F20
	MOVW.P 4(R11), R12
	LSLW $3, R12, R12
	CBNZ R13, sdot4x4
	ROWS4(WIDEN4, PRODUCTS16)
	B next4x4

sdot4x4:
	NARROW
	ROWS4(NIBBLES, DOTS8Q4)

next4x4:
	SUB $1, R4
	B loop4x4

done4x4:
	STORE4
	RET

// The k-quants: Q6_K's and Q4_K's kernels below make each group's integer sums and scale them.

// SUMS2: V6+V7 and V26+V27 (two int32x4 accumulators each) added across, stored at (R3) and 4(R3); R3
// moves on by 8.
#define SUMS2 \
	VADD V7.S4, V6.S4, V6.S4     \
	VADDV V6.S4, V6              \
	VMOV V6.S[0], R10            \
	MOVW.P R10, 4(R3)            \
	VADD V27.S4, V26.S4, V26.S4  \
	VADDV V26.S4, V26            \
	VMOV V26.S[0], R10           \
	MOVW.P R10, 4(R3)

// ZERO4: the accumulators V6, V7, V26, V27 cleared.
#define ZERO4 \
	VEOR V6.B16, V6.B16, V6.B16     \
	VEOR V7.B16, V7.B16, V7.B16     \
	VEOR V26.B16, V26.B16, V26.B16  \
	VEOR V27.B16, V27.B16, V27.B16

// Q6KVALUES: the group's activations into V16–V19 (R2 moves on by 64), its values (V8–V9 | V10–V11) − 32.
#define Q6KVALUES \
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8] \
	VORR V10.B16, V8.B16, V8.B16  \
	VORR V11.B16, V9.B16, V9.B16  \
	VSUB V28.B16, V8.B16, V8.B16  \
	VSUB V28.B16, V9.B16, V9.B16

// Q6KGROUP: a Q6_K group's 32 values, their low four bits in V8 (values 0–15) and V9 (16–31) and their high
// two bits at bits 4–5 of V10 and V11, less 32, times the group's 32 activations at (R2) (R2 moves on by
// 64): the sums of values 0–15 and 16–31 stored at (R3) (SUMS2).
#define Q6KGROUP \
	Q6KVALUES                     \
	SXTL(8, 12)                   \
	SXTL2(8, 13)                  \
	SXTL(9, 14)                   \
	SXTL2(9, 15)                  \
	ZERO4                         \
	SMLAL(16, 12, 6)              \
	SMLAL2(16, 12, 7)             \
	SMLAL(17, 13, 6)              \
	SMLAL2(17, 13, 7)             \
	SMLAL(18, 14, 26)             \
	SMLAL2(18, 14, 27)            \
	SMLAL(19, 15, 26)             \
	SMLAL2(19, 15, 27)            \
	SUMS2

// Q6KGROUP8: Q6KGROUP with 8-bit activations (within ±127), narrowed and multiplied by SDOT.
#define Q6KGROUP8 \
	Q6KVALUES                     \
	XTN(16, 12)                   \
	XTN2(17, 12)                  \
	XTN(18, 13)                   \
	XTN2(19, 13)                  \
	ZERO4                         \
	SDOT(12, 8, 6)                \
	SDOT(13, 9, 26)               \
	SUMS2

// Q6KLO(a, b) and Q6KHI(a, b): a group's low four bits from the low or high nibbles of V(a), V(b) into V8,
// V9. Q6KBITS(sh): its two high bits, (U >> sh) & 3, at bits 4–5 of V10, V11.
#define Q6KLO(a, b) \
	VAND V30.B16, a.B16, V8.B16    \
	VAND V30.B16, b.B16, V9.B16

#define Q6KHI(a, b) \
	VUSHR $4, a.B16, V8.B16        \
	VUSHR $4, b.B16, V9.B16

#define Q6KBITS(sh) \
	VUSHR $sh, V4.B16, V10.B16     \
	VUSHR $sh, V5.B16, V11.B16     \
	VAND V29.B16, V10.B16, V10.B16 \
	VAND V29.B16, V11.B16, V11.B16 \
	VSHL $4, V10.B16, V10.B16      \
	VSHL $4, V11.B16, V11.B16

// Q6KHALF: one half of a Q6_K super-block (128 values): its 64 bytes of low bits at (R6) (A = V0–V1, C =
// V2–V3) and 32 bytes of high bits at (R7) (U = V4–V5), R6 and R7 moving on; the four groups are
// A&15 | (U&3)<<4, C&15 | (U>>2&3)<<4, A>>4 | (U>>4&3)<<4 and C>>4 | (U>>6)<<4, each multiplied by GROUP
// (Q6KGROUP or Q6KGROUP8).
#define Q6KHALF(GROUP) \
	VLD1.P 32(R6), [V0.B16, V1.B16] \
	VLD1.P 32(R6), [V2.B16, V3.B16] \
	VLD1.P 32(R7), [V4.B16, V5.B16] \
	Q6KLO(V0, V1)                   \
	VAND V29.B16, V4.B16, V10.B16   \
	VAND V29.B16, V5.B16, V11.B16   \
	VSHL $4, V10.B16, V10.B16       \
	VSHL $4, V11.B16, V11.B16       \
	GROUP                           \
	Q6KLO(V2, V3)                   \
	Q6KBITS(2)                      \
	GROUP                           \
	Q6KHI(V0, V1)                   \
	Q6KBITS(4)                      \
	GROUP                           \
	Q6KHI(V2, V3)                   \
	Q6KBITS(6)                      \
	GROUP

// func dotQ6_KQ16NEON(w *byte, q *int16, d *float32, nsb int, tab *float32, scratch *int32, sdot int) float32
// Σ over the nsb Q6_K super-blocks at w of d·Σ_g D[g]·(sc[2g]·s[2g] + sc[2g+1]·s[2g+1]): the sixteen sums s of
// half groups (values less 32 × activations; by SDOT where sdot ≠ 0) go through scratch (16 int32), then the
// float arithmetic on vectors of four (each block scale D paired with its two half groups by ZIP), summed
// across lanes once at the end.
TEXT ·dotQ6_KQ16NEON(SB), NOSPLIT, $0-60
	MOVD w+0(FP), R0
	MOVD q+8(FP), R2
	MOVD d+16(FP), R24
	MOVD nsb+24(FP), R4
	MOVD tab+32(FP), R5
	MOVD scratch+40(FP), R23
	MOVD sdot+48(FP), R21
	VMOVI $15, V30.B16
	VMOVI $3, V29.B16
	VMOVI $32, V28.B16
	VEOR V25.B16, V25.B16, V25.B16

q6kloop:
	CBZ R4, q6kdone
	MOVD R0, R6
	ADD $128, R0, R7
	MOVD R23, R3
	CBNZ R21, q6ks
	Q6KHALF(Q6KGROUP)
	Q6KHALF(Q6KGROUP)
	B q6kscale

q6ks:
	Q6KHALF(Q6KGROUP8)
	Q6KHALF(Q6KGROUP8)

q6kscale:
	// R7 is at the scales now: sc0–15 (int8), then d.
	VLD1 (R23), [V20.S4, V21.S4, V22.S4, V23.S4]
	SCVTF4(20, 20)
	SCVTF4(21, 21)
	SCVTF4(22, 22)
	SCVTF4(23, 23)
	VLD1 (R7), [V24.B16]
	SXTL(24, 8)
	SXTL2(24, 9)
	SXTLH(8, 10)
	SXTLH2(8, 11)
	SXTLH(9, 12)
	SXTLH2(9, 13)
	SCVTF4(10, 10)
	SCVTF4(11, 11)
	SCVTF4(12, 12)
	SCVTF4(13, 13)
	FMULV(10, 20, 20)
	FMULV(11, 21, 21)
	FMULV(12, 22, 22)
	FMULV(13, 23, 23)
	VLD1.P 32(R24), [V14.S4, V15.S4] // D of the eight blocks, each for two half groups:
	VZIP1 V14.S4, V14.S4, V10.S4     // D0 D0 D1 D1
	VZIP2 V14.S4, V14.S4, V11.S4     // D2 D2 D3 D3
	VZIP1 V15.S4, V15.S4, V12.S4
	VZIP2 V15.S4, V15.S4, V13.S4
	FMULV(10, 20, 20)
	FMULV(11, 21, 21)
	FMULV(12, 22, 22)
	FMULV(13, 23, 23)
	FADDV(21, 20, 20)
	FADDV(23, 22, 22)
	FADDV(22, 20, 20)
	MOVHU 16(R7), R10
	ADD R10<<2, R5, R10
	FMOVS (R10), F31
	VDUP V31.S[0], V31.S4
	VFMLA V31.S4, V20.S4, V25.S4 // += d·(…)
	ADD $210, R0
	SUB $1, R4
	B q6kloop

q6kdone:
	FSUM4(25, 0)
	FMOVS F0, ret+56(FP)
	RET


// Q4KSUB(lo, hi, nlo, nhi, acc): sub-block values in lo (0–15) and hi (16–31) (registers V(nlo), V(nhi)),
// bytes 0…15, times the next 32 activations at (R2) (R2 moves on by 64), into the int32 lanes of V(acc):
// widened (SMLAL). Q4KSUB8: the same with 8-bit activations, narrowed (SDOT).
#define Q4KSUB(lo, hi, nlo, nhi, acc) \
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8] \
	VUXTL lo.B8, V12.H8      \
	VUXTL2 lo.B16, V13.H8    \
	VUXTL hi.B8, V14.H8      \
	VUXTL2 hi.B16, V15.H8    \
	SMLAL(16, 12, acc)       \
	SMLAL2(16, 12, acc)      \
	SMLAL(17, 13, acc)       \
	SMLAL2(17, 13, acc)      \
	SMLAL(18, 14, acc)       \
	SMLAL2(18, 14, acc)      \
	SMLAL(19, 15, acc)       \
	SMLAL2(19, 15, acc)

#define Q4KSUB8(lo, hi, nlo, nhi, acc) \
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8] \
	XTN(16, 12)              \
	XTN2(17, 12)             \
	XTN(18, 13)              \
	XTN2(19, 13)             \
	SDOT(12, nlo, acc)       \
	SDOT(13, nhi, acc)

// Q4KCHUNK2(SUB, a, b): 32 bytes of nibbles at (R0) (R0 moves on by 32): the low nibbles into V(a), the high
// ones into V(b) (sub-blocks 2c and 2c+1), multiplied by SUB (Q4KSUB or Q4KSUB8).
#define Q4KCHUNK2(SUB, a, b) \
	VLD1.P 32(R0), [V0.B16, V1.B16] \
	VAND V31.B16, V0.B16, V2.B16    \
	VAND V31.B16, V1.B16, V3.B16    \
	VUSHR $4, V0.B16, V0.B16        \
	VUSHR $4, V1.B16, V1.B16        \
	SUB(V2, V3, 2, 3, a)            \
	SUB(V0, V1, 0, 1, b)

// func dotQ4_KQ16NEON(w *byte, q *int16, d *float32, s *int32, nsb int, tab *float32, sdot int) float32
// Σ over the nsb Q4_K super-blocks at w of D[b]·(d·sc_j·Σ q·x − dmin·m_j·S[b]) per sub-block j (block b of
// the activations): the sub-blocks' integer sums in eight accumulators (V20–V27), reduced pairwise into
// two vectors of four; the six-bit scales and minimums unpacked four at a time in general registers (as
// q4kScaleMin gives them), then the float arithmetic on vectors of four sub-blocks, summed across lanes
// once at the end. sdot ≠ 0: 8-bit activations, multiplied by SDOT.
TEXT ·dotQ4_KQ16NEON(SB), NOSPLIT, $0-60
	MOVD w+0(FP), R0
	MOVD q+8(FP), R2
	MOVD d+16(FP), R3
	MOVD s+24(FP), R6
	MOVD nsb+32(FP), R4
	MOVD tab+40(FP), R5
	MOVD sdot+48(FP), R21
	VMOVI $15, V31.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16

q4kfloop:
	CBZ R4, q4kfdone
	MOVHU.P 2(R0), R19 // d, dmin: indexes into the f16 table
	MOVHU.P 2(R0), R20
	MOVWU.P 4(R0), R11 // the scales and minimums: bytes 0–3, 4–7, 8–11
	MOVWU.P 4(R0), R13
	MOVWU.P 4(R0), R14
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	CBNZ R21, q4ks
	Q4KCHUNK2(Q4KSUB, 20, 21)
	Q4KCHUNK2(Q4KSUB, 22, 23)
	Q4KCHUNK2(Q4KSUB, 24, 25)
	Q4KCHUNK2(Q4KSUB, 26, 27)
	B q4ksums

q4ks:
	Q4KCHUNK2(Q4KSUB8, 20, 21)
	Q4KCHUNK2(Q4KSUB8, 22, 23)
	Q4KCHUNK2(Q4KSUB8, 24, 25)
	Q4KCHUNK2(Q4KSUB8, 26, 27)

q4ksums:
	// V8 = the sums of sub-blocks 0–3, V9 of 4–7.
	VADDP V21.S4, V20.S4, V8.S4
	VADDP V23.S4, V22.S4, V10.S4
	VADDP V10.S4, V8.S4, V8.S4
	VADDP V25.S4, V24.S4, V9.S4
	VADDP V27.S4, V26.S4, V10.S4
	VADDP V10.S4, V9.S4, V9.S4
	SCVTF4(8, 8)
	SCVTF4(9, 9)
	// sc0–3 = b0–3 & 63, m0–3 = b4–7 & 63, sc4–7 = b8–11 & 15 | (b0–3 >> 6) << 4, m4–7 = b8–11 >> 4 | (b4–7 >> 6) << 4.
	ANDW $0x3f3f3f3f, R11, R12
	ANDW $0x3f3f3f3f, R13, R15
	LSRW $6, R11, R11
	ANDW $0x03030303, R11, R11
	ANDW $0x0f0f0f0f, R14, R16
	ORRW R11<<4, R16, R16
	LSRW $6, R13, R13
	ANDW $0x03030303, R13, R13
	LSRW $4, R14, R14
	ANDW $0x0f0f0f0f, R14, R14
	ORRW R13<<4, R14, R14
	VMOV R12, V4.S[0] // V4 bytes: sc0–3, sc4–7, m0–3, m4–7
	VMOV R16, V4.S[1]
	VMOV R15, V4.S[2]
	VMOV R14, V4.S[3]
	VUXTL V4.B8, V5.H8   // sc0–7
	VUXTL2 V4.B16, V6.H8 // m0–7
	VUXTL V5.H4, V4.S4
	VUXTL2 V5.H8, V5.S4
	VUXTL V6.H4, V7.S4
	VUXTL2 V6.H8, V6.S4
	UCVTF4(4, 4) // sc0–3
	UCVTF4(5, 5) // sc4–7
	UCVTF4(7, 7) // m0–3
	UCVTF4(6, 6) // m4–7
	ADD R19<<2, R5, R10
	FMOVS (R10), F10
	ADD R20<<2, R5, R10
	FMOVS (R10), F11
	VDUP V10.S[0], V10.S4 // d
	VDUP V11.S[0], V11.S4 // dmin
	VLD1.P 32(R3), [V12.S4, V13.S4] // D of the eight blocks
	VLD1.P 32(R6), [V14.S4, V15.S4] // S of the eight blocks
	SCVTF4(14, 14)
	SCVTF4(15, 15)
	FMULV(4, 8, 8)   // sc·Σ
	FMULV(5, 9, 9)
	FMULV(10, 8, 8)  // ·d
	FMULV(10, 9, 9)
	FMULV(7, 14, 14) // m·S
	FMULV(6, 15, 15)
	VFMLS V11.S4, V14.S4, V8.S4 // − dmin·m·S
	VFMLS V11.S4, V15.S4, V9.S4
	VFMLA V12.S4, V8.S4, V28.S4 // += D·(…)
	VFMLA V13.S4, V9.S4, V29.S4
	SUB $1, R4
	B q4kfloop

q4kfdone:
	FADDV(29, 28, 28)
	FSUM4(28, 0)
	FMOVS F0, ret+56(FP)
	RET


// MMACTS: the block's activations of tokens a (R2) and b (R3), 16-bit, narrowed to bytes and paired eight
// values at a time for SMMLA: V16 = a0–7|b0–7, V17 = a8–15|b8–15, V18 = a16–23|b16–23, V19 = a24–31|b24–31.
#define MMACTS \
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8] \
	VLD1.P 64(R3), [V20.H8, V21.H8, V22.H8, V23.H8] \
	XTN(16, 24)                   \
	XTN2(17, 24)                  \
	XTN(18, 25)                   \
	XTN2(19, 25)                  \
	XTN(20, 26)                   \
	XTN2(21, 26)                  \
	XTN(22, 27)                   \
	XTN2(23, 27)                  \
	VZIP1 V26.D2, V24.D2, V16.D2  \
	VZIP2 V26.D2, V24.D2, V17.D2  \
	VZIP1 V27.D2, V25.D2, V18.D2  \
	VZIP2 V27.D2, V25.D2, V19.D2

// MMWEIGHTS: row 0's values 0–15 in V0 and 16–31 in V1, row 1's in V2 and V3, paired eight at a time
// (V4–V7) and multiplied with the activations' pairs: V8 = [row0·a, row0·b, row1·a, row1·b].
#define MMWEIGHTS \
	VZIP1 V2.D2, V0.D2, V4.D2     \
	VZIP2 V2.D2, V0.D2, V5.D2     \
	VZIP1 V3.D2, V1.D2, V6.D2     \
	VZIP2 V3.D2, V1.D2, V7.D2     \
	VEOR V8.B16, V8.B16, V8.B16   \
	SMMLA(16, 4, 8)               \
	SMMLA(17, 5, 8)               \
	SMMLA(18, 6, 8)               \
	SMMLA(19, 7, 8)

// MMSCALE: V28 += float(V8) × [d0·da, d0·db, d1·da, d1·db], d0/d1 the rows' scales (table indexes in R10
// and R11), da/db the tokens' at (R12) and (R13), which move on by 4.
#define MMSCALE \
	ADD R10<<2, R5, R10           \
	FMOVS (R10), F9               \
	ADD R11<<2, R5, R11           \
	FMOVS (R11), F10              \
	FMOVS.P 4(R12), F11           \
	FMOVS.P 4(R13), F12           \
	FMULS F11, F9, F13            \
	FMULS F12, F9, F14            \
	FMULS F11, F10, F15           \
	FMULS F12, F10, F9            \
	VMOV V13.S[0], V30.S[0]       \
	VMOV V14.S[0], V30.S[1]       \
	VMOV V15.S[0], V30.S[2]       \
	VMOV V9.S[0], V30.S[3]        \
	SCVTF4(8, 8)                  \
	VFMLA V30.S4, V8.S4, V28.S4

// func dotx2x2MMLA(w *byte, stride int, qa, qb *int16, da, db *float32, sa, sb *int32, nb int, tab *float32, out *float32, q4 int)
// out = [row0·a, row0·b, row1·a, row1·b] for two rows (w, w+stride) and two tokens' 8-bit activations:
// Q8_0 rows, or Q4_0 ones where q4 ≠ 0 (nibbles 0…15 as bytes, and 8·S of each token taken off its
// products).
TEXT ·dotx2x2MMLA(SB), NOSPLIT, $0-96
	MOVD w+0(FP), R0
	MOVD stride+8(FP), R7
	ADD R0, R7, R7
	MOVD qa+16(FP), R2
	MOVD qb+24(FP), R3
	MOVD da+32(FP), R12
	MOVD db+40(FP), R13
	MOVD sa+48(FP), R14
	MOVD sb+56(FP), R15
	MOVD nb+64(FP), R4
	MOVD tab+72(FP), R5
	MOVD out+80(FP), R6
	MOVD q4+88(FP), R8
	VMOVI $15, V31.B16
	VEOR V28.B16, V28.B16, V28.B16

mmloop:
	CBZ R4, mmdone
	MMACTS
	CBNZ R8, mmq4
	MOVHU.P 2(R0), R10
	VLD1.P 32(R0), [V0.B16, V1.B16]
	MOVHU.P 2(R7), R11
	VLD1.P 32(R7), [V2.B16, V3.B16]
	MMWEIGHTS
	B mmscale

mmq4:
	MOVHU.P 2(R0), R10
	VLD1.P 16(R0), [V0.B16]
	MOVHU.P 2(R7), R11
	VLD1.P 16(R7), [V2.B16]
	VUSHR $4, V0.B16, V1.B16
	VAND V31.B16, V0.B16, V0.B16
	VUSHR $4, V2.B16, V3.B16
	VAND V31.B16, V2.B16, V2.B16
	MMWEIGHTS
	MOVW.P 4(R14), R16 // 8·[Sa, Sb, Sa, Sb] off the sums
	MOVW.P 4(R15), R17
	LSLW $3, R16, R16
	LSLW $3, R17, R17
	VMOV R16, V29.S[0]
	VMOV R17, V29.S[1]
	VMOV R16, V29.S[2]
	VMOV R17, V29.S[3]
	VSUB V29.S4, V8.S4, V8.S4

mmscale:
	MMSCALE
	SUB $1, R4
	B mmloop

mmdone:
	VST1 [V28.S4], (R6)
	RET
