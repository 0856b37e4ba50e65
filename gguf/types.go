package gguf

import (
	"fmt"
	"strings"
)

// Type is a ggml tensor element type as stored in a GGUF tensor info.
// The numeric values are ggml's (ggml.h, enum ggml_type) and are part of the file format.
type Type uint32

// ggml tensor types. Gaps are ids ggml retired; they are rejected as unknown.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
)

// QK_K is the super-block size of the k-quants and of IQ4_XS.
const QK_K = 256

// typeTraits describes the storage of one type: elements per block and bytes per block.
// canDequant says whether this package has a scalar dequantizer for it.
type typeTraits struct {
	name      string
	blockSize int
	typeSize  int
	canDeq    bool
}

var traits = map[Type]typeTraits{
	TypeF32:     {"F32", 1, 4, true},
	TypeF16:     {"F16", 1, 2, true},
	TypeBF16:    {"BF16", 1, 2, true},
	TypeF64:     {"F64", 1, 8, true},
	TypeI8:      {"I8", 1, 1, true},
	TypeI16:     {"I16", 1, 2, true},
	TypeI32:     {"I32", 1, 4, true},
	TypeI64:     {"I64", 1, 8, true},
	TypeQ4_0:    {"Q4_0", 32, 18, true},
	TypeQ4_1:    {"Q4_1", 32, 20, true},
	TypeQ5_0:    {"Q5_0", 32, 22, true},
	TypeQ5_1:    {"Q5_1", 32, 24, true},
	TypeQ8_0:    {"Q8_0", 32, 34, true},
	TypeQ8_1:    {"Q8_1", 32, 36, false},
	TypeQ2_K:    {"Q2_K", QK_K, 84, true},
	TypeQ3_K:    {"Q3_K", QK_K, 110, true},
	TypeQ4_K:    {"Q4_K", QK_K, 144, true},
	TypeQ5_K:    {"Q5_K", QK_K, 176, true},
	TypeQ6_K:    {"Q6_K", QK_K, 210, true},
	TypeQ8_K:    {"Q8_K", QK_K, 292, true},
	TypeIQ2_XXS: {"IQ2_XXS", QK_K, 66, false},
	TypeIQ2_XS:  {"IQ2_XS", QK_K, 74, false},
	TypeIQ3_XXS: {"IQ3_XXS", QK_K, 98, false},
	TypeIQ1_S:   {"IQ1_S", QK_K, 50, false},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18, true},
	TypeIQ3_S:   {"IQ3_S", QK_K, 110, false},
	TypeIQ2_S:   {"IQ2_S", QK_K, 82, false},
	TypeIQ4_XS:  {"IQ4_XS", QK_K, 136, true},
	TypeIQ1_M:   {"IQ1_M", QK_K, 56, false},
	TypeTQ1_0:   {"TQ1_0", QK_K, 54, false},
	TypeTQ2_0:   {"TQ2_0", QK_K, 66, false},
	TypeMXFP4:   {"MXFP4", 32, 17, false},
}

// Known reports whether t is a type id ggml defines (whether or not llamago can compute with it).
func (t Type) Known() bool { _, ok := traits[t]; return ok }

// CanDequantize reports whether this package has a reference dequantizer for t.
func (t Type) CanDequantize() bool { return traits[t].canDeq }

// String returns ggml's name for the type ("Q4_K"), or "type(N)" for an unknown id.
func (t Type) String() string {
	if tr, ok := traits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block (1 for plain types).
func (t Type) BlockSize() int { return traits[t].blockSize }

// TypeSize is the number of bytes in one block.
func (t Type) TypeSize() int { return traits[t].typeSize }

// IsQuantized reports whether t stores elements in blocks of more than one.
func (t Type) IsQuantized() bool { return traits[t].blockSize > 1 }

// RowBytes is the size in bytes of n elements of type t; n must be a multiple of the block size.
func (t Type) RowBytes(n int) int { return n / t.BlockSize() * t.TypeSize() }

// ParseType finds a type by its ggml name, case-insensitively ("q4_k" works).
func ParseType(name string) (Type, error) {
	for t, tr := range traits {
		if strings.EqualFold(tr.name, name) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q (known: %s)", name, knownTypeNames())
}

// Types returns every type this package knows, in id order.
func Types() []Type {
	out := make([]Type, 0, len(traits))
	for id := Type(0); id < 64; id++ {
		if _, ok := traits[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

func knownTypeNames() string {
	names := make([]string, 0, len(traits))
	for _, t := range Types() {
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}
