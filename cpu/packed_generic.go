//go:build !amd64 || noasm

package cpu

import "github.com/llamago/llamago/gguf"

// usePacked is false without the assembly kernels: weights keep the file's layout.
const usePacked = false

// packedKernel is the portable loop (tests only: nothing is packed without the assembly kernels).
func packedKernel(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	packedKernelGo(t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
}
