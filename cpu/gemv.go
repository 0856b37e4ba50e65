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
	if t.w.Type == gguf.TypeQ4_K {
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

// runK is run for Q4_K weights: per eight rows, the sub-blocks' scales and minimums are decoded to floats
// (d·sc, dmin·m) for the kernel, which widens each 32-byte chunk once for its two sub-blocks.
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
	for r := lo; r+gemvRows <= hi; r += gemvRows {
		wr := w.Data[r*rb : (r+gemvRows)*rb]
		for i := range gemvRows {
			for sb := range nsb {
				blk := wr[i*rb+sb*144 : i*rb+sb*144+144]
				dd, dmin := f16[uint16(blk[0])|uint16(blk[1])<<8], f16[uint16(blk[2])|uint16(blk[3])<<8]
				for j := range 8 {
					scj, mj := q4kScaleMin(j, blk[4:16])
					sc[(sb*8+j)*gemvRows+i], mn[(sb*8+j)*gemvRows+i] = dd*float32(scj), dmin*float32(mj)
				}
			}
		}
		g := 0
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
