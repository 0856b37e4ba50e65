package cpu

import (
	"encoding/binary"

	"github.com/llamago/llamago/gguf"
)

// Prompt-sized matrix products (gemm). Decoding reads every weight once per token and waits on memory; a
// prompt batch reads each weight once for many tokens and waits on arithmetic. For batches of at least
// gemmMinTokens tokens on CPUs with AVX-512 VNNI (or, at about half the speed, AVX2) the integer path changes
// shape, not precision:
//
//   - the activations are rounded per block of 32 exactly as for decoding (roundBlock, 16 bits or 8), into
//     groups of gemmT tokens laid out so that 2 consecutive values of all gemmT tokens sit side by side;
//   - the weights are unpacked gemmRows rows at a time into bytes (a "strip": 4 consecutive values of each
//     of the 16 rows side by side, w = s·u − o with one float s and o per block of 16 or 32 values), then
//     widened to 16-bit pairs with the type's zero point subtracted (u − bias), so that only Q4_K, whose
//     offsets are not a multiple of its scales, keeps an offset term;
//   - the kernel keeps 16 rows × gemmT tokens of int32 block sums in registers (one VPDPWSSD adds 2
//     products to each of 16 rows; the AVX2 kernel covers the tile as four 8-row × 4-token pieces with
//     VPMADDWD), and at the end of each block folds them into float sums:
//     Σ_b d_x[b]·s[b]·Σ (u−bias)·q  [ − o[b]·d_x[b]·Σ q ].
//
// A strip is unpacked once and used for every token of the batch, so unpacking costs 1/n of the products.
// Activations stay 16-bit (llama.cpp rounds them to 8 bits here): prompt logits are as close to exact as
// decoded ones, and depend on the batch size only through float rounding.

const (
	gemmRows      = 16 // weight rows per strip: one int32 lane each of a 512-bit register
	gemmT         = 8  // tokens per kernel call
	gemmMinTokens = 8  // smaller batches use the one-row kernels
)

// act16 holds n activation rows rounded to 16 bits, in groups of gemmT tokens. The last group's padding
// tokens hold stale values of an earlier product: the kernels compute a tile's every token, each in lanes
// of its own, and store only the tokens that exist (storeTile, gemvTask), so padding never reaches a
// result, and clearing it would cost a one-token product seven tokens' stores. Group g's values are
// q[g·cols/2·gemmT:]: for each pair of values, gemmT words, one per token.
// Per token and block ([blocks][gemmT] within the group): the scale d per block of 16 (that of its block of
// 32) and per block of 32, and −d·Σq per block of 32.
type act16 struct {
	n, cols  int
	rnd      rounding
	q        []uint32
	d16, d32 []float32
	s32      []float32
	rows     []Q16Row // per worker: one token rounded before it is interleaved
	// With 8-bit rounding, for the 8-bit kernel: q8 holds group g's values at q8[g·cols/4·gemmT:], for
	// each four values gemmT words of four signed bytes, and sq (sq16) per token and block of 32 (16) its Σq.
	q8       []uint32
	sq, sq16 []int32
	// With 8-bit rounding, for the packed kernels: start per token and block of 32 (as sq) −8·Σq, where a
	// Q4_0 block's sum Σ (u−8)·q starts; and each token's values alone (their one-token form): q8c holds
	// token t's at q8c[t·cols/4:], four signed bytes a word, d32c, startc and s32c its d, start and s32 per
	// block of 32. With 16-bit rounding and fewer than packed16Tokens tokens (compact16), for the packed
	// kernels at 16 bits: q16c holds token t's values alone at q16c[t·cols/2:], split into bytes
	// (splitQuads), with d32c, startc and s32c; q16s the group's split the same way, group g at
	// q16s[g·cols/2·gemmT:], quad k's lo words of the gemmT tokens at 2k·gemmT and its hi words at
	// (2k+1)·gemmT, with start and start16 as at 8 bits (groups16: only where a group is full).
	q16c   []uint32
	q16s   []uint32
	start  []int32
	q8c    []uint32
	d32c   []float32
	startc []int32
	s32c   []float32
	// Per block of 16 for the packed Q6_K kernels: start16 (as sq16) −32·Σq, and each token's alone,
	// d16c and start16c (at 16 bits too, with q16c).
	start16  []int32
	d16c     []float32
	start16c []int32
}

// narrow reports whether the values were rounded to 8 bits (and q8, sq are filled).
func (a *act16) narrow() bool { return a.rnd != rounding16 }

// compact16 reports whether the 16-bit values are also kept split into bytes, for the packed kernels at 16
// bits (q16c, q16s, d32c, startc, s32c, start): products of fewer than packed16Tokens tokens.
func (a *act16) compact16() bool { return !a.narrow() && a.n < packed16Tokens }

// groups16 reports whether the 16-bit split values are also kept by group (q16s, start, start16): only the
// eight-token kernels read them, so only where a group is full.
func (a *act16) groups16() bool { return a.compact16() && a.n >= gemmT }

func (a *act16) groups() int { return (a.n + gemmT - 1) / gemmT }

// resize makes room for n rows of cols values, reusing the storage. The padding tokens of the last group
// keep whatever an earlier product left there (see act16).
func (a *act16) resize(n, cols int) {
	a.n, a.cols = n, cols
	g := a.groups()
	words, b16, b32 := g*cols/2*gemmT, g*cols/16*gemmT, g*cols/32*gemmT
	if cap(a.q) < words {
		a.q = make([]uint32, words)
		a.d16, a.d32, a.s32 = make([]float32, b16), make([]float32, b32), make([]float32, b32)
	}
	a.q, a.d16, a.d32, a.s32 = a.q[:words], a.d16[:b16], a.d32[:b32], a.s32[:b32]
	if a.narrow() || a.compact16() {
		a.d32c, a.startc, a.s32c = grow(a.d32c, n*cols/32), grow(a.startc, n*cols/32), grow(a.s32c, n*cols/32)
	}
	if a.compact16() {
		a.q16c, a.d16c, a.start16c = grow(a.q16c, n*cols/2), grow(a.d16c, n*cols/16), grow(a.start16c, n*cols/16)
	}
	if a.groups16() {
		a.q16s, a.start, a.start16 = grow(a.q16s, words), grow(a.start, b32), grow(a.start16, b16)
	}
	if a.narrow() {
		if cap(a.q8) < words/2 {
			a.q8, a.sq, a.sq16 = make([]uint32, words/2), make([]int32, b32), make([]int32, b16)
		}
		a.q8, a.sq, a.sq16 = a.q8[:words/2], a.sq[:b32], a.sq16[:b16]
		a.start, a.start16, a.q8c = grow(a.start, b32), grow(a.start16, b16), grow(a.q8c, n*cols/4)
		a.d16c, a.start16c = grow(a.d16c, n*cols/16), grow(a.start16c, n*cols/16)
	}
}

// sum16 is Σq of a half block.
func sum16(q []int16) (s int32) {
	for _, v := range q {
		s += int32(v)
	}
	return s
}

// splitQuads writes 16-bit codes (|q| ≤ q16Max) as the packed kernels take them at 16 bits: each q as two
// signed bytes, q = 256·hi + lo with lo = int8(q), and quad k (values 4k…4k+3) as two words,
// dst[2k·stride] their four lo and dst[(2k+1)·stride] their four hi (byte n value 4k+n): stride 1 for a
// token alone, gemmT within a group.
func splitQuads(dst []uint32, q []int16, stride int) {
	for k := range len(q) / 4 {
		var lo, hi uint32
		for n, v := range q[4*k : 4*k+4] {
			l := int8(v)
			lo |= uint32(uint8(l)) << (8 * n)
			hi |= uint32(uint8(int8((int32(v)-int32(l))>>8))) << (8 * n)
		}
		dst[2*k*stride], dst[(2*k+1)*stride] = lo, hi
	}
}

// grow returns s resliced to n elements, reallocated when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// row returns worker w's row buffer for cols values.
func (a *act16) row(w int) *Q16Row {
	for len(a.rows) <= w {
		a.rows = append(a.rows, Q16Row{})
	}
	r := &a.rows[w]
	if len(r.Q) < a.cols {
		*r = Q16Row{Q: make([]int16, a.cols), D: make([]float32, a.cols/32), S: make([]int32, a.cols/32)}
	}
	return r
}

// quantizeRow rounds x (cols values) into token t's place, through tmp.
func (a *act16) quantizeRow(t int, x []float32, tmp *Q16Row) {
	g, tt := t/gemmT, t%gemmT
	cols := a.cols
	q := a.q[g*cols/2*gemmT:]
	d16, d32, s32 := a.d16[g*cols/16*gemmT:], a.d32[g*cols/32*gemmT:], a.s32[g*cols/32*gemmT:]
	var q8 []uint32
	var sq, sq16 []int32
	if a.narrow() {
		q8, sq, sq16 = a.q8[g*cols/4*gemmT:], a.sq[g*cols/32*gemmT:], a.sq16[g*cols/16*gemmT:]
	}
	if a.rnd == rounding16 {
		quantizeRow16(x, tmp.Q, tmp.D, tmp.S)
	} else {
		a.rnd.quantize(x, tmp)
	}
	for k := 0; k < cols/2; k++ {
		q[k*gemmT+tt] = uint32(uint16(tmp.Q[2*k])) | uint32(uint16(tmp.Q[2*k+1]))<<16
	}
	if a.compact16() {
		splitQuads(a.q16c[t*cols/2:(t+1)*cols/2], tmp.Q[:cols], 1)
	}
	if a.groups16() {
		splitQuads(a.q16s[g*cols/2*gemmT+tt:(g+1)*cols/2*gemmT], tmp.Q[:cols], gemmT)
	}
	for b := 0; b < cols/32; b++ {
		d := tmp.D[b]
		d32[b*gemmT+tt], s32[b*gemmT+tt] = d, -d*float32(tmp.S[b])
		d16[2*b*gemmT+tt], d16[(2*b+1)*gemmT+tt] = d, d
	}
	if a.compact16() {
		copy(a.d32c[t*cols/32:(t+1)*cols/32], tmp.D[:cols/32])
		startc, s32c := a.startc[t*cols/32:(t+1)*cols/32], a.s32c[t*cols/32:(t+1)*cols/32]
		d16c, start16c := a.d16c[t*cols/16:(t+1)*cols/16], a.start16c[t*cols/16:(t+1)*cols/16]
		for b := range startc {
			startc[b], s32c[b] = -8*tmp.S[b], s32[b*gemmT+tt]
			lo := sum16(tmp.Q[b*32 : b*32+16])
			d16c[2*b], d16c[2*b+1] = tmp.D[b], tmp.D[b]
			start16c[2*b], start16c[2*b+1] = -32*lo, -32*(tmp.S[b]-lo)
		}
	}
	if a.groups16() {
		start, start16 := a.start[g*cols/32*gemmT:], a.start16[g*cols/16*gemmT:]
		for b := range cols / 32 {
			start[b*gemmT+tt] = a.startc[t*cols/32+b]
			start16[2*b*gemmT+tt], start16[(2*b+1)*gemmT+tt] = a.start16c[t*cols/16+2*b], a.start16c[t*cols/16+2*b+1]
		}
	}
	if q8 != nil {
		q8c, d32c := a.q8c[t*cols/4:(t+1)*cols/4], a.d32c[t*cols/32:(t+1)*cols/32]
		startc, s32c := a.startc[t*cols/32:(t+1)*cols/32], a.s32c[t*cols/32:(t+1)*cols/32]
		start, start16 := a.start[g*cols/32*gemmT:], a.start16[g*cols/16*gemmT:]
		d16c, start16c := a.d16c[t*cols/16:(t+1)*cols/16], a.start16c[t*cols/16:(t+1)*cols/16]
		for k := range q8c {
			v := tmp.Q[4*k : 4*k+4]
			word := uint32(uint8(v[0])) | uint32(uint8(v[1]))<<8 | uint32(uint8(v[2]))<<16 | uint32(uint8(v[3]))<<24
			q8[k*gemmT+tt], q8c[k] = word, word
		}
		copy(d32c, tmp.D[:cols/32])
		for b := 0; b < cols/32; b++ {
			sq[b*gemmT+tt] = tmp.S[b]
			start[b*gemmT+tt], startc[b], s32c[b] = -8*tmp.S[b], -8*tmp.S[b], s32[b*gemmT+tt]
			lo := sum16(tmp.Q[b*32 : b*32+16])
			sq16[2*b*gemmT+tt], sq16[(2*b+1)*gemmT+tt] = lo, tmp.S[b]-lo
			start16[2*b*gemmT+tt], start16[(2*b+1)*gemmT+tt] = -32*lo, -32*(tmp.S[b]-lo)
			d16c[2*b], d16c[2*b+1] = tmp.D[b], tmp.D[b]
			start16c[2*b], start16c[2*b+1] = -32*lo, -32*(tmp.S[b]-lo)
		}
	}
}

// strip is gemmRows weight rows unpacked for the kernel: q is [cols/4][gemmRows] words of 4 unsigned byte
// values, s and o are [blocks][gemmRows] (weight = s·u − o); w is q widened for the kernel,
// [cols/2][gemmRows] words of two int16 values u − bias.
type strip struct {
	q, w []uint32
	s, o []float32
}

func (st *strip) resize(cols int) {
	if cap(st.q) < cols/4*gemmRows {
		st.q, st.w = make([]uint32, cols/4*gemmRows), make([]uint32, cols/2*gemmRows)
		st.s, st.o = make([]float32, cols/16*gemmRows), make([]float32, cols/16*gemmRows)
	}
	st.q, st.w = st.q[:cols/4*gemmRows], st.w[:cols/2*gemmRows]
}

// stripInfo describes how a type unpacks: s and o per block of Block values, the zero point Bias that
// widening subtracts, and whether the offsets o remain (they do not when o = Bias·s).
type stripInfo struct {
	Block, Bias int
	Offsets     bool
}

// stripTypes are the types the gemm path unpacks.
var stripTypes = map[gguf.Type]stripInfo{
	gguf.TypeQ4_0: {32, 8, false},
	gguf.TypeQ8_0: {32, 128, false},
	gguf.TypeQ4_K: {32, 0, true},
	gguf.TypeQ6_K: {16, 32, false},
}

// unpack fills st.q, st.s and st.o with rows r0…r0+15 of w (zeros past the last row); w's type must be
// one of stripTypes.
func unpack(w *Weight, r0 int, st *strip) {
	block := stripTypes[w.Type].Block
	st.resize(w.Cols)
	if w.Packed != nil {
		unpackPacked(w, r0, st)
		return
	}
	if (w.Type == gguf.TypeQ4_0 && unpackQ4_0Fast(w, r0, st)) || (w.Type == gguf.TypeQ4_K && unpackQ4_KFast(w, r0, st)) {
		return
	}
	rb := w.RowBytes()
	for r := 0; r < gemmRows; r++ {
		if r0+r >= w.Rows {
			for k := 0; k < w.Cols/4; k++ {
				st.q[k*gemmRows+r] = 0
			}
			for b := 0; b < w.Cols/block; b++ {
				st.s[b*gemmRows+r], st.o[b*gemmRows+r] = 0, 0
			}
			continue
		}
		row := w.Data[(r0+r)*rb : (r0+r+1)*rb]
		switch w.Type {
		case gguf.TypeQ4_0:
			unpackQ4_0(row, w.Cols, st, r)
		case gguf.TypeQ8_0:
			unpackQ8_0(row, w.Cols, st, r)
		case gguf.TypeQ4_K:
			unpackQ4_K(row, w.Cols, st, r)
		case gguf.TypeQ6_K:
			unpackQ6_K(row, w.Cols, st, r)
		}
	}
}

const nibbles = 0x0F0F0F0F0F0F0F0F

// put8 stores 8 consecutive values (one byte each in v) at q[0] and q[gemmRows]: q starts at the word of
// the first 4 values in the row's column of the strip.
func put8(q []uint32, v uint64) {
	q[gemmRows] = uint32(v >> 32)
	q[0] = uint32(v)
}

// The unpackers below write row r of a strip. Block b's values start at word b·(block/4)·gemmRows + r of
// st.q; each takes its window of the strip once, so the stores need no further bounds checks.

// unpackQ4_0: block = d | 16 bytes, value j = low nibble of byte j, value j+16 = high nibble; w = d·(u−8).
func unpackQ4_0(row []byte, cols int, st *strip, r int) {
	nb := cols / 32
	row, sq, ss, so := row[:nb*18], st.q[:nb*8*gemmRows], st.s[:nb*gemmRows], st.o[:nb*gemmRows]
	for b := 0; b < nb; b++ {
		blk := row[b*18 : b*18+18]
		d := f16[binary.LittleEndian.Uint16(blk)]
		lo, hi := binary.LittleEndian.Uint64(blk[2:]), binary.LittleEndian.Uint64(blk[10:])
		q := sq[b*8*gemmRows+r : (b+1)*8*gemmRows]
		put8(q[0:], lo&nibbles)
		put8(q[2*gemmRows:], hi&nibbles)
		put8(q[4*gemmRows:], lo>>4&nibbles)
		put8(q[6*gemmRows:], hi>>4&nibbles)
		ss[b*gemmRows+r], so[b*gemmRows+r] = d, 8*d
	}
}

// unpackQ8_0: block = d | 32 signed bytes; u = q+128, w = d·(u−128).
func unpackQ8_0(row []byte, cols int, st *strip, r int) {
	nb := cols / 32
	row, sq, ss, so := row[:nb*34], st.q[:nb*8*gemmRows], st.s[:nb*gemmRows], st.o[:nb*gemmRows]
	for b := 0; b < nb; b++ {
		blk := row[b*34 : b*34+34]
		d := f16[binary.LittleEndian.Uint16(blk)]
		q := sq[b*8*gemmRows+r : (b+1)*8*gemmRows]
		const flip = 0x8080808080808080
		put8(q[0:], binary.LittleEndian.Uint64(blk[2:])^flip)
		put8(q[2*gemmRows:], binary.LittleEndian.Uint64(blk[10:])^flip)
		put8(q[4*gemmRows:], binary.LittleEndian.Uint64(blk[18:])^flip)
		put8(q[6*gemmRows:], binary.LittleEndian.Uint64(blk[26:])^flip)
		ss[b*gemmRows+r], so[b*gemmRows+r] = d, 128*d
	}
}

// unpackQ4_K: super-block d | dmin | scales[12] | qs[128]; chunk c of 32 bytes holds sub-block 2c in its
// low nibbles and 2c+1 in its high nibbles; w = d·sc·u − dmin·m.
func unpackQ4_K(row []byte, cols int, st *strip, r int) {
	nsb := cols / gguf.QK_K
	row, sq, ss, so := row[:nsb*144], st.q[:nsb*64*gemmRows], st.s[:nsb*8*gemmRows], st.o[:nsb*8*gemmRows]
	for sb := 0; sb < nsb; sb++ {
		blk := row[sb*144 : sb*144+144]
		d, dmin := f16[binary.LittleEndian.Uint16(blk)], f16[binary.LittleEndian.Uint16(blk[2:])]
		for c := 0; c < 4; c++ {
			qs := blk[16+32*c : 48+32*c]
			q := sq[(sb*64+16*c)*gemmRows+r : (sb*64+16*(c+1))*gemmRows]
			for i := 0; i < 4; i++ {
				v := binary.LittleEndian.Uint64(qs[8*i:])
				put8(q[2*i*gemmRows:], v&nibbles)
				put8(q[(8+2*i)*gemmRows:], v>>4&nibbles)
			}
			for h := 0; h < 2; h++ {
				sc, m := q4kScaleMin(2*c+h, blk[4:16])
				b := sb*8 + 2*c + h
				ss[b*gemmRows+r], so[b*gemmRows+r] = d*float32(sc), dmin*float32(m)
			}
		}
	}
}

// unpackQ6_K: super-block ql[128] | qh[64] | scales int8[16] | d; value 128n+32g+l has its low 4 bits in
// ql[64n+l+32(g%2)] (high nibble when g ≥ 2) and its top 2 bits at bit 2g of qh[32n+l]; sub-blocks of 16
// have their own scale; w = d·sc·(u−32).
func unpackQ6_K(row []byte, cols int, st *strip, r int) {
	nsb := cols / gguf.QK_K
	row, sq, ss, so := row[:nsb*210], st.q[:nsb*64*gemmRows], st.s[:nsb*16*gemmRows], st.o[:nsb*16*gemmRows]
	for sb := 0; sb < nsb; sb++ {
		blk := row[sb*210 : sb*210+210]
		d := f16[binary.LittleEndian.Uint16(blk[208:])]
		for n := 0; n < 2; n++ {
			ql, qh := blk[64*n:64*n+64], blk[128+32*n:160+32*n]
			for g := 0; g < 4; g++ {
				q := sq[(sb*64+32*n+8*g)*gemmRows+r : (sb*64+32*n+8*(g+1))*gemmRows]
				for l := 0; l < 32; l += 8 {
					lo := binary.LittleEndian.Uint64(ql[l+32*(g%2):])
					if g >= 2 {
						lo >>= 4
					}
					hi := binary.LittleEndian.Uint64(qh[l:]) >> (2 * g) & 0x0303030303030303
					put8(q[l/4*gemmRows:], lo&nibbles|hi<<4)
				}
			}
		}
		for j := 0; j < 16; j++ {
			s := d * float32(int8(blk[192+j]))
			b := sb*16 + j
			ss[b*gemmRows+r], so[b*gemmRows+r] = s, 32*s
		}
	}
}

// widenGo is the portable widening of st.q into st.w: each word of 4 bytes u0…u3 of one row becomes the
// words (u0−bias, u1−bias) and (u2−bias, u3−bias) of int16 pairs.
func widenGo(st *strip, bias int) {
	for k := 0; k < len(st.q)/gemmRows; k++ {
		for r := 0; r < gemmRows; r++ {
			u := st.q[k*gemmRows+r]
			v := func(i int) uint32 { return uint32(uint16(int16(int(uint8(u>>(8*i))) - bias))) }
			st.w[2*k*gemmRows+r] = v(0) | v(1)<<16
			st.w[(2*k+1)*gemmRows+r] = v(2) | v(3)<<16
		}
	}
}

// canGemm reports whether MatMul takes the gemm path for n tokens of weight type t (AVX-512 VNNI or AVX2).
func canGemm(t gguf.Type, n int) bool {
	_, ok := stripTypes[t]
	return (useVNNI || useAVX2) && n >= gemmMinTokens && ok
}

// quantizeActivations16 rounds n rows of x (cols values each) into the pool's act16 buffer, as rnd says.
func quantizeActivations16(p *Pool, x []float32, n, cols int, rnd rounding) *act16 {
	a := &p.a16
	a.rnd = rnd
	a.resize(n, cols)
	for w := range p.threads {
		a.row(w)
	}
	p.tasks.quant16 = quant16Task{a: a, x: x}
	p.For(n, 1, p.tasks.quant16Fn)
	return a
}

type quant16Task struct {
	a *act16
	x []float32
}

func (q *quant16Task) run(lo, hi, worker int) {
	a, cols := q.a, q.a.cols
	for t := lo; t < hi; t++ {
		a.quantizeRow(t, q.x[t*cols:(t+1)*cols], &a.rows[worker])
	}
}

// gemmKernel computes one strip against one token group: out[t·ostride+r] = Σ_b ad[b,t]·s[b,r]·Σ w·q
// (+ o[b,r]·as[b,t] when offsets) over nblk blocks of block values, for t < gemmT and r < gemmRows.
type gemmKernel func(st *strip, q []uint32, ad, as []float32, nblk, block int, offsets bool, out []float32, ostride int)

// gemmImpl is a strip widening and a kernel that go together, and the 8-bit kernel where there is one.
type gemmImpl struct {
	widen   func(st *strip, bias int)
	kernel  gemmKernel
	kernel8 gemmKernel8
}

// gemmKernel8 is gemmKernel for 8-bit activations (act16.narrow) on the strip's unwidened bytes (st.q):
// q is the group's q8 and sq its Σq per token and block; the block sums are Σ (u−bias)·q.
type gemmKernel8 func(st *strip, q []uint32, ad, as []float32, sq []int32, nblk, block int, offsets bool, bias int, out []float32, ostride int)

// gemm computes dst[t][r] = Σ_c w[r][c]·x[t][c] from the activations in a, strip by strip.
func gemm(p *Pool, dst []float32, w *Weight, a *act16, impl gemmImpl) {
	p.tasks.gemm = gemmTask{p: p, dst: dst, w: w, a: a, impl: impl}
	p.For((w.Rows+gemmRows-1)/gemmRows, 1, p.tasks.gemmFn)
}

type gemmTask struct {
	p    *Pool
	dst  []float32
	w    *Weight
	a    *act16
	impl gemmImpl
}

func (gt *gemmTask) run(lo, hi, worker int) {
	dst, w, a, impl := gt.dst, gt.w, gt.a, gt.impl
	rows, cols, n := w.Rows, w.Cols, a.n
	info := stripTypes[w.Type]
	ad, as := a.d32, a.s32
	if info.Block == 16 {
		ad = a.d16 // no offsets at this block size
	}
	nblk := cols / info.Block
	st := gt.p.strip(worker)
	var out [gemmT * gemmRows]float32
	eight := a.narrow() && impl.kernel8 != nil
	asq := a.sq
	if info.Block == 16 {
		asq = a.sq16
	}
	for s := lo; s < hi; s++ {
		r0 := s * gemmRows
		unpack(w, r0, st)
		if eight {
			for g := 0; g < a.groups(); g++ {
				var gs []float32
				if info.Offsets {
					gs = as[g*nblk*gemmT : (g+1)*nblk*gemmT]
				}
				q, gd, sq := a.q8[g*cols/4*gemmT:(g+1)*cols/4*gemmT], ad[g*nblk*gemmT:(g+1)*nblk*gemmT], asq[g*nblk*gemmT:(g+1)*nblk*gemmT]
				storeTile(dst, rows, n, r0, g, &out, func(o []float32, ostride int) {
					impl.kernel8(st, q, gd, gs, sq, nblk, info.Block, info.Offsets, info.Bias, o, ostride)
				})
			}
			continue
		}
		impl.widen(st, info.Bias)
		for g := 0; g < a.groups(); g++ {
			var gs []float32
			if info.Offsets {
				gs = as[g*nblk*gemmT : (g+1)*nblk*gemmT]
			}
			q, gd := a.q[g*cols/2*gemmT:(g+1)*cols/2*gemmT], ad[g*nblk*gemmT:(g+1)*nblk*gemmT]
			storeTile(dst, rows, n, r0, g, &out, func(o []float32, ostride int) {
				impl.kernel(st, q, gd, gs, nblk, info.Block, info.Offsets, o, ostride)
			})
		}
	}
}

// storeTile runs kernel for token group g and the strip of rows r0…r0+15: straight into dst when the tile is
// whole, else into out and copied (the rows and tokens that exist).
func storeTile(dst []float32, rows, n, r0, g int, out *[gemmT * gemmRows]float32, kernel func(o []float32, ostride int)) {
	if r0+gemmRows <= rows && (g+1)*gemmT <= n {
		kernel(dst[g*gemmT*rows+r0:], rows)
		return
	}
	kernel(out[:], gemmRows)
	for t := 0; t < gemmT && g*gemmT+t < n; t++ {
		copy(dst[(g*gemmT+t)*rows+r0:(g*gemmT+t)*rows+min(rows, r0+gemmRows)], out[t*gemmRows:])
	}
}

// gemmKernelGo is the portable loop of the kernel (the reference for the assembly one).
func gemmKernelGo(st *strip, q []uint32, ad, as []float32, nblk, block int, offsets bool, out []float32, ostride int) {
	var acc [gemmT][gemmRows]float32
	pairs := block / 2
	for b := 0; b < nblk; b++ {
		var dot [gemmT][gemmRows]int32
		for k := b * pairs; k < (b+1)*pairs; k++ {
			for t := 0; t < gemmT; t++ {
				x := q[k*gemmT+t]
				for r := 0; r < gemmRows; r++ {
					u := st.w[k*gemmRows+r]
					dot[t][r] += int32(int16(u))*int32(int16(x)) + int32(int16(u>>16))*int32(int16(x>>16))
				}
			}
		}
		foldBlock(&acc, &dot, st, ad, as, b, offsets)
	}
	for t := range acc {
		copy(out[t*ostride:t*ostride+gemmRows], acc[t][:])
	}
}

// foldBlock adds block b's integer sums to the float sums as the tile kernels do: s·(float(dot)·d_x), then
// o·as when the type has offsets.
func foldBlock(acc *[gemmT][gemmRows]float32, dot *[gemmT][gemmRows]int32, st *strip, ad, as []float32, b int, offsets bool) {
	for t := 0; t < gemmT; t++ {
		for r := 0; r < gemmRows; r++ {
			acc[t][r] += st.s[b*gemmRows+r] * (float32(dot[t][r]) * ad[b*gemmT+t])
			if offsets {
				acc[t][r] += st.o[b*gemmRows+r] * as[b*gemmT+t]
			}
		}
	}
}

// gemmKernel8Go is the portable loop of the 8-bit kernel (the reference for the assembly one).
func gemmKernel8Go(st *strip, q []uint32, ad, as []float32, sq []int32, nblk, block int, offsets bool, bias int, out []float32, ostride int) {
	var acc [gemmT][gemmRows]float32
	quads := block / 4
	for b := 0; b < nblk; b++ {
		var dot [gemmT][gemmRows]int32
		for t := 0; t < gemmT; t++ {
			for r := 0; r < gemmRows; r++ {
				dot[t][r] = -int32(bias) * sq[b*gemmT+t]
			}
		}
		for k := b * quads; k < (b+1)*quads; k++ {
			for t := 0; t < gemmT; t++ {
				x := q[k*gemmT+t]
				for r := 0; r < gemmRows; r++ {
					u := st.q[k*gemmRows+r]
					for i := 0; i < 32; i += 8 {
						dot[t][r] += int32(uint8(u>>i)) * int32(int8(x>>i))
					}
				}
			}
		}
		foldBlock(&acc, &dot, st, ad, as, b, offsets)
	}
	for t := range acc {
		copy(out[t*ostride:t*ostride+gemmRows], acc[t][:])
	}
}

// strip returns worker w's strip buffer.
func (p *Pool) strip(w int) *strip { return &p.strips[w] }
