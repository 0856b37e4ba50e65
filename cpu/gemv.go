package cpu

import "github.com/llamago/llamago/gguf"

// Few-token products (gemv): a handful of sequences decoding together. The one-row kernels unpack every
// weight block again for each token (or pair of tokens), and the prompt tiles unpack whole strips, which a
// few tokens do not repay. Here a block of eight rows is widened once, in place, and each of its pairs of
// values meets a group of eight tokens — act16's layout, the tokens across a register's lanes — in one
// multiply-add: the same arithmetic as the tiles (16-bit activations, int32 block sums folded into float
// sums per block), so the results match theirs up to float rounding.

const (
	gemvRows      = 8  // weight rows per kernel call
	gemvMinTokens = 5  // fewer: the one-row kernels (two tokens per pass), as fast there
	gemvMaxTokens = 48 // more: the prompt tiles, whose unpacking is then repaid
)

// gemvTask is MatMul through gemv8 for the rows of a range.
type gemvTask struct {
	p   *Pool
	dst []float32
	w   *Weight
	a   *act16
	n   int
}

func (t *gemvTask) run(lo, hi, worker int) {
	switch t.w.Type {
	case gguf.TypeQ4_K, gguf.TypeQ6_K:
		t.runK(lo, hi, worker)
		return
	}
	var buf [gemvRows * 32]int16
	var out [gemvRows * 2 * gemmT]float32
	w, a, dst, n := t.w, t.a, t.dst, t.n
	rb, nb, rows := w.RowBytes(), w.Cols/32, w.Rows
	q := func(g int) []uint32 { return a.q[g*w.Cols/2*gemmT : (g+1)*w.Cols/2*gemmT] }
	d := func(g int) []float32 { return a.d32[g*nb*gemmT : (g+1)*nb*gemmT] }
	// put copies the products of tokens [t0, t0+k) from out (width tokens per row) into dst.
	put := func(r, t0, k, width int) {
		for tt := 0; tt < k; tt++ {
			row := dst[(t0+tt)*rows+r:]
			for i := range gemvRows {
				row[i] = out[i*width+tt]
			}
		}
	}
	for r := lo; r+gemvRows <= hi; r += gemvRows {
		wr := w.Data[r*rb : (r+gemvRows)*rb]
		g := 0
		for ; g+2 <= a.groups(); g += 2 { // sixteen tokens per widened block
			gemv16(wr, rb, q(g), q(g+1), d(g), d(g+1), nb, &buf, &out)
			put(r, g*gemmT, min(2*gemmT, n-g*gemmT), 2*gemmT)
		}
		if g < a.groups() {
			gemv8(wr, rb, q(g), d(g), nb, &buf, (*[gemvRows * gemmT]float32)(out[:gemvRows*gemmT]))
			put(r, g*gemmT, min(gemmT, n-g*gemmT), gemmT)
		}
	}
}

// runK is run for the k-quants: per eight rows, the sub-blocks' scales (and Q4_K's minimums) are decoded to
// floats (d·sc, dmin·m) for the kernel, which widens each 32-byte chunk (Q4_K) or group of 32 values (Q6_K)
// once.
func (t *gemvTask) runK(lo, hi, worker int) {
	var buf [2 * gemvRows * 32]int16
	var out [gemvRows * 2 * gemmT]float32
	w, a, dst, n := t.w, t.a, t.dst, t.n
	rb, nsb, rows := w.RowBytes(), w.Cols/gguf.QK_K, w.Rows
	nb := nsb * 8
	scales := t.p.Scratch(worker, 2*nb*gemvRows)
	sc, mn := scales[:nb*gemvRows], scales[nb*gemvRows:]
	q := func(g int) []uint32 { return a.q[g*w.Cols/2*gemmT : (g+1)*w.Cols/2*gemmT] }
	d := func(g int) []float32 { return a.d32[g*nb*gemmT : (g+1)*nb*gemmT] }
	s := func(g int) []float32 { return a.s32[g*nb*gemmT : (g+1)*nb*gemmT] }
	put := func(r, t0, k, width int) {
		for tt := 0; tt < k; tt++ {
			row := dst[(t0+tt)*rows+r:]
			for i := range gemvRows {
				row[i] = out[i*width+tt]
			}
		}
	}
	q6 := w.Type == gguf.TypeQ6_K
	for r := lo; r+gemvRows <= hi; r += gemvRows {
		wr := w.Data[r*rb : (r+gemvRows)*rb]
		for i := range gemvRows {
			for sb := range nsb {
				if q6 { // 16 sub-blocks of 16: sc = [2·nb][8] (scales's whole length)
					blk := wr[i*rb+sb*210 : i*rb+sb*210+210]
					dd := f16[uint16(blk[208])|uint16(blk[209])<<8]
					for j := range 16 {
						scales[(sb*16+j)*gemvRows+i] = dd * float32(int8(blk[192+j]))
					}
					continue
				}
				blk := wr[i*rb+sb*144 : i*rb+sb*144+144]
				dd, dmin := f16[uint16(blk[0])|uint16(blk[1])<<8], f16[uint16(blk[2])|uint16(blk[3])<<8]
				for j := range 8 {
					scj, mj := q4kScaleMin(j, blk[4:16])
					sc[(sb*8+j)*gemvRows+i], mn[(sb*8+j)*gemvRows+i] = dd*float32(scj), dmin*float32(mj)
				}
			}
		}
		g := 0
		if q6 {
			for ; g+2 <= a.groups(); g += 2 {
				gemvQ6K16(wr, rb, q(g), q(g+1), d(g), d(g+1), nsb, scales, &buf, &out)
				put(r, g*gemmT, min(2*gemmT, n-g*gemmT), 2*gemmT)
			}
			if g < a.groups() {
				gemvQ6K8(wr, rb, q(g), d(g), nsb, scales, &buf, (*[gemvRows * gemmT]float32)(out[:gemvRows*gemmT]))
				put(r, g*gemmT, min(gemmT, n-g*gemmT), gemmT)
			}
			continue
		}
		for ; g+2 <= a.groups(); g += 2 {
			gemvK16(wr, rb, q(g), q(g+1), d(g), d(g+1), s(g), s(g+1), nsb, sc, mn, &buf, &out)
			put(r, g*gemmT, min(2*gemmT, n-g*gemmT), 2*gemmT)
		}
		if g < a.groups() {
			gemvK8(wr, rb, q(g), d(g), s(g), nsb, sc, mn, &buf, (*[gemvRows * gemmT]float32)(out[:gemvRows*gemmT]))
			put(r, g*gemmT, min(gemmT, n-g*gemmT), gemmT)
		}
	}
}

// gemv computes dst = w·x for the n tokens rounded into a.
func gemv(p *Pool, dst []float32, w *Weight, a *act16, n int) {
	p.tasks.gemv = gemvTask{p: p, dst: dst, w: w, a: a, n: n}
	p.For(w.Rows, gemvRows, p.tasks.gemvFn)
}
