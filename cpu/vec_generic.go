//go:build !amd64 || noasm

package cpu

func quantizeRow16(x []float32, q []int16, d []float32, s []int32) { quantizeRow16Go(x, q, d, s) }

func quantizeRowQ8_0([]float32, []int16, []float32, []int32) bool { return false }

func quantizeRowQ8_K([]float32, []int16, []float32, []int32) bool { return false }

func narrowQuads(dst []uint32, q []int16) { narrowQuadsGo(dst, q) }

func splitQuads(dst []uint32, q []int16) { splitQuadsGo(dst, q) }
