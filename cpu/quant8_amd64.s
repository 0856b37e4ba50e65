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
// Rows are at SI, SI+R9, SI+R10, SI+R11 (and from BX = SI + 4·stride); the rows' float sums in Y0's lanes,
// their int32 partial sums per block in Y8–Y15.

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
	LEAQ (R9)(R9*1), R10 \
	LEAQ (R10)(R9*1), R11 \
	LEAQ (SI)(R9*4), BX \
	MOVL $0x0F0F0F0F, AX \
	VPBROADCASTD AX, Y19 \
	VMOVDQU32 shift4hi<>(SB), Y20 \
	VPXORD Y0, Y0, Y0 \
	VPXORD Y8, Y8, Y8 \
	VPXORD Y9, Y9, Y9 \
	VPXORD Y10, Y10, Y10

// ROWI8: one Q4_0 block of the row at addr (plus off bytes): its eight int32 partial sums, starting at
// Y18 (−8·Σq in lane 0), nibbles against Y16, in R.
#define ROWI8(off, addr, R) \
	VBROADCASTI128 (off+2)addr, Y1 \
	VPSRLVD Y20, Y1, Y1 \
	VPANDD Y19, Y1, Y1 \
	VMOVDQA64 Y18, R \
	VPDPBUSD Y16, Y1, R

// ACTQ8: the activation block k (from DI, DX, R12) into Y16–Y18.
#define ACTQ8(k) \
	VMOVDQU16 ((k)*64)(DI), Z3 \
	VPMOVWB Z3, Y16 \
	VBROADCASTSS ((k)*4)(DX), Y17 \
	MOVL ((k)*4)(R12), AX \
	SHLL $3, AX \
	NEGL AX \
	VMOVD AX, X18

// The float side follows the prompt tile's recipe (gemm16x16VNNI8's FOLD) exactly: each row's block sum is
// reduced to one exact int32 total, then F += d_w · (float(total)·d_x), block after block, the rows across
// the lanes of Y0. So a row's product is the
// same float whether it came through here (one token) or through the tile (a batch): with 8-bit
// activations, whose rounding any difference could tip, a sequence's tokens then do not depend on what it
// is batched with.

// SCALES4(off, base, R): the fp16 scales of the four rows' blocks at base+off (rows base, +R9, +R10, +R11)
// side by side in R (R13 is the temporary): loads on the integer side, which has room.
#define SCALES4(off, base, R) \
	MOVWLZX off(base), R \
	MOVWLZX off(base)(R9*1), R13 \
	SHLQ $16, R13 \
	ORQ R13, R \
	MOVWLZX off(base)(R10*1), R13 \
	SHLQ $32, R13 \
	ORQ R13, R \
	MOVWLZX off(base)(R11*1), R13 \
	SHLQ $48, R13 \
	ORQ R13, R

// FOLD8Q8(off): the eight rows' partial sums (Y8–Y15) reduced and folded into Y0.
#define FOLD8Q8(off) \
	VPHADDD Y9, Y8, Y8 \
	VPHADDD Y11, Y10, Y10 \
	VPHADDD Y13, Y12, Y12 \
	VPHADDD Y15, Y14, Y14 \
	VPHADDD Y10, Y8, Y8 \
	VPHADDD Y14, Y12, Y12 \
	VPERM2I128 $0x20, Y12, Y8, Y3 \
	VPERM2I128 $0x31, Y12, Y8, Y4 \
	VPADDD Y4, Y3, Y3 \
	VCVTDQ2PS Y3, Y3 \
	VMULPS Y17, Y3, Y3 \
	SCALES4(off, SI, AX) \
	SCALES4(off, BX, R8) \
	VMOVQ AX, X5 \
	VPINSRQ $1, R8, X5, X5 \
	VCVTPH2PS X5, Y5 \
	VFMADD231PS Y5, Y3, Y0

// FOLD4Q8(off): four rows' partial sums (Y8–Y11) reduced and folded into X0.
#define FOLD4Q8(off) \
	VPHADDD Y9, Y8, Y8 \
	VPHADDD Y11, Y10, Y10 \
	VPHADDD Y10, Y8, Y8 \
	VEXTRACTI128 $1, Y8, X3 \
	VPADDD X3, X8, X3 \
	VCVTDQ2PS X3, X3 \
	VMULPS X17, X3, X3 \
	SCALES4(off, SI, AX) \
	VMOVQ AX, X5 \
	VCVTPH2PS X5, X5 \
	VFMADD231PS X5, X3, X0

// BLOCK4Q8: activation block k against the four rows' block at SI+off.
#define BLOCK4Q8(k, off) \
	ACTQ8(k) \
	ROWI8(off, (SI), Y8) \
	ROWI8(off, (SI)(R9*1), Y9) \
	ROWI8(off, (SI)(R10*1), Y10) \
	ROWI8(off, (SI)(R11*1), Y11) \
	FOLD4Q8(off)

// BLOCK8Q8: activation block k against eight rows' block: rows 0–3 from SI, 4–7 from BX.
#define BLOCK8Q8(k, off) \
	ACTQ8(k) \
	ROWI8(off, (SI), Y8) \
	ROWI8(off, (SI)(R9*1), Y9) \
	ROWI8(off, (SI)(R10*1), Y10) \
	ROWI8(off, (SI)(R11*1), Y11) \
	ROWI8(off, (BX), Y12) \
	ROWI8(off, (BX)(R9*1), Y13) \
	ROWI8(off, (BX)(R10*1), Y14) \
	ROWI8(off, (BX)(R11*1), Y15) \
	FOLD8Q8(off)

#define HSUM8(Y, X, out) \
	VEXTRACTF128 $1, Y, X15 \
	VADDPS X15, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X \
	VMOVSS X, out

// Q4_K, four rows: per super-block the eight activation blocks are narrowed once into Y16–Y23, Y24 holds
// their scales D_j and Y25 D_j·Σq_j; per row the 6-bit scales and mins are unpacked (in AX and R13)
// into d·sc_j·D_j (t-32…t-1, broadcast by the FMAs) and the min term dmin·Σ m_j·D_j·Σq_j, which goes to
// its own sums (Y11–Y14) and comes off at the end. Float sums Y0, Y8–Y10; Y26 the nibble mask.

// Q4KROW8(ACC, MACC): the super-block of the row at BX.
#define Q4KROW8(ACC, MACC) \
	MOVL 12(BX), R13 \
	ANDL $0x0f0f0f0f, R13 \
	MOVL 4(BX), AX \
	SHRL $6, AX \
	ANDL $0x03030303, AX \
	SHLL $4, AX \
	ORL AX, R13 \
	SHLQ $32, R13 \
	MOVL 4(BX), AX \
	ANDL $0x3f3f3f3f, AX \
	ORQ R13, AX \
	VMOVQ AX, X3 \
	VPMOVZXBD X3, Y3 \
	VCVTDQ2PS Y3, Y3 \
	VMULPS Y24, Y3, Y3 \
	MOVWLZX (BX), AX \
	VMULPS.BCST (R8)(AX*4), Y3, Y3 \
	VMOVUPS Y3, t-32(SP) \
	MOVL 12(BX), R13 \
	SHRL $4, R13 \
	ANDL $0x0f0f0f0f, R13 \
	MOVL 8(BX), AX \
	SHRL $6, AX \
	ANDL $0x03030303, AX \
	SHLL $4, AX \
	ORL AX, R13 \
	SHLQ $32, R13 \
	MOVL 8(BX), AX \
	ANDL $0x3f3f3f3f, AX \
	ORQ R13, AX \
	VMOVQ AX, X4 \
	VPMOVZXBD X4, Y4 \
	VCVTDQ2PS Y4, Y4 \
	VMULPS Y25, Y4, Y4 \
	MOVWLZX 2(BX), AX \
	VFMADD231PS.BCST (R8)(AX*4), Y4, MACC \
	Q4KCHUNK8(16, Y16, Y17, t-32(SP), t-28(SP), ACC) \
	Q4KCHUNK8(48, Y18, Y19, t-24(SP), t-20(SP), ACC) \
	Q4KCHUNK8(80, Y20, Y21, t-16(SP), t-12(SP), ACC) \
	Q4KCHUNK8(112, Y22, Y23, t-8(SP), t-4(SP), ACC)

// Q4KCHUNK8: 32 bytes of nibbles at off(BX): the low ones against activation block A0, the high against A1,
// scaled by the broadcast S0 and S1.
#define Q4KCHUNK8(off, A0, A1, S0, S1, ACC) \
	VMOVDQU off(BX), Y1 \
	VPSRLW $4, Y1, Y2 \
	VPANDD Y26, Y1, Y1 \
	VPANDD Y26, Y2, Y2 \
	VPXORD Y5, Y5, Y5 \
	VPDPBUSD A0, Y1, Y5 \
	VPXORD Y6, Y6, Y6 \
	VPDPBUSD A1, Y2, Y6 \
	VCVTDQ2PS Y5, Y5 \
	VFMADD231PS.BCST S0, Y5, ACC \
	VCVTDQ2PS Y6, Y6 \
	VFMADD231PS.BCST S1, Y6, ACC

#define NARROW(k, A) \
	VMOVDQU16 ((k)*64)(DI), Z3 \
	VPMOVWB Z3, A

// Q6_K, four rows: per super-block the eight activation blocks are narrowed into Y16–Y23 and, for the
// codes' offset of 32, −32·(the sums of each four activations) are kept on the stack (t-256…t-1) as the
// starting value of each block's VPDPBUSD, so its lanes are Σ (q−32)·x exactly. Lanes 0–3 hold values
// 0–15 of a group of 32 and lanes 4–7 values 16–31, which have their own scales: VPERMPS with Y27–Y30
// spreads a half's eight scales (d·sc, Y11 and Y12) over the lanes of group g. Y24 masks nibbles, Y25 the
// two high bits in place (0x30); float sums Y0, Y8–Y10.

// Q6KGROUP(k, Q, A, IDX, SV, ACC): the 32 six-bit codes Q against activation block k (A), scaled by the
// lanes of SV that IDX picks.
#define Q6KGROUP(k, Q, A, IDX, SV, ACC) \
	VMOVDQU32 t-(256-(k)*32)(SP), Y6 \
	VPDPBUSD A, Q, Y6 \
	VCVTDQ2PS Y6, Y6 \
	VMULPS.BCST ((k)*4)(DX), Y6, Y6 \
	VPERMPS SV, IDX, Y7 \
	VFMADD231PS Y7, Y6, ACC

// Q6KHALF(n, k, A0…A3, SV, ACC): half n (activation blocks k…k+3) of the super-block at BX (64 bytes of low nibbles, 32 of high bits).
#define Q6KHALF(n, k, A0, A1, A2, A3, SV, ACC) \
	VMOVDQU (n*64)(BX), Y1 \
	VMOVDQU (n*64+32)(BX), Y2 \
	VMOVDQU (128+n*32)(BX), Y3 \
	VPSLLW $4, Y3, Y4 \
	VPANDD Y25, Y4, Y4 \
	VMOVDQA64 Y1, Y5 \
	VPTERNLOGD $0xEC, Y24, Y4, Y5 \
	Q6KGROUP(k, Y5, A0, Y27, SV, ACC) \
	VPSLLW $2, Y3, Y4 \
	VPANDD Y25, Y4, Y4 \
	VMOVDQA64 Y2, Y5 \
	VPTERNLOGD $0xEC, Y24, Y4, Y5 \
	Q6KGROUP(k+1, Y5, A1, Y28, SV, ACC) \
	VPSRLW $4, Y1, Y1 \
	VPANDD Y25, Y3, Y4 \
	VPTERNLOGD $0xEC, Y24, Y4, Y1 \
	Q6KGROUP(k+2, Y1, A2, Y29, SV, ACC) \
	VPSRLW $4, Y2, Y2 \
	VPSRLW $2, Y3, Y4 \
	VPANDD Y25, Y4, Y4 \
	VPTERNLOGD $0xEC, Y24, Y4, Y2 \
	Q6KGROUP(k+3, Y2, A3, Y30, SV, ACC)

// Q6KROW8(ACC): the super-block of the row at BX.
#define Q6KROW8(ACC) \
	MOVWLZX 208(BX), AX \
	VPMOVSXBD 192(BX), Y11 \
	VCVTDQ2PS Y11, Y11 \
	VMULPS.BCST (R8)(AX*4), Y11, Y11 \
	VPMOVSXBD 200(BX), Y12 \
	VCVTDQ2PS Y12, Y12 \
	VMULPS.BCST (R8)(AX*4), Y12, Y12 \
	Q6KHALF(0, 0, Y16, Y17, Y18, Y19, Y11, ACC) \
	Q6KHALF(1, 4, Y20, Y21, Y22, Y23, Y12, ACC)

// NEGSUM(k, A): −32·(sums of four) of activation block k (A) to the stack, Y26 holding bytes of 32.
#define NEGSUM(k, A) \
	VPXORD Y6, Y6, Y6 \
	VPDPBUSD A, Y26, Y6 \
	VPXORD Y7, Y7, Y7 \
	VPSUBD Y6, Y7, Y7 \
	VMOVDQU32 Y7, t-(256-(k)*32)(SP)

// func dotQ4_0Q8x4VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nb int, out *float32)
// The loop takes two blocks at a time and prefetches the next four rows (the caller's next call) once per
// pair, as the 16-bit kernels do: rows of a few hundred bytes are too short for the hardware prefetcher.
TEXT ·dotQ4_0Q8x4VNNI(SB), NOSPLIT, $0-56
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
	MOVQ out+48(FP), BX
	VMOVUPS X0, (BX)
	VZEROUPPER
	RET

// func dotQ4_0Q8x8VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nb int, out *float32)
// dotQ4_0Q8x4VNNI for eight rows: rows 4–7 at BX = SI + 4·stride; the next eight rows are prefetched from
// AX = BX + 4·stride, computed for each pair of blocks.
TEXT ·dotQ4_0Q8x8VNNI(SB), NOSPLIT, $0-56
	Q8SETUP4
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
	MOVQ out+48(FP), BX
	VMOVUPS Y0, (BX)
	VZEROUPPER
	RET

// func dotQ4_KQ8x4VNNI(w *byte, stride int, q *int16, d *float32, s *int32, nsb int, tab *float32, out *float32)
TEXT ·dotQ4_KQ8x4VNNI(SB), NOSPLIT, $32-64
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R9
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), DX
	MOVQ s+32(FP), R12
	MOVQ nsb+40(FP), CX
	MOVQ tab+48(FP), R8
	LEAQ (R9)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	MOVL $0x0F0F0F0F, AX
	VPBROADCASTD AX, Y26
	VPXORD Y0, Y0, Y0
	VPXORD Y8, Y8, Y8
	VPXORD Y9, Y9, Y9
	VPXORD Y10, Y10, Y10
	VPXORD Y11, Y11, Y11
	VPXORD Y12, Y12, Y12
	VPXORD Y13, Y13, Y13
	VPXORD Y14, Y14, Y14
q4kq8loop:
	LEAQ (SI)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 64(AX)
	PREFETCHT1 128(AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 64(AX)(R9*1)
	PREFETCHT1 128(AX)(R9*1)
	PREFETCHT1 (AX)(R10*1)
	PREFETCHT1 64(AX)(R10*1)
	PREFETCHT1 128(AX)(R10*1)
	PREFETCHT1 (AX)(R11*1)
	PREFETCHT1 64(AX)(R11*1)
	PREFETCHT1 128(AX)(R11*1)
	NARROW(0, Y16)
	NARROW(1, Y17)
	NARROW(2, Y18)
	NARROW(3, Y19)
	NARROW(4, Y20)
	NARROW(5, Y21)
	NARROW(6, Y22)
	NARROW(7, Y23)
	VMOVUPS (DX), Y24
	VCVTDQ2PS (R12), Y25
	VMULPS Y24, Y25, Y25
	MOVQ SI, BX
	Q4KROW8(Y0, Y11)
	LEAQ (SI)(R9*1), BX
	Q4KROW8(Y8, Y12)
	LEAQ (SI)(R10*1), BX
	Q4KROW8(Y9, Y13)
	LEAQ (SI)(R11*1), BX
	Q4KROW8(Y10, Y14)
	ADDQ $144, SI
	ADDQ $512, DI
	ADDQ $32, DX
	ADDQ $32, R12
	DECQ CX
	JNZ  q4kq8loop
	VSUBPS Y11, Y0, Y0
	VSUBPS Y12, Y8, Y8
	VSUBPS Y13, Y9, Y9
	VSUBPS Y14, Y10, Y10
	MOVQ out+56(FP), BX
	HSUM8(Y0, X0, (BX))
	HSUM8(Y8, X8, 4(BX))
	HSUM8(Y9, X9, 8(BX))
	HSUM8(Y10, X10, 12(BX))
	VZEROUPPER
	RET

// Q6_K's VPERMPS indices: group g of a half takes scales 2g (lanes 0–3) and 2g+1 (lanes 4–7).
DATA q6kidx<>+0(SB)/8, $0x0000000000000000
DATA q6kidx<>+8(SB)/8, $0x0000000000000000
DATA q6kidx<>+16(SB)/8, $0x0000000100000001
DATA q6kidx<>+24(SB)/8, $0x0000000100000001
DATA q6kidx<>+32(SB)/8, $0x0000000200000002
DATA q6kidx<>+40(SB)/8, $0x0000000200000002
DATA q6kidx<>+48(SB)/8, $0x0000000300000003
DATA q6kidx<>+56(SB)/8, $0x0000000300000003
DATA q6kidx<>+64(SB)/8, $0x0000000400000004
DATA q6kidx<>+72(SB)/8, $0x0000000400000004
DATA q6kidx<>+80(SB)/8, $0x0000000500000005
DATA q6kidx<>+88(SB)/8, $0x0000000500000005
DATA q6kidx<>+96(SB)/8, $0x0000000600000006
DATA q6kidx<>+104(SB)/8, $0x0000000600000006
DATA q6kidx<>+112(SB)/8, $0x0000000700000007
DATA q6kidx<>+120(SB)/8, $0x0000000700000007
GLOBL q6kidx<>(SB), RODATA|NOPTR, $128

// func dotQ6_KQ8x4VNNI(w *byte, stride int, q *int16, d *float32, nsb int, tab *float32, out *float32)
TEXT ·dotQ6_KQ8x4VNNI(SB), NOSPLIT, $256-56
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R9
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), DX
	MOVQ nsb+32(FP), CX
	MOVQ tab+40(FP), R8
	LEAQ (R9)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	MOVL $0x0F0F0F0F, AX
	VPBROADCASTD AX, Y24
	MOVL $0x30303030, AX
	VPBROADCASTD AX, Y25
	MOVL $0x20202020, AX
	VPBROADCASTD AX, Y26
	VMOVDQU32 q6kidx<>+0(SB), Y27
	VMOVDQU32 q6kidx<>+32(SB), Y28
	VMOVDQU32 q6kidx<>+64(SB), Y29
	VMOVDQU32 q6kidx<>+96(SB), Y30
	VPXORD Y0, Y0, Y0
	VPXORD Y8, Y8, Y8
	VPXORD Y9, Y9, Y9
	VPXORD Y10, Y10, Y10
q6kq8loop:
	LEAQ (SI)(R9*4), AX
	PREFETCHT1 (AX)
	PREFETCHT1 64(AX)
	PREFETCHT1 128(AX)
	PREFETCHT1 192(AX)
	PREFETCHT1 (AX)(R9*1)
	PREFETCHT1 64(AX)(R9*1)
	PREFETCHT1 128(AX)(R9*1)
	PREFETCHT1 192(AX)(R9*1)
	PREFETCHT1 (AX)(R10*1)
	PREFETCHT1 64(AX)(R10*1)
	PREFETCHT1 128(AX)(R10*1)
	PREFETCHT1 192(AX)(R10*1)
	PREFETCHT1 (AX)(R11*1)
	PREFETCHT1 64(AX)(R11*1)
	PREFETCHT1 128(AX)(R11*1)
	PREFETCHT1 192(AX)(R11*1)
	NARROW(0, Y16)
	NARROW(1, Y17)
	NARROW(2, Y18)
	NARROW(3, Y19)
	NARROW(4, Y20)
	NARROW(5, Y21)
	NARROW(6, Y22)
	NARROW(7, Y23)
	NEGSUM(0, Y16)
	NEGSUM(1, Y17)
	NEGSUM(2, Y18)
	NEGSUM(3, Y19)
	NEGSUM(4, Y20)
	NEGSUM(5, Y21)
	NEGSUM(6, Y22)
	NEGSUM(7, Y23)
	MOVQ SI, BX
	Q6KROW8(Y0)
	LEAQ (SI)(R9*1), BX
	Q6KROW8(Y8)
	LEAQ (SI)(R10*1), BX
	Q6KROW8(Y9)
	LEAQ (SI)(R11*1), BX
	Q6KROW8(Y10)
	ADDQ $210, SI
	ADDQ $512, DI
	ADDQ $32, DX
	DECQ CX
	JNZ  q6kq8loop
	MOVQ out+48(FP), BX
	HSUM8(Y0, X0, (BX))
	HSUM8(Y8, X8, 4(BX))
	HSUM8(Y9, X9, 8(BX))
	HSUM8(Y10, X10, 12(BX))
	VZEROUPPER
	RET
