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

// gemmKernel computes one strip against one token group: out[t·ostride+r] = Σ_b ad[b,t]·s[b,r]·Σ w·q
// (+ o[b,r]·as[b,t] when offsets) over nblk blocks of block values, for t < gemmT and r < gemmRows.
type gemmKernel func(st *strip, q []uint32, ad, as []float32, nblk, block int, offsets bool, out []float32, ostride int)

// gemmImpl is a strip widening and a kernel that go together, and the 8-bit kernel where there is one
// (for the types in types8, or every type where types8 is nil).
type gemmImpl struct {
	widen   func(st *strip, bias int)
	kernel  gemmKernel
	kernel8 gemmKernel8
	types8  map[gguf.Type]bool
}

// has8 reports whether the impl's 8-bit kernel takes weights of type t.
func (g gemmImpl) has8(t gguf.Type) bool { return g.kernel8 != nil && (g.types8 == nil || g.types8[t]) }

// gemmKernel8 is gemmKernel for 8-bit activations (act16.narrow) on the strip's unwidened bytes (st.q):
// q is the group's q8 and sq its Σq per token and block; the block sums are Σ (u−bias)·q.
type gemmKernel8 func(st *strip, q []uint32, ad, as []float32, sq []int32, nblk, block int, offsets bool, bias int, out []float32, ostride int)

// gemm computes dst[t][r] = Σ_c w[r][c]·x[t][c] from the activations in a, strip by strip.
func gemm(p *Pool, dst []float32, w *Weight, a *act16, impl gemmImpl) {
	a.ensure(p, gemmLayouts(a.narrow(), impl, w.Type))
	p.tasks.gemm = gemmTask{p: p, dst: dst, w: w, a: a, impl: impl}
	p.For((w.Rows+gemmRows-1)/gemmRows, 1, p.tasks.gemmFn)
}

// gemmLayouts is what gemm reads of the activations for weights of type t: the 8-bit kernel's groups
// (narrow, where impl has one for t), or the 16-bit pairs.
func gemmLayouts(narrow bool, impl gemmImpl, t gguf.Type) layout {
	if narrow && impl.has8(t) {
		return layTiles8
	}
	return layTiles
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
	eight := a.narrow() && impl.has8(w.Type)
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
