//go:build !linux

package cpu

func adviseHuge([]byte) {}

func releaseUnused([]byte) {}

const hugePages = false
