// Package cpu holds the CPU kernels: plain functions on slices, named by operation and layout. Each doc
// comment states the reference loop. Weights arrive in their GGUF block layout, straight from the mapped
// file; kernels allocate nothing once the Pool's workspaces have grown to the largest call.
//
// On CPUs with AVX-512 VNNI or AVX2, Q4_0, Q8_0, Q4_K and Q6_K matrices are packed once at load
// (Weight.Pack, packed.go: strips of sixteen rows, one per int32 lane), and their products take the packed
// kernels — with AVX-512 VNNI every product at 8 bits and at 16 bits those of up to 95 tokens; with AVX2
// alone, one-token kernels token after token up to packedAVX2Tokens (4 to 16 by type) — and the tiles on
// strips unpacked from the packed rows beyond. Both fold their sums exactly as the prompt tiles do, so a
// token's result does not depend on its batch.
//
// Unpacked matrices (and every matrix on arm64 or without assembly) take one of four paths by the number
// of tokens n (MatMuls): one or a few tokens, the one-row integer kernels (quant.go: a row's blocks
// decoded against each token, two tokens per pass); 5 to 48 tokens of Q4_0/Q8_0/Q4_K/Q6_K with AVX-512
// VNNI — sequences decoding together — the few-token kernels (gemv.go: eight rows widened once, each
// weight pair broadcast against the tokens across a register's lanes); prompt-sized batches, the tiles
// (gemm.go: strips of sixteen rows unpacked once for every token); other types, float dot products. All
// of them round activations per block of 32 the same way (16 bits, or with Pool.SetActivationBits(8)
// llama.cpp's 8-bit rounding for the weight's type), so they differ only by float rounding.
package cpu
