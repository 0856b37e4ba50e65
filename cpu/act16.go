package cpu

// act16 holds the activations of one matrix product, n rows of cols values rounded to integers per block of
// 32 (16 bits, or 8 as llama.cpp rounds them: narrow), in the layouts its kernels read. Rounding is done once
// per product, each token by itself; the layouts that interleave tokens are then written by column ranges,
// so that two workers rarely write the same cache line (only where a range's start is not line-aligned;
// eight tokens interleaved word by word share every line: written token by token from two cores, the
// lines went back and forth between them, and rounding took 14% of an eight-sequence decoding step). Only
// the layouts the product's kernels read are made (layout; MatMuls asks for those of all its weights at
// once).
//
// Each token alone (always): its codes tq[t·cols:], and per block of 32 its d32c (d), ts (Σq), tlo (Σq of
// the first 16), startc (−8·Σq, where a Q4_0 block's sum Σ (u−8)·q starts) and s32c (−d·Σq, for Q4_K's
// minimums), and per block of 16 d16c (its block of 32's d) and start16c (−32·Σq, for Q6_K).
//
// layBytes: each token's codes as the packed kernels take them alone, q8c[t·cols/4:] four signed bytes a
// word (narrow), or q16c[t·cols/2:] split into bytes (splitQuads); not made for the kernels that read tq
// instead (Q8_0 with AVX2 alone: packedCodes).
//
// Layouts by group of gemmT tokens (group g's part of each array starts at g times its size per group; per
// word or block, the gemmT tokens' side by side). The last group's padding tokens hold stale values of an
// earlier product: the kernels compute a tile's every token, each in lanes of its own, and store only the
// tokens that exist (storeTile, gemvTask), so padding never reaches a result, and clearing it would cost a
// one-token product seven tokens' stores.
//   - layTiles (gemm, gemv): q, for each pair of values gemmT words of two int16; per block d32, s32 and per
//     block of 16 d16.
//   - layTiles8 (gemm's 8-bit kernel, narrow): q8 (below), sq (Σq) and sq16 (Σq per block of 16), with d32,
//     s32 and d16.
//   - layGroups (the packed kernels' groups): narrow, q8, for each four values gemmT words of four bytes;
//     else q16s, for each quad k the gemmT tokens' lo words at 2k·gemmT and hi words at (2k+1)·gemmT; and
//     d32, s32, d16, start (as startc) and start16 (as start16c).
type act16 struct {
	n, cols int
	rnd     rounding
	have    layout

	tq              []int16
	d32c, s32c      []float32
	ts, tlo, startc []int32
	d16c            []float32
	start16c        []int32
	q8c, q16c       []uint32
	q, q8, q16s     []uint32
	d16, d32, s32   []float32
	sq, sq16        []int32
	start, start16  []int32
}

// layout is a set of act16's layouts.
type layout uint8

const (
	layBytes  layout = 1 << iota // each token's codes as bytes (q8c or q16c)
	layGroups                    // the packed kernels' token groups
	layTiles                     // the tiles' and the few-token kernels' token groups
	layTiles8                    // the 8-bit tile kernel's token groups
	layAll    = layBytes | layGroups | layTiles | layTiles8
)

// narrow reports whether the values were rounded to 8 bits.
func (a *act16) narrow() bool { return a.rnd != rounding16 }

func (a *act16) groups() int { return (a.n + gemmT - 1) / gemmT }

// needs completes want with the layouts the others are made from: the packed groups and the 8-bit tiles
// interleave the tokens' bytes.
func (a *act16) needs(want layout) layout {
	if !a.narrow() {
		want &^= layTiles8
	}
	if want&(layGroups|layTiles8) != 0 {
		want |= layBytes
	}
	return want
}

// quantizeActivations16 rounds n rows of x (cols values each) into the pool's act16 buffer, as rnd says,
// in the layouts want names (and those they are made from).
func quantizeActivations16(p *Pool, x []float32, n, cols int, rnd rounding, want layout) *act16 {
	a := &p.a16
	a.n, a.cols, a.rnd, a.have = n, cols, rnd, 0
	want = a.needs(want)
	nb := cols / 32
	a.tq = grow(a.tq, n*cols)
	a.d32c, a.s32c, a.d16c = grow(a.d32c, n*nb), grow(a.s32c, n*nb), grow(a.d16c, 2*n*nb)
	a.ts, a.tlo, a.startc, a.start16c = grow(a.ts, n*nb), grow(a.tlo, n*nb), grow(a.startc, n*nb), grow(a.start16c, 2*n*nb)
	a.growBytes(want)
	p.tasks.quant16 = quant16Task{a: a, x: x, bytes: want&layBytes != 0}
	p.For(n, 1, p.tasks.quant16Fn)
	a.have = want & layBytes
	a.ensure(p, want)
	return a
}

// ensure makes the layouts of want that a does not have yet.
func (a *act16) ensure(p *Pool, want layout) {
	want = a.needs(want)
	if want&layBytes != 0 && a.have&layBytes == 0 {
		a.growBytes(layBytes)
		p.tasks.quant16 = quant16Task{a: a, bytes: true}
		p.For(a.n, 1, p.tasks.quant16Fn)
		a.have |= layBytes
	}
	missing := want &^ a.have & (layGroups | layTiles | layTiles8)
	if missing == 0 {
		return
	}
	g, nb, words := a.groups(), a.cols/32, a.cols/2
	a.d32, a.s32, a.d16 = grow(a.d32, g*nb*gemmT), grow(a.s32, g*nb*gemmT), grow(a.d16, 2*g*nb*gemmT)
	if missing&layTiles != 0 {
		a.q = grow(a.q, g*words*gemmT)
	}
	if missing&layTiles8 != 0 {
		a.sq, a.sq16 = grow(a.sq, g*nb*gemmT), grow(a.sq16, 2*g*nb*gemmT)
	}
	if missing&layGroups != 0 {
		a.start, a.start16 = grow(a.start, g*nb*gemmT), grow(a.start16, 2*g*nb*gemmT)
		if !a.narrow() {
			a.q16s = grow(a.q16s, g*words*gemmT)
		}
	}
	if a.narrow() && missing&(layGroups|layTiles8) != 0 {
		a.q8 = grow(a.q8, g*words/2*gemmT)
	}
	p.tasks.group16 = group16Task{a: a, lay: missing}
	p.For(g*a.chunks(), 1, p.tasks.group16Fn)
	a.have |= missing
}

// growBytes makes room for the tokens' bytes if want has them.
func (a *act16) growBytes(want layout) {
	switch {
	case want&layBytes == 0:
	case a.narrow():
		a.q8c = grow(a.q8c, a.n*a.cols/4)
	default:
		a.q16c = grow(a.q16c, a.n*a.cols/2)
	}
}

// groupChunk is how many columns of one token group a worker interleaves at a time: whole cache lines of
// every array (256 columns: 128 words of q, 8 blocks of d32).
const groupChunk = 256

func (a *act16) chunks() int { return (a.cols + groupChunk - 1) / groupChunk }

// grow returns s resliced to n elements, reallocated when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// quant16Task rounds tokens [lo, hi) (unless bytes only) and writes what each token has alone.
type quant16Task struct {
	a     *act16
	x     []float32 // nil: the tokens are rounded already, write their bytes
	bytes bool
}

func (qt *quant16Task) run(lo, hi, _ int) {
	a, cols, nb := qt.a, qt.a.cols, qt.a.cols/32
	for t := lo; t < hi; t++ {
		q, d, s := a.tq[t*cols:(t+1)*cols], a.d32c[t*nb:(t+1)*nb], a.ts[t*nb:(t+1)*nb]
		if qt.x != nil {
			a.rnd.quantizeInto(qt.x[t*cols:(t+1)*cols], q, d, s)
			slo, startc, s32c := a.tlo[t*nb:(t+1)*nb], a.startc[t*nb:(t+1)*nb], a.s32c[t*nb:(t+1)*nb]
			d16c, start16c := a.d16c[2*t*nb:2*(t+1)*nb], a.start16c[2*t*nb:2*(t+1)*nb]
			for b := range nb {
				sb, lob := s[b], sum16(q[b*32:b*32+16])
				slo[b], startc[b], s32c[b] = lob, -8*sb, -d[b]*float32(sb)
				d16c[2*b], d16c[2*b+1] = d[b], d[b]
				start16c[2*b], start16c[2*b+1] = -32*lob, -32*(sb-lob)
			}
		}
		if !qt.bytes {
			continue
		}
		if a.narrow() {
			narrowQuads(a.q8c[t*cols/4:(t+1)*cols/4], q)
		} else {
			splitQuads(a.q16c[t*cols/2:(t+1)*cols/2], q)
		}
	}
}

// sum16 is Σq of a half block.
func sum16(q []int16) (s int32) {
	for _, v := range q[:16] {
		s += int32(v)
	}
	return s
}

// narrowQuadsGo writes 8-bit codes as the packed kernels take them at 8 bits: four signed bytes a word, word
// k values 4k…4k+3 (byte n value 4k+n).
func narrowQuadsGo(dst []uint32, q []int16) {
	for k := range dst {
		v := q[4*k : 4*k+4]
		dst[k] = uint32(uint8(v[0])) | uint32(uint8(v[1]))<<8 | uint32(uint8(v[2]))<<16 | uint32(uint8(v[3]))<<24
	}
}

// splitQuadsGo writes 16-bit codes (|q| ≤ q16Max) as the packed kernels take them at 16 bits: each q as two
// signed bytes, q = 256·hi + lo with lo = int8(q), and quad k (values 4k…4k+3) as two words, dst[2k] their
// four lo and dst[2k+1] their four hi (byte n value 4k+n).
func splitQuadsGo(dst []uint32, q []int16) {
	for k := range len(q) / 4 {
		var lo, hi uint32
		for n, v := range q[4*k : 4*k+4] {
			lo |= uint32(uint8(int8(v))) << (8 * n)
			hi |= uint32(uint8(int8((int32(v)+128)>>8))) << (8 * n)
		}
		dst[2*k], dst[2*k+1] = lo, hi
	}
}

// group16Task interleaves the tokens of act16's groups into the layouts lay, each worker a range of
// (group, column chunk) pairs.
type group16Task struct {
	a   *act16
	lay layout
}

func (gt *group16Task) run(lo, hi, _ int) {
	a, chunks := gt.a, gt.a.chunks()
	for u := lo; u < hi; u++ {
		g, c0 := u/chunks, u%chunks*groupChunk
		c1 := min(a.cols, c0+groupChunk)
		m := min(gemmT, a.n-g*gemmT)
		b0, b1 := c0/32, c1/32
		interleave(a.d32, a.d32c, g, m, a.cols/32, b0, b1)
		interleave(a.s32, a.s32c, g, m, a.cols/32, b0, b1)
		interleave(a.d16, a.d16c, g, m, a.cols/16, 2*b0, 2*b1)
		if a.narrow() && gt.lay&(layGroups|layTiles8) != 0 {
			interleave(a.q8, a.q8c, g, m, a.cols/4, c0/4, c1/4)
		}
		if gt.lay&layGroups != 0 {
			interleave(a.start, a.startc, g, m, a.cols/32, b0, b1)
			interleave(a.start16, a.start16c, g, m, a.cols/16, 2*b0, 2*b1)
			if !a.narrow() {
				interleave(a.q16s, a.q16c, g, m, a.cols/2, c0/2, c1/2)
			}
		}
		if gt.lay&layTiles != 0 {
			interleavePairs(a.q, a.tq, g, m, a.cols, c0, c1)
		}
		if gt.lay&layTiles8 != 0 {
			interleave(a.sq, a.ts, g, m, a.cols/32, b0, b1)
			for tt := range m {
				t := g*gemmT + tt
				ts, tlo := a.ts[t*a.cols/32:], a.tlo[t*a.cols/32:]
				sq16 := a.sq16[g*a.cols/16*gemmT+tt:]
				for b := b0; b < b1; b++ {
					sq16[2*b*gemmT], sq16[(2*b+1)*gemmT] = tlo[b], ts[b]-tlo[b]
				}
			}
		}
	}
}

// interleave writes elements [lo, hi) of the m tokens of group g (per elements each, in src one token after
// the other) into dst's group g, element k of token tt at k·gemmT + tt.
func interleave[T any](dst, src []T, g, m, per, lo, hi int) {
	dst = dst[g*per*gemmT : (g+1)*per*gemmT]
	for tt := range m {
		s := src[(g*gemmT+tt)*per : (g*gemmT+tt+1)*per]
		for k := lo; k < hi; k++ {
			dst[k*gemmT+tt] = s[k]
		}
	}
}

// interleavePairs is interleave for the tiles' q: values [c0, c1) of the codes q (cols a token) as words of
// two int16, value pair k of token tt at k·gemmT + tt.
func interleavePairs(dst []uint32, q []int16, g, m, cols, c0, c1 int) {
	dst = dst[g*cols/2*gemmT : (g+1)*cols/2*gemmT]
	for tt := range m {
		s := q[(g*gemmT+tt)*cols : (g*gemmT+tt+1)*cols]
		for k := c0 / 2; k < c1/2; k++ {
			dst[k*gemmT+tt] = uint32(uint16(s[2*k])) | uint32(uint16(s[2*k+1]))<<16
		}
	}
}
