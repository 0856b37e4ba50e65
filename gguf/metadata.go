package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type tag of a GGUF metadata value.
type ValueType uint32

// GGUF metadata value types (gguf_type).
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("value-type(%d)", uint32(v))
}

// fixedSize is the encoded size of a scalar value type, 0 for string and array.
func (v ValueType) fixedSize() int {
	switch v {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// A metadata value is held as the Go type that matches its GGUF type exactly: uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64; an array as a slice of one of those
// ([]uint8 … []float64, []string, []bool), and an array of arrays as []any of such slices.

// TypeOf returns the GGUF type of a metadata value held as described above.
func TypeOf(v any) (ValueType, bool) {
	switch v.(type) {
	case uint8:
		return ValueUint8, true
	case int8:
		return ValueInt8, true
	case uint16:
		return ValueUint16, true
	case int16:
		return ValueInt16, true
	case uint32:
		return ValueUint32, true
	case int32:
		return ValueInt32, true
	case float32:
		return ValueFloat32, true
	case bool:
		return ValueBool, true
	case string:
		return ValueString, true
	case uint64:
		return ValueUint64, true
	case int64:
		return ValueInt64, true
	case float64:
		return ValueFloat64, true
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string,
		[]uint64, []int64, []float64, []any:
		return ValueArray, true
	}
	return 0, false
}

// ArrayInfo returns the element type and length of an array value (0, 0 for anything else).
func ArrayInfo(v any) (ValueType, int) { return arrayElemType(v) }

// arrayElemType returns the element type and length of an array value.
func arrayElemType(v any) (ValueType, int) {
	switch a := v.(type) {
	case []uint8:
		return ValueUint8, len(a)
	case []int8:
		return ValueInt8, len(a)
	case []uint16:
		return ValueUint16, len(a)
	case []int16:
		return ValueInt16, len(a)
	case []uint32:
		return ValueUint32, len(a)
	case []int32:
		return ValueInt32, len(a)
	case []float32:
		return ValueFloat32, len(a)
	case []bool:
		return ValueBool, len(a)
	case []string:
		return ValueString, len(a)
	case []uint64:
		return ValueUint64, len(a)
	case []int64:
		return ValueInt64, len(a)
	case []float64:
		return ValueFloat64, len(a)
	case []any:
		return ValueArray, len(a)
	}
	return 0, 0
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value any
}

// Metadata is the ordered key-value section of a GGUF file.
type Metadata struct {
	KVs   []KV
	index map[string]int
}

// Set adds or replaces a key, keeping first-insertion order.
func (m *Metadata) Set(key string, v any) {
	if m.index == nil {
		m.index = make(map[string]int)
	}
	if i, ok := m.index[key]; ok {
		m.KVs[i].Value = v
		return
	}
	m.index[key] = len(m.KVs)
	m.KVs = append(m.KVs, KV{key, v})
}

// Get returns the value of key.
func (m *Metadata) Get(key string) (any, bool) {
	i, ok := m.index[key]
	if !ok {
		return nil, false
	}
	return m.KVs[i].Value, true
}

// Has reports whether key is present.
func (m *Metadata) Has(key string) bool { _, ok := m.index[key]; return ok }

func missing(key string) error { return fmt.Errorf("metadata key %q is missing", key) }

func wrongType(key string, v any, want string) error {
	t, _ := TypeOf(v)
	return fmt.Errorf("metadata key %q has type %s, want %s", key, t, want)
}

// String returns a string value.
func (m *Metadata) String(key string) (string, error) {
	v, ok := m.Get(key)
	if !ok {
		return "", missing(key)
	}
	s, ok := v.(string)
	if !ok {
		return "", wrongType(key, v, "string")
	}
	return s, nil
}

// Int returns an integer value of any integer type as int64 (uint64 values above MaxInt64 are an error).
func (m *Metadata) Int(key string) (int64, error) {
	v, ok := m.Get(key)
	if !ok {
		return 0, missing(key)
	}
	n, ok := asInt(v)
	if !ok {
		return 0, wrongType(key, v, "an integer")
	}
	return n, nil
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float returns a float or integer value as float64.
func (m *Metadata) Float(key string) (float64, error) {
	v, ok := m.Get(key)
	if !ok {
		return 0, missing(key)
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	if n, ok := asInt(v); ok {
		return float64(n), nil
	}
	return 0, wrongType(key, v, "a number")
}

// Bool returns a bool value.
func (m *Metadata) Bool(key string) (bool, error) {
	v, ok := m.Get(key)
	if !ok {
		return false, missing(key)
	}
	b, ok := v.(bool)
	if !ok {
		return false, wrongType(key, v, "bool")
	}
	return b, nil
}

// Strings returns an array of strings.
func (m *Metadata) Strings(key string) ([]string, error) {
	v, ok := m.Get(key)
	if !ok {
		return nil, missing(key)
	}
	s, ok := v.([]string)
	if !ok {
		return nil, wrongType(key, v, "array of string")
	}
	return s, nil
}

// Float32s returns an array of float32 (float64 arrays are narrowed).
func (m *Metadata) Float32s(key string) ([]float32, error) {
	v, ok := m.Get(key)
	if !ok {
		return nil, missing(key)
	}
	switch a := v.(type) {
	case []float32:
		return a, nil
	case []float64:
		out := make([]float32, len(a))
		for i, x := range a {
			out[i] = float32(x)
		}
		return out, nil
	}
	return nil, wrongType(key, v, "array of float32")
}

// Int32s returns an integer array of any element type as []int32 (values must fit).
func (m *Metadata) Int32s(key string) ([]int32, error) {
	v, ok := m.Get(key)
	if !ok {
		return nil, missing(key)
	}
	if a, ok := v.([]int32); ok {
		return a, nil
	}
	et, n := arrayElemType(v)
	if et.fixedSize() == 0 || et == ValueFloat32 || et == ValueFloat64 || et == ValueBool {
		return nil, wrongType(key, v, "array of integers")
	}
	out := make([]int32, n)
	for i := range out {
		x, _ := asInt(arrayIndex(v, i))
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, fmt.Errorf("metadata key %q: element %d (%d) does not fit in int32", key, i, x)
		}
		out[i] = int32(x)
	}
	return out, nil
}

// StringOr returns the string at key, or def when the key is absent.
func (m *Metadata) StringOr(key, def string) (string, error) {
	if !m.Has(key) {
		return def, nil
	}
	return m.String(key)
}

// IntOr returns the integer at key, or def when the key is absent.
func (m *Metadata) IntOr(key string, def int64) (int64, error) {
	if !m.Has(key) {
		return def, nil
	}
	return m.Int(key)
}

// FloatOr returns the number at key, or def when the key is absent.
func (m *Metadata) FloatOr(key string, def float64) (float64, error) {
	if !m.Has(key) {
		return def, nil
	}
	return m.Float(key)
}

// BoolOr returns the bool at key, or def when the key is absent.
func (m *Metadata) BoolOr(key string, def bool) (bool, error) {
	if !m.Has(key) {
		return def, nil
	}
	return m.Bool(key)
}
