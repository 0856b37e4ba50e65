//go:build !amd64 || noasm

package cpu

import "github.com/llamago/llamago/gguf"

// canGemv is false without the assembly kernels.
func canGemv(gguf.Type, int, int) bool { return false }

func gemv8([]byte, int, []uint32, []float32, int, *[2 * gemvRows * 32]int16, *[gemvRows * gemmT]float32) {
	panic("cpu: gemv8 without assembly")
}

func gemv16([]byte, int, []uint32, []uint32, []float32, []float32, int, *[2 * gemvRows * 32]int16, *[gemvRows * 2 * gemmT]float32) {
	panic("cpu: gemv16 without assembly")
}

func gemvK8([]byte, int, []uint32, []float32, []float32, int, []float32, []float32, *[2 * gemvRows * 32]int16, *[gemvRows * gemmT]float32) {
	panic("cpu: gemvK8 without assembly")
}

func gemvK16([]byte, int, []uint32, []uint32, []float32, []float32, []float32, []float32, int, []float32, []float32, *[2 * gemvRows * 32]int16, *[gemvRows * 2 * gemmT]float32) {
	panic("cpu: gemvK16 without assembly")
}

func gemvQ6K8([]byte, int, []uint32, []float32, int, []float32, *[2 * gemvRows * 32]int16, *[gemvRows * gemmT]float32) {
	panic("cpu: gemvQ6K8 without assembly")
}

func gemvQ6K16([]byte, int, []uint32, []uint32, []float32, []float32, int, []float32, *[2 * gemvRows * 32]int16, *[gemvRows * 2 * gemmT]float32) {
	panic("cpu: gemvQ6K16 without assembly")
}

func gemvQ8([]byte, int, []uint32, []float32, int, *[2 * gemvRows * 32]int16, *[gemvRows * gemmT]float32) {
	panic("cpu: gemvQ8 without assembly")
}

func gemvQ8x16([]byte, int, []uint32, []uint32, []float32, []float32, int, *[2 * gemvRows * 32]int16, *[gemvRows * 2 * gemmT]float32) {
	panic("cpu: gemvQ8x16 without assembly")
}
