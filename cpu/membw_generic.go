//go:build !amd64 || noasm

package cpu

import (
	"encoding/binary"
)

// readVec reads p (a multiple of 256 bytes) eight bytes at a time, four words in flight.
func readVec(p []byte) uint64 {
	var a, b, c, d uint64
	for i := 0; i+32 <= len(p); i += 32 {
		a ^= binary.LittleEndian.Uint64(p[i:])
		b ^= binary.LittleEndian.Uint64(p[i+8:])
		c ^= binary.LittleEndian.Uint64(p[i+16:])
		d ^= binary.LittleEndian.Uint64(p[i+24:])
	}
	return a ^ b ^ c ^ d
}
