//go:build !amd64 || noasm

package cpu

// gemmAVX2Impl: without assembly, TestGemm's third implementation is the portable one again.
func gemmAVX2Impl() gemmImpl { return gemmImpl{widenGo, gemmKernelGo, nil, nil} }
