package gguf

import (
	"encoding/binary"
	"math"

	"github.com/x448/float16"
)

// FP16ToFP32 converts an IEEE half-precision value (as its bits) to float32 exactly.
func FP16ToFP32(h uint16) float32 { return float16.Frombits(h).Float32() }

// FP32ToFP16 rounds f to the nearest half-precision value (ties to even), as ggml does.
func FP32ToFP16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

// BF16ToFP32 widens a bfloat16 (as its bits) to float32 exactly.
func BF16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FP32ToBF16 rounds f to bfloat16 with round-to-nearest-even; NaN stays a quiet NaN, as in ggml.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 { // NaN: keep it a NaN after truncation
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + (u>>16)&1)) >> 16)
}

// le16 reads a little-endian uint16 at b[0:2].
func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// halfAt reads a little-endian fp16 at b[0:2] as float32.
func halfAt(b []byte) float32 { return FP16ToFP32(le16(b)) }

func putHalf(b []byte, f float32) { binary.LittleEndian.PutUint16(b, FP32ToFP16(f)) }
