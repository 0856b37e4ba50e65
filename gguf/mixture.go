package gguf

import (
	"fmt"
	"strings"
)

// TypeRule decides the type of each 2-D weight when a model is written with a target type name: a tensor
// type ("Q4_0") for every weight, or the llama.cpp mixture "Q4_K_M" (Q6_K for output.weight and for the
// attn_v/ffn_down weights of the layers llama.cpp's use_more_bits picks, Q4_K elsewhere). Types whose
// block does not divide a row fall back as llama.cpp does (FallbackType).
type TypeRule struct {
	Name     string
	FileType int // general.file_type (llama_ftype)
	pick     func(tensor string, layer int) Type
}

// Mixtures lists the mixture names NewTypeRule accepts besides tensor types.
var Mixtures = []string{"Q4_K_M"}

// NewTypeRule makes the rule for target (a tensor type name or a mixture) in a model of layers layers.
func NewTypeRule(target string, layers int) (*TypeRule, error) {
	if strings.EqualFold(target, "Q4_K_M") {
		moreBits := func(l int) bool { return l < layers/8 || l >= 7*layers/8 || (l-layers/8)%3 == 2 }
		return &TypeRule{Name: "Q4_K_M", FileType: 15, pick: func(name string, layer int) Type {
			switch {
			case name == "output.weight":
				return TypeQ6_K
			case layer >= 0 && (strings.HasSuffix(name, "attn_v.weight") || strings.HasSuffix(name, "ffn_down.weight")) && moreBits(layer):
				return TypeQ6_K
			}
			return TypeQ4_K
		}}, nil
	}
	t, err := ParseType(target)
	if err != nil {
		return nil, fmt.Errorf("unknown tensor type %q: model weights can be written as %s, or the mixture %s", target,
			strings.Join(WritableTypes(), ", "), strings.Join(Mixtures, ", "))
	}
	if !CanQuantize(t) || t == TypeQ8_K {
		return nil, fmt.Errorf("llamago cannot write model weights of type %s", t)
	}
	ftypes := map[Type]int{TypeF32: 0, TypeF16: 1, TypeQ4_0: 2, TypeQ4_1: 3, TypeQ8_0: 7, TypeQ5_0: 8, TypeQ5_1: 9,
		TypeQ2_K: 10, TypeQ3_K: 12, TypeQ4_K: 15, TypeQ5_K: 17, TypeQ6_K: 18, TypeIQ4_NL: 25, TypeIQ4_XS: 30, TypeBF16: 32}
	return &TypeRule{Name: t.String(), FileType: ftypes[t], pick: func(string, int) Type { return t }}, nil
}

// Want is the type the rule asks for tensor name of layer (−1 outside the blocks), before any fallback.
func (r *TypeRule) Want(name string, layer int) Type { return r.pick(name, layer) }

// For is the type tensor name gets given its row length cols.
func (r *TypeRule) For(name string, layer, cols int) Type {
	return FallbackType(r.pick(name, layer), cols)
}

// FallbackType is llama.cpp's choice when a row length is not a multiple of t's block size: k-quants fall
// back to Q5_0/Q5_1/Q8_0, and anything still not fitting to F16.
func FallbackType(t Type, cols int) Type {
	if cols%t.BlockSize() == 0 {
		return t
	}
	switch t {
	case TypeQ2_K, TypeQ3_K, TypeQ4_K, TypeIQ4_XS:
		t = TypeQ5_0
	case TypeQ5_K:
		t = TypeQ5_1
	case TypeQ6_K:
		t = TypeQ8_0
	}
	if cols%t.BlockSize() == 0 {
		return t
	}
	return TypeF16
}

// WritableTypes names the tensor types NewTypeRule accepts for model weights, in id order.
func WritableTypes() []string {
	var out []string
	for _, t := range Types() {
		if CanQuantize(t) && t != TypeQ8_K {
			out = append(out, t.String())
		}
	}
	return out
}
