package gguf

import (
	"encoding/binary"
	"math"
)

// The k-quants: super-blocks of QK_K = 256 elements split into sub-blocks that each carry a small
// quantized scale (and min), themselves scaled by the fp16 super-block scale d (and dmin).
//
//	Q2_K (84 B):  scales[16] (lo nibble scale, hi nibble min) | qs[64] (2 bits) | d | dmin
//	              sub-blocks of 16; y = d·sc·q − dmin·m, q ∈ [0,3]
//	Q3_K (110 B): hmask[32] | qs[64] (2 low bits) | scales[12] (16 × 6 bits, biased by 32) | d
//	              sub-blocks of 16; y = d·(sc−32)·q, q ∈ [−4,3] (high bit clear means −4)
//	Q4_K (144 B): d | dmin | scales[12] (8 scales + 8 mins, 6 bits each) | qs[128]
//	              sub-blocks of 32; y = d·sc·q − dmin·m, q ∈ [0,15]
//	Q5_K (176 B): d | dmin | scales[12] | qh[32] | qs[128]; as Q4_K with a fifth bit, q ∈ [0,31]
//	Q6_K (210 B): ql[128] | qh[64] | scales int8[16] | d
//	              sub-blocks of 16; y = d·sc·(q−32), q ∈ [0,63]
//	Q8_K (292 B): d float32 | qs int8[256] | bsums int16[16] (sums of 16-element groups)
//
// Within each 128-element half (Q2_K, Q3_K, Q6_K) or 64-element quarter (Q4_K, Q5_K) the bit planes of
// one byte hold elements 32 apart.

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K scales[12] array.
func scaleMinK4(j int, q []byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// packScaleMinK4 is the inverse of scaleMinK4 for 8 scales and mins in [0,63].
func packScaleMinK4(sc, m *[8]byte, q []byte) {
	for j := 0; j < 4; j++ {
		q[j] = sc[j] | (sc[j+4]>>4)<<6
		q[j+4] = m[j] | (m[j+4]>>4)<<6
		q[j+8] = sc[j+4]&0xf | (m[j+4]&0xf)<<4
	}
}

// DequantizeBlockQ2_K expands one Q2_K super-block into y[0:256].
func DequantizeBlockQ2_K(b []byte, y []float32) {
	scales, qs := b[0:16], b[16:80]
	d, dmin := halfAt(b[80:]), halfAt(b[82:])
	is := 0
	for n := 0; n < 2; n++ {
		q := qs[32*n:]
		for j := 0; j < 4; j++ {
			shift := uint(2 * j)
			for h := 0; h < 2; h++ {
				sc := scales[is]
				is++
				dl, ml := d*float32(sc&0xf), dmin*float32(sc>>4)
				out := y[128*n+32*j+16*h:]
				for l := 0; l < 16; l++ {
					out[l] = float32(dl*float32(q[16*h+l]>>shift&3)) - ml
				}
			}
		}
	}
}

// q3kScales unpacks the 16 biased 6-bit scales of a Q3_K block.
func q3kScales(s []byte) (u [16]byte) {
	for i := 0; i < 16; i++ {
		lo := s[i%8] >> (4 * uint(i/8)) & 0xf
		hi := s[8+i%4] >> (2 * uint(i/4)) & 3
		u[i] = lo | hi<<4
	}
	return u
}

// DequantizeBlockQ3_K expands one Q3_K super-block into y[0:256].
func DequantizeBlockQ3_K(b []byte, y []float32) {
	hmask, qs := b[0:32], b[32:96]
	sc := q3kScales(b[96:108])
	d := halfAt(b[108:])
	is := 0
	m := byte(1)
	for n := 0; n < 2; n++ {
		q := qs[32*n:]
		for j := 0; j < 4; j++ {
			shift := uint(2 * j)
			for h := 0; h < 2; h++ {
				dl := d * float32(int(sc[is])-32)
				is++
				out := y[128*n+32*j+16*h:]
				for l := 0; l < 16; l++ {
					v := int(q[16*h+l] >> shift & 3)
					if hmask[16*h+l]&m == 0 {
						v -= 4
					}
					out[l] = dl * float32(v)
				}
			}
			m <<= 1
		}
	}
}

// DequantizeBlockQ4_K expands one Q4_K super-block into y[0:256].
func DequantizeBlockQ4_K(b []byte, y []float32) {
	d, dmin := halfAt(b), halfAt(b[2:])
	scales, qs := b[4:16], b[16:144]
	for c := 0; c < 4; c++ {
		sc1, m1 := scaleMinK4(2*c, scales)
		sc2, m2 := scaleMinK4(2*c+1, scales)
		d1, mn1 := d*float32(sc1), dmin*float32(m1)
		d2, mn2 := d*float32(sc2), dmin*float32(m2)
		q := qs[32*c:]
		out := y[64*c:]
		for l := 0; l < 32; l++ {
			out[l] = float32(d1*float32(q[l]&0xf)) - mn1
			out[l+32] = float32(d2*float32(q[l]>>4)) - mn2
		}
	}
}

// DequantizeBlockQ5_K expands one Q5_K super-block into y[0:256].
func DequantizeBlockQ5_K(b []byte, y []float32) {
	d, dmin := halfAt(b), halfAt(b[2:])
	scales, qh, qs := b[4:16], b[16:48], b[48:176]
	for c := 0; c < 4; c++ {
		sc1, m1 := scaleMinK4(2*c, scales)
		sc2, m2 := scaleMinK4(2*c+1, scales)
		d1, mn1 := d*float32(sc1), dmin*float32(m1)
		d2, mn2 := d*float32(sc2), dmin*float32(m2)
		u1, u2 := byte(1)<<uint(2*c), byte(2)<<uint(2*c)
		q := qs[32*c:]
		out := y[64*c:]
		for l := 0; l < 32; l++ {
			v1, v2 := q[l]&0xf, q[l]>>4
			if qh[l]&u1 != 0 {
				v1 += 16
			}
			if qh[l]&u2 != 0 {
				v2 += 16
			}
			out[l] = float32(d1*float32(v1)) - mn1
			out[l+32] = float32(d2*float32(v2)) - mn2
		}
	}
}

// DequantizeBlockQ6_K expands one Q6_K super-block into y[0:256].
func DequantizeBlockQ6_K(b []byte, y []float32) {
	d := halfAt(b[208:])
	for n := 0; n < 2; n++ {
		ql, qh, sc := b[64*n:], b[128+32*n:], b[192+8*n:]
		out := y[128*n:]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
			q2 := int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			out[l] = d * float32(int8(sc[is])) * float32(q1)
			out[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			out[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			out[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
	}
}

// DequantizeBlockQ8_K expands one Q8_K super-block into y[0:256].
func DequantizeBlockQ8_K(b []byte, y []float32) {
	d := math.Float32frombits(binary.LittleEndian.Uint32(b))
	for j := 0; j < QK_K; j++ {
		y[j] = d * float32(int8(b[4+j]))
	}
}

// QuantizeBlockQ8_K writes x[0:256] as one Q8_K block (the activation format of the k-quant dot products):
// d = −max|x|/128 with the sign of the extreme value, q = round(x/d) clamped to 127, plus 16-element sums.
func QuantizeBlockQ8_K(x []float32, b []byte) {
	mx := signedAbsMax(x[:QK_K])
	if mx == 0 {
		clear(b[:292])
		return
	}
	iscale := -128 / mx
	for j := 0; j < QK_K; j++ {
		b[4+j] = byte(int8(min(127, int(roundHalfAway(iscale*x[j])))))
	}
	for g := 0; g < 16; g++ {
		s := 0
		for l := 0; l < 16; l++ {
			s += int(int8(b[4+16*g+l]))
		}
		binary.LittleEndian.PutUint16(b[260+2*g:], uint16(int16(s)))
	}
	binary.LittleEndian.PutUint32(b, math.Float32bits(1/iscale))
}
