// Package cpu holds the CPU kernels: plain functions on slices, named by operation and layout. Each doc
// comment states the reference loop. Weights arrive in their GGUF block layout, straight from the mapped
// file; kernels allocate nothing once the Pool's workspaces have grown to the largest call.
//
// A matrix product takes one of four paths by the number of tokens n (MatMuls): one or a few tokens, the
// one-row integer kernels (quant.go: a row's blocks decoded against each token, two tokens per pass); 5 to
// 48 tokens of Q4_0/Q4_K/Q6_K — sequences decoding together — the few-token kernels (gemv.go: eight rows
// widened once, each weight pair broadcast against the tokens across a register's lanes); prompt-sized
// batches, the tiles (gemm.go: strips of sixteen rows unpacked once for every token); other types, float
// dot products. All of them round activations to 16 bits per block of 32 the same way, so they differ only
// by float rounding.
package cpu
