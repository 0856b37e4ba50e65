package gguf

import (
	"encoding/binary"
	"math"
)

// The "legacy" 32-element block formats. Within a block of 32 values, element j (0..15) sits in the low
// nibble of qs[j] and element j+16 in its high nibble.
//
//	Q4_0 (18 B): d fp16 | qs[16]            y = (q-8)·d
//	Q4_1 (20 B): d fp16 | m fp16 | qs[16]   y = q·d + m
//	Q5_0 (22 B): d fp16 | qh u32 | qs[16]   y = (q-16)·d, bit 4 of element j is bit j of qh
//	Q5_1 (24 B): d fp16 | m fp16 | qh u32 | qs[16]   y = q·d + m
//	Q8_0 (34 B): d fp16 | qs int8[32]       y = q·d

// QK is the block size of the legacy formats and IQ4_NL.
const QK = 32

// DequantizeBlockQ4_0 expands one Q4_0 block into y[0:32].
func DequantizeBlockQ4_0(b []byte, y []float32) {
	d := halfAt(b)
	qs := b[2:18]
	for j := 0; j < 16; j++ {
		y[j] = float32(int(qs[j]&0xf)-8) * d
		y[j+16] = float32(int(qs[j]>>4)-8) * d
	}
}

// DequantizeBlockQ4_1 expands one Q4_1 block into y[0:32].
func DequantizeBlockQ4_1(b []byte, y []float32) {
	d, m := halfAt(b), halfAt(b[2:])
	qs := b[4:20]
	for j := 0; j < 16; j++ {
		y[j] = float32(float32(qs[j]&0xf)*d) + m
		y[j+16] = float32(float32(qs[j]>>4)*d) + m
	}
}

// DequantizeBlockQ5_0 expands one Q5_0 block into y[0:32].
func DequantizeBlockQ5_0(b []byte, y []float32) {
	d := halfAt(b)
	qh := binary.LittleEndian.Uint32(b[2:])
	qs := b[6:22]
	for j := 0; j < 16; j++ {
		h0 := byte(qh>>uint(j)) & 1 << 4
		h1 := byte(qh>>uint(j+16)) & 1 << 4
		y[j] = float32(int(qs[j]&0xf|h0)-16) * d
		y[j+16] = float32(int(qs[j]>>4|h1)-16) * d
	}
}

// DequantizeBlockQ5_1 expands one Q5_1 block into y[0:32].
func DequantizeBlockQ5_1(b []byte, y []float32) {
	d, m := halfAt(b), halfAt(b[2:])
	qh := binary.LittleEndian.Uint32(b[4:])
	qs := b[8:24]
	for j := 0; j < 16; j++ {
		h0 := byte(qh>>uint(j)) & 1 << 4
		h1 := byte(qh>>uint(j+16)) & 1 << 4
		y[j] = float32(float32(qs[j]&0xf|h0)*d) + m
		y[j+16] = float32(float32(qs[j]>>4|h1)*d) + m
	}
}

// DequantizeBlockQ8_0 expands one Q8_0 block into y[0:32].
func DequantizeBlockQ8_0(b []byte, y []float32) {
	d := halfAt(b)
	for j := 0; j < 32; j++ {
		y[j] = float32(int8(b[2+j])) * d
	}
}

// QuantizeBlockQ8_0 writes x[0:32] as one Q8_0 block: d = max|x|/127, q = round(x/d).
func QuantizeBlockQ8_0(x []float32, b []byte) {
	amax := absMax(x[:32])
	d := amax / 127
	id := inv(d)
	putHalf(b, d)
	for j := 0; j < 32; j++ {
		b[2+j] = byte(int8(roundHalfAway(x[j] * id)))
	}
}

// QuantizeBlockQ4_0 writes x[0:32] as one Q4_0 block. The value of largest magnitude maps to -8 exactly,
// so the full range [-8, 7] is used with the sign that matters most.
func QuantizeBlockQ4_0(x []float32, b []byte) {
	mx := signedAbsMax(x[:32])
	d := mx / -8
	id := inv(d)
	putHalf(b, d)
	qs := b[2:18]
	for j := 0; j < 16; j++ {
		q0 := min(15, int(x[j]*id+8.5))
		q1 := min(15, int(x[j+16]*id+8.5))
		qs[j] = byte(q0) | byte(q1)<<4
	}
}

// QuantizeBlockQ4_1 writes x[0:32] as one Q4_1 block: m = min(x), d = (max-min)/15.
func QuantizeBlockQ4_1(x []float32, b []byte) {
	lo, hi := minMax(x[:32])
	d := (hi - lo) / 15
	id := inv(d)
	putHalf(b, d)
	putHalf(b[2:], lo)
	qs := b[4:20]
	for j := 0; j < 16; j++ {
		q0 := min(15, int((x[j]-lo)*id+0.5))
		q1 := min(15, int((x[j+16]-lo)*id+0.5))
		qs[j] = byte(q0) | byte(q1)<<4
	}
}

// QuantizeBlockQ5_0 writes x[0:32] as one Q5_0 block (the Q4_0 rule with 5 bits: largest magnitude → -16).
func QuantizeBlockQ5_0(x []float32, b []byte) {
	mx := signedAbsMax(x[:32])
	d := mx / -16
	id := inv(d)
	putHalf(b, d)
	var qh uint32
	qs := b[6:22]
	for j := 0; j < 16; j++ {
		q0 := min(31, int(x[j]*id+16.5))
		q1 := min(31, int(x[j+16]*id+16.5))
		qs[j] = byte(q0&0xf) | byte(q1&0xf)<<4
		qh |= uint32(q0>>4&1)<<uint(j) | uint32(q1>>4&1)<<uint(j+16)
	}
	binary.LittleEndian.PutUint32(b[2:], qh)
}

// QuantizeBlockQ5_1 writes x[0:32] as one Q5_1 block: m = min(x), d = (max-min)/31.
func QuantizeBlockQ5_1(x []float32, b []byte) {
	lo, hi := minMax(x[:32])
	d := (hi - lo) / 31
	id := inv(d)
	putHalf(b, d)
	putHalf(b[2:], lo)
	var qh uint32
	qs := b[8:24]
	for j := 0; j < 16; j++ {
		q0 := min(31, int((x[j]-lo)*id+0.5))
		q1 := min(31, int((x[j+16]-lo)*id+0.5))
		qs[j] = byte(q0&0xf) | byte(q1&0xf)<<4
		qh |= uint32(q0>>4&1)<<uint(j) | uint32(q1>>4&1)<<uint(j+16)
	}
	binary.LittleEndian.PutUint32(b[4:], qh)
}

func absMax(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

// signedAbsMax returns the element of largest magnitude, with its sign.
func signedAbsMax(x []float32) float32 {
	var amax, mx float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	return mx
}

func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// roundHalfAway rounds to nearest with ties away from zero (C's roundf).
func roundHalfAway(f float32) float32 { return float32(math.Round(float64(f))) }
