package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// blockQuantizers hold the one-block reference quantizers (x[0:blockSize] → block bytes).
var blockQuantizers = map[Type]func(x []float32, b []byte){
	TypeQ4_0:   QuantizeBlockQ4_0,
	TypeQ4_1:   QuantizeBlockQ4_1,
	TypeQ5_0:   QuantizeBlockQ5_0,
	TypeQ5_1:   QuantizeBlockQ5_1,
	TypeQ8_0:   QuantizeBlockQ8_0,
	TypeQ2_K:   QuantizeBlockQ2_K,
	TypeQ3_K:   QuantizeBlockQ3_K,
	TypeQ4_K:   QuantizeBlockQ4_K,
	TypeQ5_K:   QuantizeBlockQ5_K,
	TypeQ6_K:   QuantizeBlockQ6_K,
	TypeQ8_K:   QuantizeBlockQ8_K,
	TypeIQ4_NL: QuantizeBlockIQ4_NL,
	TypeIQ4_XS: QuantizeBlockIQ4_XS,
}

// CanQuantize reports whether Quantize supports t.
func CanQuantize(t Type) bool {
	switch t {
	case TypeF32, TypeF16, TypeBF16:
		return true
	}
	_, ok := blockQuantizers[t]
	return ok
}

// Quantize stores x as type t into dst, which must hold t.RowBytes(len(x)) bytes.
func Quantize(t Type, x []float32, dst []byte) error {
	if !CanQuantize(t) {
		return fmt.Errorf("quantize: llamago cannot quantize to %s", t)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if len(x)%bs != 0 {
		return fmt.Errorf("quantize %s: %d values is not a multiple of the block size %d", t, len(x), bs)
	}
	if need := len(x) / bs * ts; len(dst) < need {
		return fmt.Errorf("quantize %s: %d values need %d bytes, have %d", t, len(x), need, len(dst))
	}
	switch t {
	case TypeF32:
		for i, v := range x {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case TypeF16:
		for i, v := range x {
			binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
		}
	case TypeBF16:
		for i, v := range x {
			binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
		}
	default:
		q := blockQuantizers[t]
		for b := 0; b < len(x)/bs; b++ {
			q(x[b*bs:(b+1)*bs], dst[b*ts:(b+1)*ts])
		}
	}
	return nil
}

// The k-quant and IQ4 quantizers below are llamago's own: each sub-block's scale (and min) is chosen by a
// small search over candidate scales, each refined by least squares on the codes it produces, keeping the
// candidate of smallest squared error. The sub-block scales are then quantized against the super-block
// scale and the codes recomputed with the scales as stored, so the block decodes to what was optimized.

// fitAffine fits x ≈ s·q − m with integer q ∈ [0, nmax] and m ≥ 0, minimizing Σ(x − (s·q − m))². Each
// candidate scale gives codes q; least squares then refits (s, m) to those codes, and the error of the refit
// is computed from the same sums, so a candidate costs one pass over x.
func fitAffine(x []float32, nmax int) (s, m float32) {
	lo, hi := minMax(x)
	lo = min(lo, 0)
	if hi == lo {
		return 0, -lo
	}
	n := float64(len(x))
	var sx, sxx float64
	for _, v := range x {
		sx += float64(v)
		sxx += float64(v) * float64(v)
	}
	bestErr := math.Inf(1)
	for k := -8; k <= 8; k++ {
		iscale := (float64(nmax) + 0.1*float64(k)) / float64(hi-lo)
		var sq, sqq, sqx float64
		for _, v := range x {
			q := clampRound(iscale*float64(v-lo), 0, nmax)
			sq += q
			sqq += q * q
			sqx += q * float64(v)
		}
		det := n*sqq - sq*sq
		if det <= 0 {
			continue
		}
		a := (n*sqx - sq*sx) / det
		b := (sx - a*sq) / n
		if b > 0 { // the offset must be a non-positive shift (stored as a min ≥ 0)
			b = 0
			a = sqx / sqq
		}
		if a < 0 {
			continue
		}
		// Σ(x − a·q − b)² expanded in the sums already at hand.
		e := sxx - 2*a*sqx - 2*b*sx + a*a*sqq + 2*a*b*sq + n*b*b
		if e < bestErr {
			bestErr, s, m = e, float32(a), float32(-b)
		}
	}
	if math.IsInf(bestErr, 1) {
		return (hi - lo) / float32(nmax), -lo
	}
	return s, m
}

// fitSymmetric fits x ≈ s·q with integer q ∈ [nmin, nmax], minimizing Σ(x − s·q)². Each candidate scale
// gives codes q, least squares refits s to them, and the refit's error comes from the same sums.
func fitSymmetric(x []float32, nmin, nmax int) float32 {
	mx := signedAbsMax(x)
	if mx == 0 {
		return 0
	}
	var sxx float64
	for _, v := range x {
		sxx += float64(v) * float64(v)
	}
	best, bestErr := float32(0), math.Inf(1)
	for k := -8; k <= 8; k++ {
		iscale := -(float64(-nmin) + 0.1*float64(k)) / float64(mx)
		var sqq, sqx float64
		for _, v := range x {
			q := clampRound(iscale*float64(v), nmin, nmax)
			sqq += q * q
			sqx += q * float64(v)
		}
		if sqq == 0 {
			continue
		}
		s := sqx / sqq
		if e := sxx - 2*s*sqx + s*s*sqq; e < bestErr {
			best, bestErr = float32(s), e
		}
	}
	return best
}

func clampRound(v float64, lo, hi int) float64 {
	r := math.Round(v)
	if r < float64(lo) {
		return float64(lo)
	}
	if r > float64(hi) {
		return float64(hi)
	}
	return r
}

// codeAffine returns the code of v for a stored scale dl and min ml: clamp(round((v+ml)/dl), 0, nmax).
func codeAffine(v, dl, ml float32, nmax int) byte {
	if dl == 0 {
		return 0
	}
	return byte(clampRound(float64((v+ml)/dl), 0, nmax))
}

// codeSymmetric returns clamp(round(v/dl), nmin, nmax).
func codeSymmetric(v, dl float32, nmin, nmax int) int {
	if dl == 0 {
		return 0
	}
	return int(clampRound(float64(v/dl), nmin, nmax))
}

// quantizeScales maps non-negative sub-block values to integers in [0, levels] against a shared scale,
// returning that scale rounded through fp16 as it will be stored.
func quantizeScales(v []float32, levels int, out []byte) (d float32) {
	mx := float32(0)
	for _, s := range v {
		mx = max(mx, s)
	}
	d = FP16ToFP32(FP32ToFP16(mx / float32(levels)))
	for i, s := range v {
		out[i] = 0
		if d > 0 {
			out[i] = byte(clampRound(float64(s/d), 0, levels))
		}
	}
	return d
}

// quantizeAffineK fits the sub-blocks of one Q4_K/Q5_K super-block: codes in [0, nmax], 6-bit scales and mins.
func quantizeAffineK(x []float32, nmax int) (d, dmin float32, sc, mn [8]byte, codes [QK_K]byte) {
	var s, m [8]float32
	for j := 0; j < 8; j++ {
		s[j], m[j] = fitAffine(x[32*j:32*j+32], nmax)
	}
	d = quantizeScales(s[:], 63, sc[:])
	dmin = quantizeScales(m[:], 63, mn[:])
	for j := 0; j < 8; j++ {
		dl, ml := d*float32(sc[j]), dmin*float32(mn[j])
		for l := 0; l < 32; l++ {
			codes[32*j+l] = codeAffine(x[32*j+l], dl, ml, nmax)
		}
	}
	return
}

// QuantizeBlockQ4_K writes x[0:256] as one Q4_K super-block.
func QuantizeBlockQ4_K(x []float32, b []byte) {
	d, dmin, sc, mn, codes := quantizeAffineK(x, 15)
	putHalf(b, d)
	putHalf(b[2:], dmin)
	packScaleMinK4(&sc, &mn, b[4:16])
	qs := b[16:144]
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			qs[32*c+l] = codes[64*c+l] | codes[64*c+32+l]<<4
		}
	}
}

// QuantizeBlockQ5_K writes x[0:256] as one Q5_K super-block.
func QuantizeBlockQ5_K(x []float32, b []byte) {
	d, dmin, sc, mn, codes := quantizeAffineK(x, 31)
	putHalf(b, d)
	putHalf(b[2:], dmin)
	packScaleMinK4(&sc, &mn, b[4:16])
	qh, qs := b[16:48], b[48:176]
	clear(qh)
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			c1, c2 := codes[64*c+l], codes[64*c+32+l]
			qs[32*c+l] = c1&0xf | (c2&0xf)<<4
			qh[l] |= (c1>>4)<<uint(2*c) | (c2>>4)<<uint(2*c+1)
		}
	}
}

// QuantizeBlockQ6_K writes x[0:256] as one Q6_K super-block: 16 sub-blocks of 16 with int8 scales.
func QuantizeBlockQ6_K(x []float32, b []byte) {
	var s [16]float32
	smax := float32(0)
	for j := range s {
		s[j] = fitSymmetric(x[16*j:16*j+16], -32, 31)
		smax = max(smax, float32(math.Abs(float64(s[j]))))
	}
	d := FP16ToFP32(FP32ToFP16(smax / 127))
	putHalf(b[208:], d)
	ql, qh, scales := b[0:128], b[128:192], b[192:208]
	clear(ql)
	clear(qh)
	var codes [QK_K]byte
	for j := range s {
		sc := 0
		if d > 0 {
			sc = int(clampRound(float64(s[j]/d), -128, 127))
		}
		scales[j] = byte(int8(sc))
		dl := d * float32(sc)
		for l := 0; l < 16; l++ {
			codes[16*j+l] = byte(codeSymmetric(x[16*j+l], dl, -32, 31) + 32)
		}
	}
	for n := 0; n < 2; n++ {
		for l := 0; l < 32; l++ {
			c := codes[128*n:]
			ql[64*n+l] = c[l]&0xf | (c[l+64]&0xf)<<4
			ql[64*n+l+32] = c[l+32]&0xf | (c[l+96]&0xf)<<4
			qh[32*n+l] = c[l]>>4 | (c[l+32]>>4)<<2 | (c[l+64]>>4)<<4 | (c[l+96]>>4)<<6
		}
	}
}

// QuantizeBlockQ3_K writes x[0:256] as one Q3_K super-block: 16 sub-blocks of 16, codes in [−4, 3],
// 6-bit sub-block scales.
func QuantizeBlockQ3_K(x []float32, b []byte) {
	var s [16]float32
	for j := range s {
		s[j] = fitSymmetric(x[16*j:16*j+16], -4, 3)
	}
	var u [16]byte // biased scales in [0, 63]
	smax := float32(0)
	for _, v := range s {
		smax = max(smax, float32(math.Abs(float64(v))))
	}
	d := FP16ToFP32(FP32ToFP16(smax / 31))
	putHalf(b[108:], d)
	hmask, qs, packed := b[0:32], b[32:96], b[96:108]
	clear(hmask)
	clear(qs)
	clear(packed)
	for j := range s {
		sc := 0
		if d > 0 {
			sc = int(clampRound(float64(s[j]/d), -32, 31))
		}
		u[j] = byte(sc + 32)
		dl := d * float32(sc)
		for l := 0; l < 16; l++ {
			i := 16*j + l                                 // element index
			n, r := i/128, i%128                          // half, offset in it
			plane, k := r/32, r%32                        // 2-bit plane, byte in the half
			c := byte(codeSymmetric(x[i], dl, -4, 3) + 4) // 0..7
			qs[32*n+k] |= (c & 3) << uint(2*plane)        // low bits
			hmask[k] |= (c >> 2) << uint(4*n+plane)       // high bit set means no −4
		}
	}
	for j := 0; j < 8; j++ {
		packed[j] = u[j]&0xf | (u[j+8]&0xf)<<4
	}
	for k := 0; k < 4; k++ {
		for g := 0; g < 4; g++ {
			packed[8+k] |= (u[4*g+k] >> 4 & 3) << uint(2*g)
		}
	}
}

// QuantizeBlockQ2_K writes x[0:256] as one Q2_K super-block: 16 sub-blocks of 16, codes in [0, 3],
// 4-bit scales and mins.
func QuantizeBlockQ2_K(x []float32, b []byte) {
	var s, m [16]float32
	for j := range s {
		s[j], m[j] = fitAffine(x[16*j:16*j+16], 3)
	}
	var sc, mn [16]byte
	d := quantizeScales(s[:], 15, sc[:])
	dmin := quantizeScales(m[:], 15, mn[:])
	scales, qs := b[0:16], b[16:80]
	clear(qs)
	putHalf(b[80:], d)
	putHalf(b[82:], dmin)
	for j := range s {
		scales[j] = sc[j] | mn[j]<<4
		dl, ml := d*float32(sc[j]), dmin*float32(mn[j])
		for l := 0; l < 16; l++ {
			i := 16*j + l
			n, r := i/128, i%128
			plane, k := r/32, r%32
			qs[32*n+k] |= codeAffine(x[i], dl, ml, 3) << uint(2*plane)
		}
	}
}

// nearestIQ4 returns the index of the IQ4_NL level nearest to v (the levels are sorted: binary search).
func nearestIQ4(v float32) byte {
	lo, hi := 0, len(iq4nlLevels)-1
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if float32(iq4nlLevels[mid]) <= v {
			lo = mid
		} else {
			hi = mid
		}
	}
	if v-float32(iq4nlLevels[lo]) <= float32(iq4nlLevels[hi])-v {
		return byte(lo)
	}
	return byte(hi)
}

// fitIQ4 chooses the scale of one 32-element IQ4 sub-block: for each candidate scale the codes are the
// nearest levels, least squares refits the scale to them (d = Σx·T/ΣT²), and the refit's error is
// Σx² − (Σx·T)²/ΣT².
func fitIQ4(x []float32) float32 {
	mx := signedAbsMax(x)
	if mx == 0 {
		return 0
	}
	var sxx float64
	for _, v := range x {
		sxx += float64(v) * float64(v)
	}
	d0 := mx / float32(iq4nlLevels[0])
	best, bestErr := d0, math.Inf(1)
	for k := -10; k <= 10; k++ {
		d := d0 * (1 + 0.02*float32(k))
		id := 1 / d
		var stq, stt float64
		for _, v := range x {
			t := float64(iq4nlLevels[nearestIQ4(v*id)])
			stq += t * float64(v)
			stt += t * t
		}
		if e := sxx - stq*stq/stt; e < bestErr {
			best, bestErr = float32(stq/stt), e
		}
	}
	return best
}

// QuantizeBlockIQ4_NL writes x[0:32] as one IQ4_NL block.
func QuantizeBlockIQ4_NL(x []float32, b []byte) {
	d := FP16ToFP32(FP32ToFP16(fitIQ4(x[:32])))
	putHalf(b, d)
	packIQ4(x[:32], d, b[2:18])
}

func packIQ4(x []float32, d float32, qs []byte) {
	for j := 0; j < 16; j++ {
		var c0, c1 byte
		if d != 0 {
			c0, c1 = nearestIQ4(x[j]/d), nearestIQ4(x[j+16]/d)
		}
		qs[j] = c0 | c1<<4
	}
}

// QuantizeBlockIQ4_XS writes x[0:256] as one IQ4_XS super-block: 8 sub-blocks of 32 with 6-bit scales.
func QuantizeBlockIQ4_XS(x []float32, b []byte) {
	var s [8]float32
	smax := float32(0)
	for j := range s {
		s[j] = fitIQ4(x[32*j : 32*j+32])
		smax = max(smax, float32(math.Abs(float64(s[j]))))
	}
	d := FP16ToFP32(FP32ToFP16(smax / 31))
	putHalf(b, d)
	var sh uint16
	sl := b[4:8]
	clear(sl)
	for j := range s {
		ls := 0
		if d > 0 {
			ls = int(clampRound(float64(s[j]/d), -32, 31))
		}
		u := ls + 32
		sl[j/2] |= byte(u&0xf) << uint(4*(j%2))
		sh |= uint16(u>>4) << uint(2*j)
		packIQ4(x[32*j:32*j+32], d*float32(ls), b[8+16*j:24+16*j])
	}
	binary.LittleEndian.PutUint16(b[2:], sh)
}
