// Package npy writes NumPy .npy files (format version 1.0) of little-endian float32 or int32.
package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/llamago/llamago/internal/atomicfile"
	"strings"
)

// Header returns the .npy header for an array of the given dtype ("<f4", "<i4") and shape (C order).
func Header(dtype string, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, tuple)
	// magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64.
	total := (10 + len(dict) + 1 + 63) / 64 * 64
	h := make([]byte, 0, total)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(total-10))
	h = append(h, dict...)
	for len(h) < total-1 {
		h = append(h, ' ')
	}
	return append(h, '\n')
}

// WriteFloat32 writes data with the given shape; the product of shape must equal len(data).
func WriteFloat32(w io.Writer, shape []int, data []float32) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(Header("<f4", shape)); err != nil {
		return err
	}
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		if _, err := bw.Write(b[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFloat32File writes a float32 array to path atomically: a failed write leaves what was at path.
func WriteFloat32File(path string, shape []int, data []float32) error {
	f, err := atomicfile.Create(path, "npy")
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := WriteFloat32(f, shape, data); err != nil {
		return err
	}
	return f.Commit()
}

// ReadFloat32 reads a C-order little-endian float32 .npy file, returning its shape and values.
func ReadFloat32(r io.Reader) ([]int, []float32, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" || pre[6] != 1 {
		return nil, nil, fmt.Errorf("npy: not a version 1 .npy file")
	}
	hl := binary.LittleEndian.Uint16(pre[8:])
	hdr := make([]byte, hl)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, fmt.Errorf("npy header: %w", err)
	}
	h := string(hdr)
	if !strings.Contains(h, "'descr': '<f4'") || !strings.Contains(h, "'fortran_order': False") {
		return nil, nil, fmt.Errorf("npy: only C-order <f4 arrays are read, header %s", strings.TrimSpace(h))
	}
	i, j := strings.Index(h, "'shape': ("), strings.Index(h, ")")
	if i < 0 || j < i {
		return nil, nil, fmt.Errorf("npy: no shape in header %s", strings.TrimSpace(h))
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(h[i+10:j], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		var d int
		if _, err := fmt.Sscan(f, &d); err != nil || d < 0 {
			return nil, nil, fmt.Errorf("npy: bad dimension %q", f)
		}
		shape = append(shape, d)
		n *= d
	}
	raw, err := io.ReadAll(io.LimitReader(r, int64(4*n)+1))
	if err != nil {
		return nil, nil, err
	}
	if len(raw) != 4*n {
		return nil, nil, fmt.Errorf("npy: shape %v needs %d bytes of data, file has %d", shape, 4*n, len(raw))
	}
	out := make([]float32, n)
	for k := range out {
		out[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
	}
	return shape, out, nil
}
