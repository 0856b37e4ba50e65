//go:build amd64 && !noasm

package cpu

import "unsafe"

//go:noescape
func readAVX2(p *byte, n int) uint64

// readVec reads p (a multiple of 256 bytes) with 256-bit loads, as eight streams.
func readVec(p []byte) uint64 { return readAVX2(unsafe.SliceData(p), len(p)) }
