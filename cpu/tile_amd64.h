// Stores shared by the tile kernels (gemm_amd64.s, packed_amd64.s): the 16 rows' float sums of each token
// (Z8, Z9, …) at AX, AX+BX, …

// ZERO4 clears the first four tokens' sums (Z8–Z11), ZEROALL the eight (Z8–Z15).
#define ZERO4 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11

#define ZEROALL \
	ZERO4 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15

// STORE4 stores the first four tokens' sums.
#define STORE4 \
	VMOVUPS Z8, (AX) \
	ADDQ BX, AX \
	VMOVUPS Z9, (AX) \
	ADDQ BX, AX \
	VMOVUPS Z10, (AX) \
	ADDQ BX, AX \
	VMOVUPS Z11, (AX)

// STOREALL stores the eight tokens' sums.
#define STOREALL \
	STORE4 \
	ADDQ BX, AX \
	VMOVUPS Z12, (AX) \
	ADDQ BX, AX \
	VMOVUPS Z13, (AX) \
	ADDQ BX, AX \
	VMOVUPS Z14, (AX) \
	ADDQ BX, AX \
	VMOVUPS Z15, (AX)

// SPLIT4(M, L0…L3, H0…H3): the bytes of L0–L3 split into their low nibbles (kept in L) and high nibbles
// (into H), M holding 0x0F in every byte.
#define SPLIT4(M, L0, L1, L2, L3, H0, H1, H2, H3) \
	VPSRLW $4, L0, H0 \
	VPSRLW $4, L1, H1 \
	VPSRLW $4, L2, H2 \
	VPSRLW $4, L3, H3 \
	VPANDD M, L0, L0 \
	VPANDD M, L1, L1 \
	VPANDD M, L2, L2 \
	VPANDD M, L3, L3 \
	VPANDD M, H0, H0 \
	VPANDD M, H1, H1 \
	VPANDD M, H2, H2 \
	VPANDD M, H3, H3
