package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer streams a GGUF v3 file: metadata and tensor infos first (AddTensor), then each tensor's bytes in
// the order the tensors were added (Write, in as many pieces as convenient), then Close. Nothing larger than
// one Write call is held in memory, so multi-gigabyte models can be produced with bounded memory.
type Writer struct {
	Metadata Metadata

	bw        *bufio.Writer
	tensors   []TensorInfo
	names     map[string]bool
	alignment uint64
	nextOff   uint64 // data offset of the next tensor to be added

	started bool
	cur     int    // index of the tensor being written
	curN    uint64 // bytes of it written so far
	pos     uint64 // bytes written to the output so far
	err     error
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 1<<20), names: map[string]bool{}, alignment: DefaultAlignment}
}

// AddTensor declares the next tensor. dims are in ggml order (row length first).
func (w *Writer) AddTensor(name string, t Type, dims ...uint64) error {
	switch {
	case w.started:
		return fmt.Errorf("gguf writer: AddTensor(%q) after tensor data started", name)
	case w.names[name]:
		return fmt.Errorf("gguf writer: duplicate tensor name %q", name)
	case !t.Known():
		return fmt.Errorf("gguf writer: tensor %q: unknown type id %d", name, uint32(t))
	case len(dims) == 0 || len(dims) > MaxDims:
		return fmt.Errorf("gguf writer: tensor %q: %d dimensions (must be 1 to %d)", name, len(dims), MaxDims)
	case dims[0]%uint64(t.BlockSize()) != 0:
		return fmt.Errorf("gguf writer: tensor %q: row length %d is not a multiple of the %s block size %d", name, dims[0], t, t.BlockSize())
	}
	ti := TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: t, Offset: w.nextOff}
	ti.Size = ti.Elements() / uint64(t.BlockSize()) * uint64(t.TypeSize())
	w.nextOff = alignUp(w.nextOff+ti.Size, w.alignment)
	w.names[name] = true
	w.tensors = append(w.tensors, ti)
	return nil
}

// Tensors returns the tensors declared so far.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// Write appends tensor data: the bytes of the declared tensors, in order, back to back (padding between
// tensors is inserted by the Writer). The header is written on the first call.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.start(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		if w.cur >= len(w.tensors) {
			return n, w.setErr(fmt.Errorf("gguf writer: %d bytes more than the declared tensors hold", len(p)))
		}
		t := &w.tensors[w.cur]
		k := min(uint64(len(p)), t.Size-w.curN)
		w.put(p[:k])
		n += int(k)
		p = p[k:]
		w.curN += k
		if w.curN == t.Size {
			w.cur++
			w.curN = 0
			if w.cur < len(w.tensors) {
				w.pad()
			}
		}
	}
	return n, w.err
}

// Close writes the header if no data was written, checks every declared tensor was written whole and
// flushes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.start(); err != nil {
		return err
	}
	for w.cur < len(w.tensors) && w.tensors[w.cur].Size == 0 {
		w.cur++
	}
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		return w.setErr(fmt.Errorf("gguf writer: tensor %q has %d of %d bytes written", t.Name, w.curN, t.Size))
	}
	if w.err != nil {
		return w.err
	}
	return w.bw.Flush()
}

func (w *Writer) setErr(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) start() error {
	if w.started || w.err != nil {
		return w.err
	}
	w.started = true
	if v, ok := w.Metadata.Get("general.alignment"); ok {
		a, isU32 := v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return w.setErr(fmt.Errorf("gguf writer: general.alignment must be a uint32 power of two, got %v", v))
		}
		if uint64(a) != w.alignment {
			w.alignment = uint64(a)
			off := uint64(0)
			for i := range w.tensors { // recompute offsets for the new alignment
				w.tensors[i].Offset = off
				off = alignUp(off+w.tensors[i].Size, w.alignment)
			}
		}
	}
	w.u32(Magic)
	w.u32(3)
	w.u64(uint64(len(w.tensors)))
	w.u64(uint64(len(w.Metadata.KVs)))
	for _, kv := range w.Metadata.KVs {
		w.str(kv.Key)
		vt, ok := TypeOf(kv.Value)
		if !ok {
			return w.setErr(fmt.Errorf("gguf writer: metadata %q: unsupported Go type %T", kv.Key, kv.Value))
		}
		w.u32(uint32(vt))
		if err := w.value(kv.Key, kv.Value); err != nil {
			return w.setErr(err)
		}
	}
	for _, t := range w.tensors {
		w.str(t.Name)
		w.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			w.u64(d)
		}
		w.u32(uint32(t.Type))
		w.u64(t.Offset)
	}
	w.pad()
	return w.err
}

func (w *Writer) pad() {
	if r := w.pos % w.alignment; r != 0 {
		w.put(make([]byte, w.alignment-r))
	}
}

func (w *Writer) put(p []byte) {
	if w.err != nil {
		return
	}
	_, err := w.bw.Write(p)
	w.pos += uint64(len(p))
	w.setErr(err)
}

func (w *Writer) u32(v uint32) { w.put(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *Writer) u64(v uint64) { w.put(binary.LittleEndian.AppendUint64(nil, v)) }
func (w *Writer) str(s string) { w.u64(uint64(len(s))); w.put([]byte(s)) }

// value encodes a metadata value (without its type tag).
func (w *Writer) value(key string, v any) error {
	le := binary.LittleEndian
	var b []byte
	switch x := v.(type) {
	case uint8:
		b = []byte{x}
	case int8:
		b = []byte{byte(x)}
	case bool:
		b = []byte{0}
		if x {
			b[0] = 1
		}
	case uint16:
		b = le.AppendUint16(nil, x)
	case int16:
		b = le.AppendUint16(nil, uint16(x))
	case uint32:
		b = le.AppendUint32(nil, x)
	case int32:
		b = le.AppendUint32(nil, uint32(x))
	case float32:
		b = le.AppendUint32(nil, math.Float32bits(x))
	case uint64:
		b = le.AppendUint64(nil, x)
	case int64:
		b = le.AppendUint64(nil, uint64(x))
	case float64:
		b = le.AppendUint64(nil, math.Float64bits(x))
	case string:
		w.str(x)
		return nil
	default:
		if _, ok := TypeOf(v); !ok {
			return fmt.Errorf("gguf writer: metadata %q: unsupported Go type %T", key, v)
		}
		et, n := arrayElemType(v)
		w.u32(uint32(et))
		w.u64(uint64(n))
		return w.arrayElems(key, v)
	}
	w.put(b)
	return nil
}

func (w *Writer) arrayElems(key string, v any) error {
	switch a := v.(type) {
	case []uint8:
		w.put(a)
	case []string:
		for _, s := range a {
			w.str(s)
		}
	case []any:
		for _, e := range a {
			if vt, _ := TypeOf(e); vt != ValueArray {
				return fmt.Errorf("gguf writer: metadata %q: nested array element of type %T is not an array", key, e)
			}
			if err := w.value(key, e); err != nil {
				return err
			}
		}
	default:
		_, n := arrayElemType(v)
		for i := 0; i < n; i++ {
			if err := w.value(key, arrayIndex(v, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// arrayIndex returns element i of a scalar-typed array value.
func arrayIndex(v any, i int) any {
	switch a := v.(type) {
	case []uint8:
		return a[i]
	case []int8:
		return a[i]
	case []uint16:
		return a[i]
	case []int16:
		return a[i]
	case []uint32:
		return a[i]
	case []int32:
		return a[i]
	case []float32:
		return a[i]
	case []bool:
		return a[i]
	case []uint64:
		return a[i]
	case []int64:
		return a[i]
	case []float64:
		return a[i]
	}
	return nil
}

// Rewrite writes f again to w through a Writer, with its metadata and tensor list first changed by edit (nil
// leaves both as they are). A tensor keeps f's bytes under its name, cut or padded with zeros to its new size
// (zeros for a tensor f does not have): tests use it to make hostile variants of a valid model.
func Rewrite(w io.Writer, f *File, edit func(md *Metadata, tensors []TensorInfo) []TensorInfo) error {
	gw := NewWriter(w)
	for _, kv := range f.Metadata.KVs {
		gw.Metadata.Set(kv.Key, kv.Value)
	}
	tensors := make([]TensorInfo, len(f.Tensors))
	for i, t := range f.Tensors {
		t.Dims = append([]uint64(nil), t.Dims...)
		tensors[i] = t
	}
	if edit != nil {
		tensors = edit(&gw.Metadata, tensors)
	}
	for _, t := range tensors {
		if err := gw.AddTensor(t.Name, t.Type, t.Dims...); err != nil {
			return err
		}
	}
	for _, t := range gw.Tensors() {
		var data []byte
		if src, ok := f.Tensor(t.Name); ok {
			data = f.TensorData(src)
		}
		data = data[:min(uint64(len(data)), t.Size)]
		if _, err := gw.Write(data); err != nil {
			return err
		}
		for left := t.Size - uint64(len(data)); left > 0; {
			n := min(left, 1<<16)
			if _, err := gw.Write(make([]byte, n)); err != nil {
				return err
			}
			left -= n
		}
	}
	return gw.Close()
}
