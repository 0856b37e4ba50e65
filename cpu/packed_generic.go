//go:build !amd64 || noasm

package cpu

import "github.com/llamago/llamago/gguf"

// usePacked is false without the assembly kernels: weights keep the file's layout.
const usePacked = false

// packedTokens: nothing is packed without the assembly kernels.
func packedTokens(gguf.Type, int, bool) bool { return false }

// packedGroups: the portable loop takes tokens one at a time.
func packedGroups() bool { return false }

// packedKernel is the portable loop (tests only: nothing is packed without the assembly kernels).
func packedKernel(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	packedKernelGo(t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
}

// packedKernel16 is the portable loop (tests only).
func packedKernel16(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	packedKernel16Go(t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
}

// packedCodes: no kernel reads the tokens' codes without the assembly.
func packedCodes(gguf.Type, bool) bool { return false }

// packedKernelCodes is never called without the assembly (packedCodes).
func packedKernelCodes(gguf.Type, bool, []byte, int, int, []int16, []float32, []int32, []float32, []float32, int) {
	panic("packed kernel: no kernel reads codes without the assembly")
}

// unpackPackedFast has no portable form: unpackPacked's loop runs.
func unpackPackedFast(gguf.Type, []byte, []byte, int, *strip) bool { return false }

// isAMD: without the assembly kernels the vendor does not matter (the portable loop reads a strip at a time).
func isAMD() bool { return false }
