//go:build amd64 && !noasm

#include "textflag.h"

// func readAVX2(p *byte, n int) uint64
// XORs n bytes (a multiple of 256) into 256-bit accumulators, read as eight streams side by side, at
// p + k·n/8 for k = 0…7: one stream per core leaves the memory system idle between misses, and decoding
// reads eight weight rows at once.
TEXT ·readAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $3, CX             // s: bytes per stream
	LEAQ (SI)(CX*1), DI     // stream 1
	LEAQ (DI)(CX*1), R8     // stream 2
	LEAQ (R8)(CX*1), R9     // stream 3
	LEAQ (R9)(CX*1), R10    // stream 4
	LEAQ (R10)(CX*1), R11   // stream 5
	LEAQ (R11)(CX*1), R12   // stream 6
	LEAQ (R12)(CX*1), R13   // stream 7
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	XORQ AX, AX
	TESTQ CX, CX
	JZ done
loop:
	VPXOR (SI)(AX*1), Y0, Y0
	VPXOR (DI)(AX*1), Y1, Y1
	VPXOR (R8)(AX*1), Y2, Y2
	VPXOR (R9)(AX*1), Y3, Y3
	VPXOR (R10)(AX*1), Y0, Y0
	VPXOR (R11)(AX*1), Y1, Y1
	VPXOR (R12)(AX*1), Y2, Y2
	VPXOR (R13)(AX*1), Y3, Y3
	ADDQ $32, AX
	CMPQ AX, CX
	JLT loop
done:
	VPXOR Y1, Y0, Y0
	VPXOR Y3, Y2, Y2
	VPXOR Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPXOR X1, X0, X0
	VPSRLDQ $8, X0, X1
	VPXOR X1, X0, X0
	MOVQ X0, AX
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET
