// Package gguf reads and writes GGUF files (the llama.cpp model format) and holds the ggml tensor block
// formats with their scalar reference dequantizers and quantizers.
//
// A File maps the whole file read-only; tensors are views into that mapping, so opening a multi-gigabyte
// model costs only the header parse and weights are never copied. Every length, count and offset read from
// the file is checked against the bytes that remain before it is used, so a truncated or hostile file gives
// a *FormatError naming the byte offset instead of a panic or a huge allocation.
package gguf

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"sort"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is the most dimensions a ggml tensor has.
const MaxDims = 4

// maxArrayDepth bounds the nesting of metadata arrays (llama.cpp itself uses none).
const maxArrayDepth = 8

// FormatError reports malformed GGUF input and the byte offset where it was found.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string { return fmt.Sprintf("gguf: at byte %d: %s", e.Offset, e.Msg) }

// TensorInfo describes one tensor of a GGUF file.
type TensorInfo struct {
	Name string
	// Dims holds the shape in ggml order: Dims[0] is the fastest-varying (row length), Dims[1] the rows.
	Dims   []uint64
	Type   Type
	Offset uint64 // byte offset of the data from the start of the data section
	Size   uint64 // bytes of data
}

// Elements is the number of elements of the tensor.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape formats the dims as "[4096 32000]".
func (t *TensorInfo) Shape() string { return fmt.Sprint(t.Dims) }

// File is a parsed GGUF file whose bytes stay mapped until Close.
type File struct {
	Path       string
	Version    uint32
	Metadata   Metadata
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // absolute file offset of the tensor data section

	byName map[string]int
	data   []byte
	unmap  func() error
}

// Open maps the file at path and parses its header. Close releases the mapping; tensor data slices
// must not be used after Close.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path, f.unmap = path, unmap
	return f, nil
}

// checkRegular refuses a model path that is not a regular file (after symlinks): opening a FIFO blocks until
// a writer comes, a device has no size to map, and a directory is no model.
func checkRegular(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return notRegular(path, st.Mode())
	}
	return nil
}

func notRegular(path string, m fs.FileMode) error {
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	}
	return fmt.Errorf("%s: is %s, not a model file", path, kind)
}

// Close releases the file mapping.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// Size is the file size in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the tensor's bytes, a view into the mapped file.
func (f *File) TensorData(t *TensorInfo) []byte {
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// Parse parses a complete GGUF file held in memory. The returned File refers to data.
func Parse(data []byte) (*File, error) {
	d := &decoder{b: data}
	f := &File{data: data, Alignment: DefaultAlignment, byName: map[string]int{}}

	magic := d.u32("magic")
	if d.err == nil && magic != Magic {
		return nil, &FormatError{0, fmt.Sprintf("not a GGUF file (magic %q, want \"GGUF\")", string(data[:4]))}
	}
	f.Version = d.u32("version")
	if d.err == nil {
		switch {
		case f.Version == 1:
			return nil, &FormatError{4, "GGUF version 1 is not supported (it was superseded in 2023); convert the model again with a current llama.cpp"}
		case f.Version != 2 && f.Version != 3 && bits.ReverseBytes32(f.Version) <= 3:
			return nil, &FormatError{4, "file is big-endian GGUF; llamago reads little-endian files only"}
		case f.Version != 2 && f.Version != 3:
			return nil, &FormatError{4, fmt.Sprintf("unsupported GGUF version %d (llamago reads versions 2 and 3)", f.Version)}
		}
	}
	nTensors := d.u64("tensor count")
	nKV := d.u64("metadata count")
	if d.err != nil {
		return nil, d.err
	}
	// Each metadata entry takes at least 13 bytes and each tensor info at least 24: bound the counts by the
	// bytes left before allocating anything sized by them.
	if nKV > uint64(d.remaining())/13 {
		return nil, &FormatError{16, fmt.Sprintf("metadata count %d is impossible for a file of %d bytes", nKV, len(data))}
	}
	if nTensors > uint64(d.remaining())/24 {
		return nil, &FormatError{8, fmt.Sprintf("tensor count %d is impossible for a file of %d bytes", nTensors, len(data))}
	}

	for i := uint64(0); i < nKV; i++ {
		at := d.off
		key := d.str("metadata key")
		vt := ValueType(d.u32("value type of " + key))
		v := d.value(vt, key, 0)
		if d.err != nil {
			return nil, d.err
		}
		if f.Metadata.Has(key) {
			return nil, &FormatError{int64(at), fmt.Sprintf("duplicate metadata key %q", key)}
		}
		f.Metadata.Set(key, v)
	}
	if f.Metadata.index == nil {
		f.Metadata.index = map[string]int{}
	}
	if v, ok := f.Metadata.Get("general.alignment"); ok {
		a, isU32 := v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, &FormatError{0, fmt.Sprintf("general.alignment must be a uint32 power of two, got %v", v)}
		}
		f.Alignment = uint64(a)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	infoAt := make([]int64, 0, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		at := int64(d.off)
		t := d.tensorInfo()
		if d.err != nil {
			return nil, d.err
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, &FormatError{at, fmt.Sprintf("duplicate tensor name %q", t.Name)}
		}
		if t.Offset%f.Alignment != 0 {
			return nil, &FormatError{at, fmt.Sprintf("tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)}
		}
		f.byName[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
		infoAt = append(infoAt, at)
	}
	f.DataOffset = alignUp(uint64(d.off), f.Alignment)
	return f, f.checkTensorRanges(infoAt)
}

// checkTensorRanges verifies every tensor lies inside the data section and no two overlap.
func (f *File) checkTensorRanges(infoAt []int64) error {
	var dataLen uint64
	if f.DataOffset < uint64(len(f.data)) {
		dataLen = uint64(len(f.data)) - f.DataOffset
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
		t := &f.Tensors[i]
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return &FormatError{infoAt[i], fmt.Sprintf("tensor %q: data [%d, +%d) lies outside the file (data section starts at byte %d and holds %d bytes); the file may be truncated",
				t.Name, t.Offset, t.Size, f.DataOffset, dataLen)}
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if prev.Offset+prev.Size > cur.Offset && cur.Size > 0 {
			return &FormatError{infoAt[order[k]], fmt.Sprintf("tensor %q overlaps tensor %q", cur.Name, prev.Name)}
		}
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// decoder reads little-endian values from b, remembering the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &FormatError{int64(d.off), msg}
	}
}

// take returns the next n bytes, or nil after recording a truncation error.
func (d *decoder) take(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(d.remaining()) {
		d.fail(fmt.Sprintf("file truncated: %s needs %d bytes, %d left", what, n, d.remaining()))
		return nil
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p
}

func (d *decoder) u8(what string) uint8 {
	if p := d.take(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if p := d.take(2, what); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if p := d.take(4, what); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if p := d.take(8, what); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) str(what string) string {
	at := d.off
	n := d.u64(what + " length")
	if d.err == nil && n > uint64(d.remaining()) {
		d.err = &FormatError{int64(at), fmt.Sprintf("%s length %d exceeds the %d bytes left in the file", what, n, d.remaining())}
		return ""
	}
	return string(d.take(n, what))
}

// value decodes one metadata value of type vt.
func (d *decoder) value(vt ValueType, key string, depth int) any {
	switch vt {
	case ValueUint8:
		return d.u8(key)
	case ValueInt8:
		return int8(d.u8(key))
	case ValueUint16:
		return d.u16(key)
	case ValueInt16:
		return int16(d.u16(key))
	case ValueUint32:
		return d.u32(key)
	case ValueInt32:
		return int32(d.u32(key))
	case ValueFloat32:
		return math.Float32frombits(d.u32(key))
	case ValueUint64:
		return d.u64(key)
	case ValueInt64:
		return int64(d.u64(key))
	case ValueFloat64:
		return math.Float64frombits(d.u64(key))
	case ValueBool:
		at := d.off
		b := d.u8(key)
		if d.err == nil && b > 1 {
			d.err = &FormatError{int64(at), fmt.Sprintf("metadata %q: bool value %d is neither 0 nor 1", key, b)}
		}
		return b == 1
	case ValueString:
		return d.str("metadata " + key)
	case ValueArray:
		return d.array(key, depth)
	}
	d.fail(fmt.Sprintf("metadata %q: unknown value type %d", key, uint32(vt)))
	return nil
}

// array decodes an array value: element type, count, elements.
func (d *decoder) array(key string, depth int) any {
	at := d.off
	et := ValueType(d.u32(key + " array type"))
	n := d.u64(key + " array length")
	if d.err != nil {
		return nil
	}
	if depth >= maxArrayDepth {
		d.err = &FormatError{int64(at), fmt.Sprintf("metadata %q: arrays nested deeper than %d", key, maxArrayDepth)}
		return nil
	}
	minSize := uint64(et.fixedSize())
	switch et {
	case ValueString:
		minSize = 8
	case ValueArray:
		minSize = 12
	}
	if minSize == 0 {
		d.err = &FormatError{int64(at), fmt.Sprintf("metadata %q: unknown array element type %d", key, uint32(et))}
		return nil
	}
	if n > uint64(d.remaining())/minSize {
		d.err = &FormatError{int64(at), fmt.Sprintf("metadata %q: array of %d %s elements cannot fit in the %d bytes left", key, n, et, d.remaining())}
		return nil
	}
	switch et {
	case ValueString:
		out := make([]string, n)
		for i := range out {
			out[i] = d.str("metadata " + key + " element")
		}
		return out
	case ValueArray:
		out := make([]any, n)
		for i := range out {
			out[i] = d.array(key, depth+1)
		}
		return out
	case ValueBool:
		out := make([]bool, n)
		for i := range out {
			out[i], _ = d.value(et, key, depth).(bool)
		}
		return out
	}
	raw := d.take(n*minSize, key)
	if raw == nil {
		return nil
	}
	return decodeFixedArray(et, raw, int(n))
}

func decodeFixedArray(et ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch et {
	case ValueUint8:
		return append([]uint8(nil), raw...)
	case ValueInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out
	case ValueUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out
	case ValueInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out
	case ValueUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out
	case ValueInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out
	case ValueFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out
	case ValueUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out
	case ValueInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out
	default: // ValueFloat64
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out
	}
}

// tensorInfo decodes one tensor info and validates its shape and type.
func (d *decoder) tensorInfo() TensorInfo {
	at := int64(d.off)
	var t TensorInfo
	t.Name = d.str("tensor name")
	nd := d.u32("dimension count of " + t.Name)
	if d.err != nil {
		return t
	}
	if nd == 0 || nd > MaxDims {
		d.err = &FormatError{at, fmt.Sprintf("tensor %q: %d dimensions (must be 1 to %d)", t.Name, nd, MaxDims)}
		return t
	}
	t.Dims = make([]uint64, nd)
	n := uint64(1)
	for i := range t.Dims {
		t.Dims[i] = d.u64("dimension of " + t.Name)
		hi, lo := bits.Mul64(n, t.Dims[i])
		if d.err == nil && (hi != 0 || lo > math.MaxInt64) {
			d.err = &FormatError{at, fmt.Sprintf("tensor %q: dimensions %v overflow the element count", t.Name, t.Dims[:i+1])}
		}
		n = lo
	}
	t.Type = Type(d.u32("type of " + t.Name))
	t.Offset = d.u64("data offset of " + t.Name)
	if d.err != nil {
		return t
	}
	if !t.Type.Known() {
		d.err = &FormatError{at, fmt.Sprintf("tensor %q: unknown tensor type id %d (this llamago knows: %s)", t.Name, uint32(t.Type), knownTypeNames())}
		return t
	}
	bs := uint64(t.Type.BlockSize())
	if t.Dims[0]%bs != 0 {
		d.err = &FormatError{at, fmt.Sprintf("tensor %q: row length %d is not a multiple of the %s block size %d", t.Name, t.Dims[0], t.Type, bs)}
		return t
	}
	hi, size := bits.Mul64(n/bs, uint64(t.Type.TypeSize()))
	if hi != 0 || size > math.MaxInt64 {
		d.err = &FormatError{at, fmt.Sprintf("tensor %q: byte size overflows", t.Name)}
		return t
	}
	t.Size = size
	return t
}
