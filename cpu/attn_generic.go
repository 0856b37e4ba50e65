//go:build !(amd64 || arm64) || noasm

package cpu

func attnScores(a *AttnQueries, k []float32, hd, tiles int, s []float32, stride int, scale float32) {
	attnScoresGo(a, k, hd, tiles, s, stride, scale)
}

func attnValues(a *AttnQueries, s []float32, stride, n int, v []float32, hd int) {
	attnValuesGo(a, s, stride, n, v, hd)
}

func attnScoresF16(a *AttnQueries, k []uint16, hd, tiles int, s []float32, stride int, scale float32) {
	attnScoresGoF16(a, k, hd, tiles, s, stride, scale)
}

func attnValuesF16(a *AttnQueries, s []float32, stride, n int, v []uint16, hd int) {
	attnValuesGoF16(a, s, stride, n, v, hd)
}

// useAVX512 is false without the assembly kernels.
const useAVX512 = false
