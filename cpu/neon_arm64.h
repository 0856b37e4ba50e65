// Encodings of the NEON instructions Go's arm64 assembler has no mnemonics for, from the fields of the Arm
// A64 manual, with their operands as register numbers (go tool objdump decodes them back by name). Shared
// by quant_arm64.s and float_arm64.s.

// SMLAL Vd.4S, Vn.4H, Vm.4H and SMLAL2 Vd.4S, Vn.8H, Vm.8H (the high halves): d += n × m, widened.
#define SMLAL(m, n, d) WORD $(0x0E608000 | ((m)<<16) | ((n)<<5) | (d))
#define SMLAL2(m, n, d) WORD $(0x4E608000 | ((m)<<16) | ((n)<<5) | (d))
// SXTL Vd.8H, Vn.8B and SXTL2 Vd.8H, Vn.16B: bytes sign-extended to 16 bits (SSHLL #0).
#define SXTL(n, d) WORD $(0x0F08A400 | ((n)<<5) | (d))
#define SXTL2(n, d) WORD $(0x4F08A400 | ((n)<<5) | (d))
// SXTLH Vd.4S, Vn.4H and SXTLH2 Vd.4S, Vn.8H: 16-bit lanes sign-extended to 32 bits (SSHLL #0).
#define SXTLH(n, d) WORD $(0x0F10A400 | ((n)<<5) | (d))
#define SXTLH2(n, d) WORD $(0x4F10A400 | ((n)<<5) | (d))
// XTN Vd.8B, Vn.8H and XTN2 Vd.16B, Vn.8H: 16-bit lanes narrowed to their low bytes.
#define XTN(n, d) WORD $(0x0E212800 | ((n)<<5) | (d))
#define XTN2(n, d) WORD $(0x4E212800 | ((n)<<5) | (d))
// SDOT Vd.4S, Vn.16B, Vm.16B (ARMv8.2 dot product): each 32-bit lane += the four products of its bytes.
#define SDOT(m, n, d) WORD $(0x4E809400 | ((m)<<16) | ((n)<<5) | (d))
// SMMLA Vd.4S, Vn.16B, Vm.16B (ARMv8.6 int8 matrix multiply): Vd's 2×2 int32 += Vn (2×8 int8, rows) ×
// Vmᵀ (2×8 int8, rows).
#define SMMLA(m, n, d) WORD $(0x4E80A400 | ((m)<<16) | ((n)<<5) | (d))
// SCVTF/UCVTF Vd.4S, Vn.4S (int32 → float).
#define SCVTF4(n, d) WORD $(0x4E21D800 | ((n)<<5) | (d))
#define UCVTF4(n, d) WORD $(0x6E21D800 | ((n)<<5) | (d))
// FMUL, FADD and FADDP (pairwise) Vd.4S, Vn.4S, Vm.4S; FADDP Sd, Vn.2S.
#define FMULV(m, n, d) WORD $(0x6E20DC00 | ((m)<<16) | ((n)<<5) | (d))
#define FADDV(m, n, d) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))
#define FADDPV(m, n, d) WORD $(0x6E20D400 | ((m)<<16) | ((n)<<5) | (d))
#define FADDPS(n, d) WORD $(0x7E30D800 | ((n)<<5) | (d))
// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H: halves to floats (exact).
#define FCVTL(n, d) WORD $(0x0E217800 | ((n)<<5) | (d))
#define FCVTL2(n, d) WORD $(0x4E217800 | ((n)<<5) | (d))
// FSUB, FDIV, FMAX Vd.4S, Vn.4S, Vm.4S; FMAXV Sd, Vn.4S; FRINTN (to nearest, ties to even) and FCVTZS
// (float → int32) Vd.4S, Vn.4S; SMIN Vd.4S (int32); FCMGT Vd.4S = Vn > Vm (all ones or zeros).
#define FSUBV(m, n, d) WORD $(0x4EA0D400 | ((m)<<16) | ((n)<<5) | (d))
#define FDIVV(m, n, d) WORD $(0x6E20FC00 | ((m)<<16) | ((n)<<5) | (d))
#define FMAXVV(m, n, d) WORD $(0x4E20F400 | ((m)<<16) | ((n)<<5) | (d))
#define FMAXV4(n, d) WORD $(0x6E30F800 | ((n)<<5) | (d))
#define FRINTN4(n, d) WORD $(0x4E218800 | ((n)<<5) | (d))
#define FCVTZS4(n, d) WORD $(0x4EA1B800 | ((n)<<5) | (d))
#define SMIN4(m, n, d) WORD $(0x4EA06C00 | ((m)<<16) | ((n)<<5) | (d))
#define FCMGT4(m, n, d) WORD $(0x6EA0E400 | ((m)<<16) | ((n)<<5) | (d))
// FSUM4(v, f): Ff = the sum of Vv's four float lanes (Vv is overwritten).
#define FSUM4(v, f) \
	FADDPV(v, v, v) \
	FADDPS(v, f)
