// Package cpu holds the CPU kernels: plain functions on slices, named by operation and layout. Each doc
// comment states the reference loop. Callers pass destinations and scratch; kernels allocate nothing.
// Weights arrive in their GGUF block layout, straight from the mapped file.
package cpu
