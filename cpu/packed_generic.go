//go:build !amd64 || noasm

package cpu

// usePacked is false without the assembly kernels: weights keep the file's layout.
const usePacked = false

// packedKernel is the portable loop (tests only: nothing is packed without the assembly kernels).
func packedKernel(strips []byte, ns, nb int, q []uint32, ad []float32, start []int32, tokens, stride int, out []float32, ostride int) {
	packedKernelGo(strips, ns, nb, q, ad, start, tokens, stride, out, ostride)
}
