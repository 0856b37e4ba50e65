//go:build !(amd64 || arm64) || noasm

package cpu

import "github.com/llamago/llamago/gguf"

func dot(a, b []float32) float32                 { return dotGo(a, b) }
func axpy(dst []float32, a float32, x []float32) { axpyGo(dst, a, x) }

// widenRow has no portable fast path: Weight.Row falls back to the reference dequantizer.
func widenRow(gguf.Type, []byte, []float32) bool { return false }
