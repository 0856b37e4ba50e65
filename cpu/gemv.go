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
	var buf [2 * gemvRows * 32]int16
	var out [gemvRows * 2 * gemmT]float32
	w, a, dst := t.w, t.a, t.dst
	rb, nb, rows := w.RowBytes(), w.Cols/32, w.Rows
	var scales []float32 // the k-quants' sub-block scales (and Q4_K's minimums) as floats, [sub-block][8 rows]
	if w.Type != gguf.TypeQ4_0 && w.Type != gguf.TypeQ8_0 {
		scales = t.p.Scratch(worker, 2*nb*gemvRows)
	}
	for r := lo; r+gemvRows <= hi; r += gemvRows {
		wr := w.Data[r*rb : (r+gemvRows)*rb]
		decodeScales(w.Type, wr, rb, scales)
		for g := 0; g < a.groups(); {
			k := min(2, a.groups()-g) // sixteen tokens per widened block where there are
			t.kernel(wr, g, k, scales, &buf, &out)
			width := k * gemmT
			for tt := 0; tt < min(width, t.n-g*gemmT); tt++ {
				row := dst[(g*gemmT+tt)*rows+r:]
				for i := range gemvRows {
					row[i] = out[i*width+tt]
				}
			}
			g += k
		}
	}
}

// kernel runs eight rows wr against token groups g (and g+1 when groups is 2) into out[row·8·groups + token].
func (t *gemvTask) kernel(wr []byte, g, groups int, scales []float32, buf *[2 * gemvRows * 32]int16, out *[gemvRows * 2 * gemmT]float32) {
	w, a := t.w, t.a
	rb, nb, nsb := w.RowBytes(), w.Cols/32, w.Cols/gguf.QK_K
	q := func(g int) []uint32 { return a.q[g*w.Cols/2*gemmT : (g+1)*w.Cols/2*gemmT] }
	d := func(g int) []float32 { return a.d32[g*nb*gemmT : (g+1)*nb*gemmT] }
	s := func(g int) []float32 { return a.s32[g*nb*gemmT : (g+1)*nb*gemmT] }
	out8 := (*[gemvRows * gemmT]float32)(out[:gemvRows*gemmT])
	switch {
	case w.Type == gguf.TypeQ4_0 && groups == 2:
		gemv16(wr, rb, q(g), q(g+1), d(g), d(g+1), nb, buf, out)
	case w.Type == gguf.TypeQ4_0:
		gemv8(wr, rb, q(g), d(g), nb, buf, out8)
	case w.Type == gguf.TypeQ8_0 && groups == 2:
		gemvQ8x16(wr, rb, q(g), q(g+1), d(g), d(g+1), nb, buf, out)
	case w.Type == gguf.TypeQ8_0:
		gemvQ8(wr, rb, q(g), d(g), nb, buf, out8)
	case w.Type == gguf.TypeQ4_K && groups == 2:
		gemvK16(wr, rb, q(g), q(g+1), d(g), d(g+1), s(g), s(g+1), nsb, scales[:nb*gemvRows], scales[nb*gemvRows:], buf, out)
	case w.Type == gguf.TypeQ4_K:
		gemvK8(wr, rb, q(g), d(g), s(g), nsb, scales[:nb*gemvRows], scales[nb*gemvRows:], buf, out8)
	case groups == 2:
		gemvQ6K16(wr, rb, q(g), q(g+1), d(g), d(g+1), nsb, scales, buf, out)
	default:
		gemvQ6K8(wr, rb, q(g), d(g), nsb, scales, buf, out8)
	}
}

// decodeScales writes the eight rows' sub-block scales as floats for the k-quant kernels: Q4_K's d·sc
// into the first half of scales and dmin·m into the second (sub-blocks of 32), Q6_K's d·sc into all of it
// (sub-blocks of 16); [sub-block][row]. Q4_0 and Q8_0 need none.
func decodeScales(t gguf.Type, wr []byte, rb int, scales []float32) {
	switch t {
	case gguf.TypeQ4_K:
		nsb := rb / 144
		sc, mn := scales[:nsb*8*gemvRows], scales[nsb*8*gemvRows:]
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
	case gguf.TypeQ6_K:
		nsb := rb / 210
		for i := range gemvRows {
			for sb := range nsb {
				blk := wr[i*rb+sb*210 : i*rb+sb*210+210]
				dd := f16[uint16(blk[208])|uint16(blk[209])<<8]
				for j := range 16 {
					scales[(sb*16+j)*gemvRows+i] = dd * float32(int8(blk[192+j]))
				}
			}
		}
	}
}

// gemv computes dst = w·x for the n tokens rounded into a.
func gemv(p *Pool, dst []float32, w *Weight, a *act16, n int) {
	a.ensure(p, layTiles)
	p.tasks.gemv = gemvTask{p: p, dst: dst, w: w, a: a, n: n}
	p.For(w.Rows, gemvRows, p.tasks.gemvFn)
}
