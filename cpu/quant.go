package cpu

import (
	"math"

	"github.com/llamago/llamago/gguf"
)

// Quantized matrix products. For weights in Q4_0, Q8_0, Q4_K or Q6_K the activations are rounded once per
// row to blocks of 32 16-bit integers with one scale each (QuantizeRowQ16: d = max|x|/32639, q = round(x/d)),
// and each block product is an integer dot product scaled by the two block scales:
//
//	Σ_b  d_w[b]·d_x[b] · Σ_j w[b][j]·q[b][j]
//
// llama.cpp rounds activations to 8 bits here, which puts its quantized models about 5e-4 NMSE away from the
// exact logits (and costs it top-1 agreement); 16-bit activations keep llamago within ~1e-8 of exact at the
// same memory traffic, which is what decoding waits on where the kernels keep up with memory.
//
// Where they do not (4-bit weights on AMD Zen 4), a pool may round as llama.cpp does instead
// (Pool.SetActivationBits(8)): its Q8_0 blocks for Q4_0 and Q8_0 weights (32 values, d = max|x|/127 stored
// as fp16, q = round(x·127/max|x|)) and its Q8_K blocks for the k-quants (256 values, d = −max/127 with max
// the value of largest magnitude), each kept in a Q16Row (the Q8_K scale repeated for its 8 blocks). The
// values then fit in a byte, so the decode kernels that have an 8-bit form (VPDPBUSD) do twice the work per
// instruction, and the logits are llama.cpp's up to the order of float sums. Every path of a pool rounds the
// same way, so a token's logits depend on which kernel or batch it went through only by float rounding
// (which at 8 bits can tip a value to the next step: ~1e-4 NMSE).
//
// Other types dequantize each weight row once and use float32 dot products. Batches of gemmMinTokens tokens
// or more take the register tiles of gemm.go (integer) and gemmf.go (float weights) instead, with the same
// rounding.

// f16 maps every fp16 bit pattern to its float32 value (256 KiB), so kernels read block scales with one load.
var f16 = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = gguf.FP16ToFP32(uint16(i))
	}
	return &t
}()

// Q16Row is a row of activations in blocks of 32, x ≈ D[b]·Q[i].
type Q16Row struct {
	Q []int16   // len(x) values
	D []float32 // one scale per block
	S []int32   // per block, Σ Q (for the min term of Q4_K)
	// Narrow says the values fit in ±127 (rounded by QuantizeRowQ8_0 or QuantizeRowQ8_K), so the 8-bit
	// kernels may take them.
	Narrow bool
}

// rounding is how activations are rounded for the integer kernels.
type rounding uint8

const (
	rounding16  rounding = iota // 16 bits per block of 32 (QuantizeRowQ16)
	rounding8_0                 // llama.cpp's Q8_0 (QuantizeRowQ8_0)
	rounding8_K                 // llama.cpp's Q8_K (QuantizeRowQ8_K)
)

// quantize rounds x into r the way k says.
func (k rounding) quantize(x []float32, r *Q16Row) {
	switch k {
	case rounding8_0:
		QuantizeRowQ8_0(x, r)
	case rounding8_K:
		QuantizeRowQ8_K(x, r)
	default:
		QuantizeRowQ16(x, r)
	}
}

// quantizeInto rounds x into q, d (per block of 32) and s (Σq per block) the way k says.
func (k rounding) quantizeInto(x []float32, q []int16, d []float32, s []int32) {
	if k == rounding16 {
		quantizeRow16(x, q, d, s)
		return
	}
	r := Q16Row{Q: q, D: d, S: s}
	k.quantize(x, &r)
}

// QuantizeRowQ16 rounds x (a multiple of 32 long) into r, block by block with round16.
func QuantizeRowQ16(x []float32, r *Q16Row) { quantizeRow16(x, r.Q, r.D, r.S); r.Narrow = false }

// QuantizeRowQ8_0 rounds x (a multiple of 32 long) into r as llama.cpp's quantize_row_q8_0 does on x86:
// per block of 32, id = 127/max|x| and q = round(x·id) in float32 (ties to even), d = max|x|/127 rounded
// to fp16.
func QuantizeRowQ8_0(x []float32, r *Q16Row) {
	r.Narrow = true
	if quantizeRowQ8_0(x, r.Q, r.D, r.S) {
		return
	}
	quantizeRowQ8_0Go(x, r)
}

// quantizeRowQ8_0Go is the portable QuantizeRowQ8_0.
func quantizeRowQ8_0Go(x []float32, r *Q16Row) {
	for b := 0; b < len(x)/32; b++ {
		xb, q := x[b*32:b*32+32], (*[32]int16)(r.Q[b*32:b*32+32])
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		var sum int32
		if amax == 0 {
			*q = [32]int16{}
		} else {
			id := 127 / amax
			for j, v := range xb {
				q[j] = int16(roundEven32(float32(v * id))) // the conversion keeps Go from fusing into an FMA
				sum += int32(q[j])
			}
		}
		r.D[b], r.S[b] = f16[gguf.FP32ToFP16(amax/127)], sum
	}
	r.Narrow = true
}

// QuantizeRowQ8_K rounds x (a multiple of 256 long) into r as llama.cpp's quantize_row_q8_K_ref: per block
// of 256, with max the first value of largest magnitude, iscale = −127/max, q = min(127, round(iscale·x))
// in float32 (ties to even) and d = 1/iscale, the same d for the block's eight blocks of 32. A NaN makes d
// NaN (llama.cpp's comparison would skip it; here it must show).
func QuantizeRowQ8_K(x []float32, r *Q16Row) {
	r.Narrow = true
	if quantizeRowQ8_K(x, r.Q, r.D, r.S) {
		return
	}
	quantizeRowQ8_KGo(x, r)
}

// quantizeRowQ8_KGo is the portable QuantizeRowQ8_K.
func quantizeRowQ8_KGo(x []float32, r *Q16Row) {
	for sb := 0; sb < len(x)/256; sb++ {
		xb := x[sb*256 : sb*256+256]
		var amax, mx float32
		nan := false
		for _, v := range xb {
			if a := abs32(v); a > amax {
				amax, mx = a, v
			}
			nan = nan || v != v
		}
		q := (*[256]int16)(r.Q[sb*256 : sb*256+256])
		d := float32(0)
		if amax == 0 {
			*q = [256]int16{}
		} else {
			iscale := -127 / mx
			for j, v := range xb {
				q[j] = int16(min(127, roundEven32(float32(iscale*v))))
			}
			d = 1 / iscale
		}
		if nan {
			d = float32(math.NaN())
		}
		for b := range 8 {
			var sum int32
			for _, v := range q[b*32 : b*32+32] {
				sum += int32(v)
			}
			r.D[sb*8+b], r.S[sb*8+b] = d, sum
		}
	}
	r.Narrow = true
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// roundEven32 rounds a float32 |v| < 2²² to the nearest integer, ties to even, as llama.cpp's nearest_int
// and the SSE rounding mode do (adding 1.5·2²³ in float32 leaves no fraction bits).
func roundEven32(v float32) int32 {
	return int32(math.Float32bits(v+12582912)&0x007fffff) - 0x00400000
}

// quantizeRow16Go is the portable quantizeRow16.
func quantizeRow16Go(x []float32, q []int16, d []float32, s []int32) {
	for b := 0; b < len(x)/32; b++ {
		qb := (*[32]int16)(q[b*32 : b*32+32])
		d[b] = round16(x[b*32:b*32+32], qb)
		var sum int32
		for _, v := range qb {
			sum += int32(v)
		}
		s[b] = sum
	}
}

// q16Max is the largest 16-bit activation code: not 32767 but 127·256 + 127, so that every code splits into
// two signed bytes, q = 256·hi + lo with lo = int8(q) (act16's q16c: the one-token kernels at 16 bits
// multiply bytes). Its resolution is 0.4% coarser than 32767's: the ~1e-8 NMSE does not move.
const q16Max = 32639

// round16 rounds a block of 32 values to 16 bits: d = max|x|/q16Max, q = round(x/d) (ties to even). It
// returns d (0 for a block of zeros, whose q are all 0).
func round16(x []float32, q *[32]int16) float32 {
	x = x[:32]
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	if amax == 0 {
		*q = [32]int16{}
		return 0
	}
	d := amax / q16Max
	id := 1 / float64(d)
	for j, v := range x {
		q[j] = int16(max(-q16Max, min(q16Max, roundEven(float64(v)*id))))
	}
	return d
}

// roundEven rounds |v| < 2⁵¹ to the nearest integer, ties to even, with one addition: adding 1.5·2⁵² leaves
// no fraction bits in the mantissa.
func roundEven(v float64) int64 { return int64(math.Float64bits(v+0x1.8p52) - 0x4338000000000000) }

// hasQ16Dot reports whether type t uses the integer path.
func hasQ16Dot(t gguf.Type) bool {
	return t == gguf.TypeQ4_0 || t == gguf.TypeQ8_0 || t == gguf.TypeQ4_K || t == gguf.TypeQ6_K
}

// dotQ4_0Q16Go is the portable loop of DotQ4_0Q16 (the one arm64 runs): w holds nb Q4_0 blocks. The
// nibbles' offset of 8 comes off once per block through x.S (Σ (n−8)·q = Σ n·q − 8·Σ q, exact in int32); the
// fixed-size views let the compiler drop the bounds checks, and two sums halve the dependency chain.
func dotQ4_0Q16Go(w []byte, x *Q16Row, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		blk := (*[18]byte)(w[b*18:])
		q := (*[32]int16)(x.Q[b*32:])
		var s0, s1 int32
		for j := 0; j < 16; j += 2 {
			v0, v1 := blk[2+j], blk[3+j]
			s0 += int32(v0&15)*int32(q[j]) + int32(v0>>4)*int32(q[j+16])
			s1 += int32(v1&15)*int32(q[j+1]) + int32(v1>>4)*int32(q[j+17])
		}
		sum += f16[uint16(blk[0])|uint16(blk[1])<<8] * x.D[b] * float32(s0+s1-8*x.S[b])
	}
	return sum
}

// dotQ8_0Q16Go is the portable loop of DotQ8_0Q16: w holds nb Q8_0 blocks.
func dotQ8_0Q16Go(w []byte, x *Q16Row, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		blk := (*[34]byte)(w[b*34:])
		q := (*[32]int16)(x.Q[b*32:])
		var s0, s1 int32
		for j := 0; j < 32; j += 2 {
			s0 += int32(int8(blk[2+j])) * int32(q[j])
			s1 += int32(int8(blk[3+j])) * int32(q[j+1])
		}
		sum += f16[uint16(blk[0])|uint16(blk[1])<<8] * x.D[b] * float32(s0+s1)
	}
	return sum
}

// dot4Go is the portable four-row product (w: four rows stride bytes apart) for Q4_0 and Q8_0: each
// activation value is loaded once for the four rows. Each row's sum is formed as in the one-row loops.
func dot4Go(t gguf.Type, w []byte, stride int, x *Q16Row, nb int, out *[4]float32) bool {
	switch t {
	case gguf.TypeQ4_0:
		dotQ4_0Q16x4Go(w, stride, x, nb, out)
	case gguf.TypeQ8_0:
		dotQ8_0Q16x4Go(w, stride, x, nb, out)
	case gguf.TypeQ4_K:
		dotQ4_KQ16x4Go(w, stride, x, nb, out)
	default:
		return false
	}
	return true
}

// dotQ4_KQ16x4Go is dotQ4_KQ16Go for four rows (nb super-blocks each), each activation loaded once.
func dotQ4_KQ16x4Go(w []byte, stride int, x *Q16Row, nsb int, out *[4]float32) {
	var sum [4]float32
	for sb := 0; sb < nsb; sb++ {
		var blk [4]*[144]byte
		for r := range blk {
			blk[r] = (*[144]byte)(w[r*stride+sb*144:])
		}
		for c := 0; c < 4; c++ {
			b := sb*8 + 2*c
			q0, q1 := (*[32]int16)(x.Q[b*32:]), (*[32]int16)(x.Q[b*32+32:])
			qa, qb, qc, qd := (*[32]byte)(blk[0][16+32*c:]), (*[32]byte)(blk[1][16+32*c:]), (*[32]byte)(blk[2][16+32*c:]), (*[32]byte)(blk[3][16+32*c:])
			var lo, hi [4]int32
			for l := 0; l < 32; l++ {
				x0, x1 := int32(q0[l]), int32(q1[l])
				va, vb, vc, vd := qa[l], qb[l], qc[l], qd[l]
				lo[0] += int32(va&15) * x0
				hi[0] += int32(va>>4) * x1
				lo[1] += int32(vb&15) * x0
				hi[1] += int32(vb>>4) * x1
				lo[2] += int32(vc&15) * x0
				hi[2] += int32(vc>>4) * x1
				lo[3] += int32(vd&15) * x0
				hi[3] += int32(vd>>4) * x1
			}
			for r := range blk {
				d, dmin := f16[uint16(blk[r][0])|uint16(blk[r][1])<<8], f16[uint16(blk[r][2])|uint16(blk[r][3])<<8]
				sc, m := q4kScaleMin(2*c, blk[r][4:16])
				sum[r] += x.D[b] * (d*float32(sc)*float32(lo[r]) - dmin*float32(m)*float32(x.S[b]))
				sc, m = q4kScaleMin(2*c+1, blk[r][4:16])
				sum[r] += x.D[b+1] * (d*float32(sc)*float32(hi[r]) - dmin*float32(m)*float32(x.S[b+1]))
			}
		}
	}
	*out = sum
}

func dotQ4_0Q16x4Go(w []byte, stride int, x *Q16Row, nb int, out *[4]float32) {
	var sum [4]float32
	for b := 0; b < nb; b++ {
		q := (*[32]int16)(x.Q[b*32:])
		b0, b1 := (*[18]byte)(w[b*18:]), (*[18]byte)(w[stride+b*18:])
		b2, b3 := (*[18]byte)(w[2*stride+b*18:]), (*[18]byte)(w[3*stride+b*18:])
		var s0, s1, s2, s3 int32
		for j := 0; j < 16; j++ {
			lo, hi := int32(q[j]), int32(q[j+16])
			v0, v1, v2, v3 := b0[2+j], b1[2+j], b2[2+j], b3[2+j]
			s0 += int32(v0&15)*lo + int32(v0>>4)*hi
			s1 += int32(v1&15)*lo + int32(v1>>4)*hi
			s2 += int32(v2&15)*lo + int32(v2>>4)*hi
			s3 += int32(v3&15)*lo + int32(v3>>4)*hi
		}
		d, off := x.D[b], 8*x.S[b]
		sum[0] += f16[uint16(b0[0])|uint16(b0[1])<<8] * d * float32(s0-off)
		sum[1] += f16[uint16(b1[0])|uint16(b1[1])<<8] * d * float32(s1-off)
		sum[2] += f16[uint16(b2[0])|uint16(b2[1])<<8] * d * float32(s2-off)
		sum[3] += f16[uint16(b3[0])|uint16(b3[1])<<8] * d * float32(s3-off)
	}
	*out = sum
}

func dotQ8_0Q16x4Go(w []byte, stride int, x *Q16Row, nb int, out *[4]float32) {
	var sum [4]float32
	for b := 0; b < nb; b++ {
		q := (*[32]int16)(x.Q[b*32:])
		b0, b1 := (*[34]byte)(w[b*34:]), (*[34]byte)(w[stride+b*34:])
		b2, b3 := (*[34]byte)(w[2*stride+b*34:]), (*[34]byte)(w[3*stride+b*34:])
		var s0, s1, s2, s3 int32
		for j := 0; j < 32; j++ {
			v := int32(q[j])
			s0 += int32(int8(b0[2+j])) * v
			s1 += int32(int8(b1[2+j])) * v
			s2 += int32(int8(b2[2+j])) * v
			s3 += int32(int8(b3[2+j])) * v
		}
		d := x.D[b]
		sum[0] += f16[uint16(b0[0])|uint16(b0[1])<<8] * d * float32(s0)
		sum[1] += f16[uint16(b1[0])|uint16(b1[1])<<8] * d * float32(s1)
		sum[2] += f16[uint16(b2[0])|uint16(b2[1])<<8] * d * float32(s2)
		sum[3] += f16[uint16(b3[0])|uint16(b3[1])<<8] * d * float32(s3)
	}
	*out = sum
}

// DotQ4_0Q16 returns Σ over the nb blocks of a Q4_0 weight row w and quantized activations x.
func DotQ4_0Q16(w []byte, x *Q16Row, nb int) float32 {
	_, _, _ = w[nb*18-1], x.Q[nb*32-1], x.D[nb-1]
	return dotQ4_0Q16(w, x, nb)
}

// DotQ8_0Q16 returns Σ over the nb blocks of a Q8_0 weight row w and quantized activations x.
func DotQ8_0Q16(w []byte, x *Q16Row, nb int) float32 {
	_, _, _ = w[nb*34-1], x.Q[nb*32-1], x.D[nb-1]
	return dotQ8_0Q16(w, x, nb)
}

// q4kScaleMin unpacks the j-th 6-bit scale and min of a Q4_K block's 12 scale bytes.
func q4kScaleMin(j int, q []byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// dotQ4_KQ16Go is the reference loop of DotQ4_KQ16: w holds nsb Q4_K super-blocks; per sub-block j of 32
// (activation block b): D[b]·(d·sc_j·Σ q·x − dmin·m_j·S[b]).
func dotQ4_KQ16Go(w []byte, x *Q16Row, nsb int) float32 {
	var sum float32
	for sb := 0; sb < nsb; sb++ {
		blk := (*[144]byte)(w[sb*144:])
		d, dmin := f16[uint16(blk[0])|uint16(blk[1])<<8], f16[uint16(blk[2])|uint16(blk[3])<<8]
		for c := 0; c < 4; c++ { // sub-blocks 2c (low nibbles) and 2c+1 (high nibbles) share their bytes
			qs := (*[32]byte)(blk[16+32*c:])
			b := sb*8 + 2*c
			q0, q1 := (*[32]int16)(x.Q[b*32:]), (*[32]int16)(x.Q[b*32+32:])
			var s0, s1 int32
			for l, v := range qs {
				s0 += int32(v&15) * int32(q0[l])
				s1 += int32(v>>4) * int32(q1[l])
			}
			sc, m := q4kScaleMin(2*c, blk[4:16])
			sum += x.D[b] * (d*float32(sc)*float32(s0) - dmin*float32(m)*float32(x.S[b]))
			sc, m = q4kScaleMin(2*c+1, blk[4:16])
			sum += x.D[b+1] * (d*float32(sc)*float32(s1) - dmin*float32(m)*float32(x.S[b+1]))
		}
	}
	return sum
}

// DotQ4_KQ16 returns Σ over the nsb super-blocks of a Q4_K weight row w and quantized activations x.
func DotQ4_KQ16(w []byte, x *Q16Row, nsb int) float32 {
	_, _, _, _ = w[nsb*144-1], x.Q[nsb*256-1], x.D[nsb*8-1], x.S[nsb*8-1]
	return dotQ4_KQ16(w, x, nsb)
}

// dotQ6_KQ16Go is the reference loop of DotQ6_KQ16: w holds nsb Q6_K super-blocks; value e of a super-block
// is d·sc[e/16]·(q_e − 32), and group g of 32 values in half n is activation block 8·sb + 4n + g.
func dotQ6_KQ16Go(w []byte, x *Q16Row, nsb int) float32 {
	var sum float32
	for sb := 0; sb < nsb; sb++ {
		blk := (*[210]byte)(w[sb*210:])
		d := f16[uint16(blk[208])|uint16(blk[209])<<8]
		for n := 0; n < 2; n++ {
			ql, qh, sc := (*[64]byte)(blk[64*n:]), (*[32]byte)(blk[128+32*n:]), (*[8]byte)(blk[192+8*n:])
			b := sb*8 + 4*n
			q := (*[128]int16)(x.Q[b*32:]) // the four groups' activations
			// s[g][h]: group g's sum over values 16h … 16h+15; each byte pair serves the four groups.
			var s [4][2]int32
			for h := 0; h < 2; h++ {
				var s0, s1, s2, s3 int32
				for l := 16 * h; l < 16*h+16; l++ {
					a, c, u := ql[l], ql[l+32], qh[l]
					s0 += (int32(a&15|(u&3)<<4) - 32) * int32(q[l])
					s1 += (int32(c&15|(u>>2&3)<<4) - 32) * int32(q[32+l])
					s2 += (int32(a>>4|(u>>4&3)<<4) - 32) * int32(q[64+l])
					s3 += (int32(c>>4|(u>>6)<<4) - 32) * int32(q[96+l])
				}
				s[0][h], s[1][h], s[2][h], s[3][h] = s0, s1, s2, s3
			}
			for g := 0; g < 4; g++ {
				sum += d * x.D[b+g] * (float32(int8(sc[2*g]))*float32(s[g][0]) + float32(int8(sc[2*g+1]))*float32(s[g][1]))
			}
		}
	}
	return sum
}

// DotQ6_KQ16 returns Σ over the nsb super-blocks of a Q6_K weight row w and quantized activations x.
func DotQ6_KQ16(w []byte, x *Q16Row, nsb int) float32 {
	_, _, _ = w[nsb*210-1], x.Q[nsb*256-1], x.D[nsb*8-1]
	return dotQ6_KQ16(w, x, nsb)
}
