//go:build !(amd64 || arm64) || noasm

package cpu

// vecLen is how much of n values the vector kernels take: none without assembly.
func vecLen(int) int { return 0 }

func maxVec([]float32) float32                { panic("cpu: no vector kernels") }
func expSubSumVec([]float32, float32) float32 { panic("cpu: no vector kernels") }
func scaleVec([]float32, float32)             { panic("cpu: no vector kernels") }
func swigluVec(dst, gate, up []float32)       { panic("cpu: no vector kernels") }
