//go:build !(amd64 || arm64) || noasm

package cpu

import "github.com/llamago/llamago/gguf"

// dot2x2 has no portable two-by-two kernel: MatMul then uses the one-row loops.
func dot2x2(gguf.Type, []byte, int, *Q16Row, *Q16Row, int, *[4]float32) bool { return false }

// dot1x2 has no portable one-row-two-token kernel.
func dot1x2(gguf.Type, []byte, *Q16Row, *Q16Row, int, *[2]float32) bool { return false }

// dot8 has no portable eight-row kernel.
func dot8(gguf.Type, []byte, int, *Q16Row, int, *[8]float32) bool { return false }

// dot4 is the portable four-row loop (Q4_0, Q8_0; others take the one-row loops).
func dot4(t gguf.Type, w []byte, stride int, x *Q16Row, nb int, out *[4]float32) bool {
	return dot4Go(t, w, stride, x, nb, out)
}

func dotQ4_0Q16(w []byte, x *Q16Row, nb int) float32 { return dotQ4_0Q16Go(w, x, nb) }
func dotQ8_0Q16(w []byte, x *Q16Row, nb int) float32 { return dotQ8_0Q16Go(w, x, nb) }
func dotQ4_KQ16(w []byte, x *Q16Row, nb int) float32 { return dotQ4_KQ16Go(w, x, nb) }
func dotQ6_KQ16(w []byte, x *Q16Row, nb int) float32 { return dotQ6_KQ16Go(w, x, nb) }

// Kernels names the kernel set in use, for benchmarks and `llamago version`.
func Kernels() string { return "go" }
