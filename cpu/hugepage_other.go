//go:build !linux || !amd64

package cpu

func adviseHuge([]byte) {}

func releaseUnused([]byte) {}

const hugePages = false
