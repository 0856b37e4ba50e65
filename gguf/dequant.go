package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Dequantize converts len(dst) elements of type t, stored in src, to float32.
// len(dst) must be a multiple of t's block size and src must hold at least t.RowBytes(len(dst)) bytes.
// The results are bit-exact with ggml's reference to_float functions.
func Dequantize(t Type, src []byte, dst []float32) error {
	tr, ok := traits[t]
	if !ok {
		return fmt.Errorf("dequantize: unknown tensor type id %d", uint32(t))
	}
	if !tr.canDeq {
		return fmt.Errorf("dequantize: type %s is not supported by llamago", t)
	}
	if len(dst)%tr.blockSize != 0 {
		return fmt.Errorf("dequantize %s: %d elements is not a multiple of the block size %d", t, len(dst), tr.blockSize)
	}
	need := len(dst) / tr.blockSize * tr.typeSize
	if len(src) < need {
		return fmt.Errorf("dequantize %s: %d elements need %d bytes, have %d", t, len(dst), need, len(src))
	}
	src = src[:need]
	switch t {
	case TypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case TypeF16:
		for i := range dst {
			dst[i] = FP16ToFP32(le16(src[2*i:]))
		}
	case TypeBF16:
		for i := range dst {
			dst[i] = BF16ToFP32(le16(src[2*i:]))
		}
	case TypeF64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case TypeI8:
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	case TypeI16:
		for i := range dst {
			dst[i] = float32(int16(le16(src[2*i:])))
		}
	case TypeI32:
		for i := range dst {
			dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case TypeI64:
		for i := range dst {
			dst[i] = float32(int64(binary.LittleEndian.Uint64(src[8*i:])))
		}
	default:
		deq := blockDequantizers[t]
		for b := 0; b < len(dst)/tr.blockSize; b++ {
			deq(src[b*tr.typeSize:(b+1)*tr.typeSize], dst[b*tr.blockSize:(b+1)*tr.blockSize])
		}
	}
	return nil
}

// blockDequantizers hold the one-block reference dequantizers of the quantized types.
var blockDequantizers = map[Type]func(block []byte, y []float32){
	TypeQ4_0:   DequantizeBlockQ4_0,
	TypeQ4_1:   DequantizeBlockQ4_1,
	TypeQ5_0:   DequantizeBlockQ5_0,
	TypeQ5_1:   DequantizeBlockQ5_1,
	TypeQ8_0:   DequantizeBlockQ8_0,
	TypeQ2_K:   DequantizeBlockQ2_K,
	TypeQ3_K:   DequantizeBlockQ3_K,
	TypeQ4_K:   DequantizeBlockQ4_K,
	TypeQ5_K:   DequantizeBlockQ5_K,
	TypeQ6_K:   DequantizeBlockQ6_K,
	TypeQ8_K:   DequantizeBlockQ8_K,
	TypeIQ4_NL: DequantizeBlockIQ4_NL,
	TypeIQ4_XS: DequantizeBlockIQ4_XS,
}
