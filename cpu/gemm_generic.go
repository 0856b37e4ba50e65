//go:build !amd64 || noasm

package cpu

// useVNNI is false without the assembly kernels: every batch takes the one-row kernels.
const useVNNI = false

// gemmFast is the gemm implementation in use (tests only, without assembly).
var gemmFast = gemmImpl{widenGo, gemmKernelGo, nil, nil}

// gemmFFast is the float tile kernel in use (tests only, without assembly).
var gemmFFast gemmFKernel = gemmFKernelGo

// useAVX2 is false without the assembly kernels.
const useAVX2 = false

// unpackQ4_0Fast has no portable form: the Go unpackers run.
func unpackQ4_0Fast(*Weight, int, *strip) bool { return false }

// unpackQ4_KFast has no portable form: the Go unpackers run.
func unpackQ4_KFast(*Weight, int, *strip) bool { return false }
