//go:build amd64 && !noasm

package cpu

// gemmAVX2Impl is the AVX2 tile path, which TestGemm checks even on CPUs that take the AVX-512 one
// (without AVX2 it falls back to the portable loops).
func gemmAVX2Impl() gemmImpl {
	if !useAVX2 {
		return gemmImpl{widenGo, gemmKernelGo, nil}
	}
	return gemmAVX2
}
