// Stores shared by the tile kernels (gemm_amd64.s, packed_amd64.s): the 16 rows' float sums of each token
// (Z8, Z9, …) at AX, AX+BX, …

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
