//go:build !amd64 || noasm

package cpu

func dot(a, b []float32) float32                 { return dotGo(a, b) }
func axpy(dst []float32, a float32, x []float32) { axpyGo(dst, a, x) }
