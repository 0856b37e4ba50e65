package cpu

import (
	"encoding/binary"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

// Rows across lanes (a layout chosen at load). In the GGUF layout a row's blocks lie back to back, so
// a SIMD kernel that wants one row per lane must gather and transpose them for every product: the decode
// kernels sum each row inside a register and reduce it at the end of every block, the prompt tiles unpack
// whole strips into a buffer first. Weight.Pack rewrites a matrix once, at load, into strips of packRows
// rows whose bytes are already where the lanes want them — for Q4_0:
//
//	strip s (rows 16s…16s+15), nb/2 pairs of blocks, 576 bytes each:
//	  [0, 32)    the 16 rows' fp16 scales of block 2j, row r at 2r
//	  [32, 64)   the same for block 2j+1
//	  [64, 320)  block 2j's quants: word k (k = 0…3) at 64k, row r's bytes 4k…4k+3 at 64k+4r
//	  [320, 576) the same for block 2j+1
//
// — the same bytes as the file (18 per row and block), so the same size. One 64-byte load then holds four
// values of each of 16 rows: its low nibbles are values 4k…4k+3 and its high nibbles 16+4k…16+4k+3 of
// every row (Q4_0 keeps value j in the low nibble of byte j and value j+16 in its high nibble). A
// VPDPBUSD against one broadcast activation word adds those four products to each row's lane: no
// transposition, no reduction, and a thread streams contiguous runs of memory (for one token a strip at a
// time, or four side by side: sideBySide). Q8_0 packs the same way with eight words a block (pairs of 1,088 bytes), its signed
// quants stored as u = q + 128; Q4_K and Q6_K by super-block (see packQ4_KUnit, packQ6_KUnit).
//
// The kernels (packedKernel) take the activations as the prompt tiles do (act16's 8-bit groups, or one
// token's values alone) and fold each block exactly as they do — the exact int32 total of (u−bias)·q per
// row and token, then F += s·(float(total)·d_x) (and Q4_K's minimums' term), block after block — for one,
// four or eight tokens of a group. Every token of a product of a packed matrix, whatever the batch, goes
// through them, so a sequence's logits do not depend on what it is batched with; they replace the one-row
// kernels and the tiles for these matrices.
//
// With 16-bit activations, packed matrices have kernels too: up to packed16Tokens−1 tokens against the
// packed rows (packedKernel16, on the activations split into bytes; with AVX2 alone, Q8_0's one-token
// kernel reads the tokens' 16-bit codes as they are: packedCodes), more in the 16-bit tiles on strips
// unpacked from them (unpackPacked). Every packed type has kernels at both precisions (a first 16-bit
// Q6_K kernel that widened its 6-bit values to int16 pairs streamed 30% slower than the file layout's and
// was left out; the split activations made the 16-bit kernels the 8-bit ones with two multiply-adds a
// quad).

// packRows is the rows of a strip: one int32 lane each of a 512-bit register.
const packRows = 16

// packQuantBytes is the quant bytes per row and block of Q4_0 and Q8_0 (after the block's fp16 scale): 16
// for Q4_0 (two values a byte), 32 for Q8_0.
func packQuantBytes(t gguf.Type) int {
	if t == gguf.TypeQ8_0 {
		return 32
	}
	return 16
}

// A strip is packed in units the kernels loop over: pairs of blocks (64 values) for Q4_0 and Q8_0,
// super-blocks (256 values) for Q4_K and Q6_K.

// packUnitValues is the values of a row in one unit.
func packUnitValues(t gguf.Type) int {
	if t == gguf.TypeQ4_K || t == gguf.TypeQ6_K {
		return gguf.QK_K
	}
	return 64
}

// packScaleBlock is the values per activation scale the kernels of type t take: 16 for Q6_K (act16's d16,
// start16), 32 for the others.
func packScaleBlock(t gguf.Type) int {
	if t == gguf.TypeQ6_K {
		return 16
	}
	return 32
}

// packUnitBytes is the bytes of one unit of a strip: 576 for Q4_0, 1088 for Q8_0, 2368 for Q4_K, 3392
// for Q6_K.
func packUnitBytes(t gguf.Type) int {
	switch t {
	case gguf.TypeQ4_K:
		return q4kPackBytes
	case gguf.TypeQ6_K:
		return q6kPackBytes
	}
	return 2 * (2*packRows + packRows*packQuantBytes(t))
}

// packStripBytes is the bytes of one strip of w.
func packStripBytes(w *Weight) int { return w.Cols / packUnitValues(w.Type) * packUnitBytes(w.Type) }

// Pack rewrites w into rows across lanes (see above) where a kernel for it exists here: Q4_0, Q8_0, Q4_K
// or Q6_K with whole strips of rows and whole units per row, on CPUs with AVX-512 VNNI or AVX2. It reports
// whether it did; w.Data is left as it was.
func (w *Weight) Pack() bool {
	if !canPack(w) {
		return false
	}
	w.Packed = pack(w)
	return true
}

// packed16Tokens: at 16 bits, products of fewer tokens take the packed kernels (eight tokens of a group at
// once, the rest one at a time — four tokens of a group against one strip, as at 8 bits, decoded 4
// sequences 7% slower than the one-token kernel on four strips side by side: two alternated runs), more
// the tiles on strips unpacked from the packed rows. Measured (2-core AMD EPYC, 2 threads, TinyLlama-shape, llamago
// bench -p N -n 0, two alternated runs, tiles → packed kernels): Q4_0 prompts of 24 tokens 140 → 149–163
// t/s, 64: 142 → 160–168, 128: 176 → 169, 512: 175 → 166.
const packed16Tokens = 96

// packed16 reports whether n tokens against a packed matrix take the packed kernels at 16 bits.
func packed16(n int) bool { return n < packed16Tokens }

// packedLayouts is what the packed kernels of type t read of n tokens' activations (act16): the token
// groups where a group kernel runs (eight tokens, or at 8 bits four, of a group), each token's bytes where
// one runs alone (every token, with AVX2 alone: packedGroups) — nothing beyond the codes every act16 has
// where that kernel reads them (packedCodes).
func packedLayouts(t gguf.Type, n int, narrow bool) layout {
	if !packedGroups() && packedCodes(t, !narrow) {
		return 0
	}
	if !packedGroups() {
		return layBytes
	}
	group := gemmT
	if narrow {
		group = 4
	}
	var lay layout
	if n >= group {
		lay |= layGroups
	}
	if n%group != 0 {
		lay |= layBytes
	}
	return lay
}

// packTypes are the types Pack packs.
var packTypes = map[gguf.Type]bool{gguf.TypeQ4_0: true, gguf.TypeQ8_0: true, gguf.TypeQ4_K: true, gguf.TypeQ6_K: true}

// canPack reports whether w can be packed (Weight.Pack).
func canPack(w *Weight) bool {
	_, ok := packTypes[w.Type]
	return usePacked && ok && w.Packed == nil &&
		w.Rows > 0 && w.Rows%packRows == 0 && w.Cols%packUnitValues(w.Type) == 0 && len(w.Data) == w.Rows*w.RowBytes()
}

// pack returns w's rows in the packed layout, in a 64-byte aligned buffer. Q8_0's signed quants are
// stored as unsigned bytes u = q + 128 (the VPDPBUSD's unsigned side; its block sums start at −128·Σq).
func pack(w *Weight) []byte {
	switch w.Type {
	case gguf.TypeQ4_K:
		return packByUnit(w, 144, packQ4_KUnit)
	case gguf.TypeQ6_K:
		return packByUnit(w, 210, packQ6_KUnit)
	}
	qb := packQuantBytes(w.Type)
	flip := uint32(0)
	if w.Type == gguf.TypeQ8_0 {
		flip = 0x80808080
	}
	return packByUnit(w, 2*(2+qb), func(pair, blks []byte, r int) { // two blocks: a pair
		for h := range 2 {
			blk := blks[h*(2+qb) : (h+1)*(2+qb)]
			copy(pair[32*h+2*r:32*h+2*r+2], blk[:2])
			for k := range qb / 4 {
				v := binary.LittleEndian.Uint32(blk[2+4*k:]) ^ flip
				binary.LittleEndian.PutUint32(pair[64+packRows*qb*h+64*k+4*r:], v)
			}
		}
	})
}

// packByUnit lays w's rows out strip by strip, on all the CPUs: fill writes row r's piece of one unit
// (fileUnit bytes of the file's row) into the strip's unit u.
func packByUnit(w *Weight, fileUnit int, fill func(u, blk []byte, r int)) []byte {
	rb, units, unitBytes := w.RowBytes(), w.Cols/packUnitValues(w.Type), packUnitBytes(w.Type)
	stripBytes := units * unitBytes
	out := packedBytes(w.Rows / packRows * stripBytes)
	forStrips(w.Rows/packRows, func(s int) {
		for r := range packRows {
			row := w.Data[(s*packRows+r)*rb : (s*packRows+r+1)*rb]
			for i := range units {
				fill(out[s*stripBytes+i*unitBytes:s*stripBytes+(i+1)*unitBytes], row[i*fileUnit:(i+1)*fileUnit], r)
			}
		}
	})
	return out
}

// forStrips runs fn for strips 0…n−1 on all the CPUs (packing a 7B model's matrices is gigabytes of
// scattered stores).
func forStrips(n int, fn func(s int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w * n / workers; s < (w+1)*n/workers; s++ {
				fn(s)
			}
		}()
	}
	wg.Wait()
}

// alignedBytes returns n zero bytes starting at a 64-byte boundary (a cache line: the kernel's loads then
// never straddle two).
func alignedBytes(n int) []byte {
	buf := make([]byte, n+63)
	off := (64 - int(uintptrOf(buf)%64)) % 64
	return buf[off : off+n : off+n]
}

// hugePage is the size of an x86-64 huge page.
const hugePage = 2 << 20

// packedBytes returns n zero bytes for packed rows, 64-byte aligned; from 2 MiB up they start at a 2 MiB
// boundary and their whole 2 MiB pages are advised as huge pages (adviseHuge; not the last, partial one,
// which would hold up to 2 MiB of zeros in memory). The padding before and after is never touched; should
// the allocator have cleared it (reused memory), its pages are given back.
//
// Measured (2-core AMD EPYC, one token against 64 packed Q4_0 2048×2048 matrices in turn, 2 threads,
// five alternated pairs): 29.0 GB/s with 4 KiB pages, 31.7 GB/s with huge pages (every pair faster).
func packedBytes(n int) []byte {
	if !hugePages || n < hugePage {
		return alignedBytes(n)
	}
	buf := make([]byte, n+hugePage)
	off := (hugePage - int(uintptrOf(buf)%hugePage)) % hugePage
	adviseHuge(buf[off : off+n/hugePage*hugePage])
	releaseUnused(buf[:off])
	releaseUnused(buf[off+n:])
	return buf[off : off+n : off+n]
}

// uintptrOf is the address of b's first byte.
func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// packedKernelGo is the portable loop of the packed kernels (the reference for the assembly ones): ns
// consecutive packed strips of type t (rows of cols values) against tokens whose activations lie stride
// apart — quad j of token t at q[j·stride+t], its d and −8·Σq of block b at ad[b·stride+t],
// start[b·stride+t]: an act16 group (stride gemmT, from the first token's place) or one token alone
// (stride 1) — row r of the strips into out[t·ostride + r].
//
// For Q4_K, as holds each token's −d·Σq per block of 32 (act16.s32), laid out as ad, for the minimums'
// term, and start is not read (its sums start at zero). For Q6_K, ad and start are per block of 16
// (act16.d16, start16: −32·Σq).
func packedKernelGo(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	stripBytes := cols / packUnitValues(t) * packUnitBytes(t)
	for tok := range tokens {
		packedStripsGo(t, strips, ns, cols, stripBytes, func(b, v int) int32 { // value v of block b
			return int32(int8(q[(8*b+v/4)*stride+tok] >> (8 * (v % 4))))
		}, ad, start, as, func(b int) int { return b*stride + tok }, out[tok*ostride:])
	}
}

// packedTask is MatMul for up to maxPackedMats packed weights against the same activations, at 8 bits or
// (packed16) 16, in one parallel loop over all their strips (matrix i's strips after those of 0…i−1):
// runs of up to packStreams strips against every token group, the tokens of a group eight or four at a
// time (at 16 bits eight), a token left over alone (against the run's strips at once); with AVX2 alone
// (no group kernels: packedGroups) every token alone.
type packedTask struct {
	dst  [maxPackedMats][]float32
	w    [maxPackedMats]*Weight
	ends [maxPackedMats]int // the strips of matrices 0…i together
	mats int
	a    *act16
}

// maxPackedMats is the most matrices one packed loop takes: a layer's query, key and value (gate and
// up), one loop instead of one each — the workers meet once, and the key and value matrices (a few
// strips each, with grouped-query attention) stream as part of a longer run instead of alone. Measured
// (2-core AMD EPYC, TinyLlama-shape Q4_0, 16 bits, one thread, each matrix's product timed alone in a
// decode): the 256-row key and value matrices streamed at 16–17 GB/s where the others did 26–29.
const maxPackedMats = 4

// packStreams is how many strips the one-token kernel reads side by side where it reads them so
// (sideBySide), and the whole runs the workers take (ForChunks' chunk).
const packStreams = 4

// sideBySide is how many strips the one-token kernels read at once: four (four streams of memory per
// core, the x1s4 kernels) or one after the other. On AMD one at a time: measured on a 2-core AMD EPYC
// (Zen 4), TinyLlama-shape Q4_0 at 16 bits, packed rows on huge pages, alternated runs — BenchmarkGemvStream
// n=1 on one thread 20.9–21.2 → 29.4–30.9 GB/s (three pairs), on two 26–30 → 30–34 GB/s; `llamago bench
// -p 0 -n 64 -t 1` 32.2/33.5/33.2 → 44.6/41.8/42.9 t/s, `-n 128 -t 2` 58.9/58.3 → 73.2/75.0 t/s (pairs
// undisturbed by the machine's neighbours). Elsewhere (Intel Xeon) four, as measured against the peers in
// earlier sessions, not yet against one at a time. LLAMAGO_CPU_STRIPS=1 or 4 overrides the choice (the
// portable loop reads one at a time whatever it says).
var sideBySide = stripsSideBySide(os.Getenv("LLAMAGO_CPU_STRIPS"), isAMD())

// PackedReads says, for llamago version, how decoding reads packed rows ("one strip at a time" or "four
// strips side by side": sideBySide), or "" where no matrix is packed (no AVX2).
func PackedReads() string {
	switch {
	case !usePacked:
		return ""
	case sideBySide == 1 || !useVNNI: // the AVX2 kernels read one strip at a time
		return "one strip at a time"
	}
	return "four strips side by side"
}

func stripsSideBySide(env string, amd bool) int {
	switch {
	case env == "1" || env == "4":
		return int(env[0] - '0')
	case amd:
		return 1
	}
	return packStreams
}

func (pt *packedTask) run(lo, hi, _ int) {
	start := 0
	for i := range pt.mats {
		if l, h := max(lo, start), min(hi, pt.ends[i]); l < h {
			pt.runMat(i, l-start, h-start)
		}
		start = pt.ends[i]
	}
}

// runMat is run for strips lo…hi−1 of matrix i.
func (pt *packedTask) runMat(i, lo, hi int) {
	w, a, dst := pt.w[i], pt.a, pt.dst[i]
	rows, cols, nb, nb16 := w.Rows, w.Cols, w.Cols/32, w.Cols/16
	stripBytes := packStripBytes(w)
	// The kernels and activations of the precision: at 8 bits q8 (a quad a word), at 16 bits q16s (split:
	// two words a quad, qw words a token per quad); whether four tokens of a group go together (8 bits).
	kernel, qs, qc, qw, four := packedKernel, a.q8, a.q8c, 1, true
	if !a.narrow() {
		kernel, qs, qc, qw, four = packedKernel16, a.q16s, a.q16c, 2, false
	}
	// One token's kernel reads its 16-bit codes rather than its bytes (codes); without groups every token
	// goes alone (packedLayouts made their bytes, or nothing where the kernel reads the codes).
	codes, groups := packedCodes(w.Type, !a.narrow()), packedGroups()
	for s := lo; s < hi; {
		ns := 1
		if hi-s >= packStreams {
			ns = packStreams
		}
		strips := w.Packed[s*stripBytes : (s+ns)*stripBytes]
		for g := 0; g < a.groups(); g++ {
			m := min(gemmT, a.n-g*gemmT)
			for t := 0; t < m; {
				k := 1
				switch {
				case m-t == gemmT && groups:
					k = gemmT
				case m-t >= 4 && four && groups:
					k = 4
				}
				out := dst[(g*gemmT+t)*rows+s*packRows:]
				if k == 1 {
					tok := g*gemmT + t
					adc, startc := a.d32c[tok*nb:(tok+1)*nb], a.startc[tok*nb:(tok+1)*nb]
					if w.Type == gguf.TypeQ6_K {
						adc, startc = a.d16c[tok*nb16:(tok+1)*nb16], a.start16c[tok*nb16:(tok+1)*nb16]
					}
					if codes {
						packedKernelCodes(w.Type, !a.narrow(), strips, ns, cols, a.tq[tok*cols:(tok+1)*cols], adc, startc, a.s32c[tok*nb:(tok+1)*nb], out, rows)
					} else {
						kernel(w.Type, strips, ns, cols, qc[tok*qw*cols/4:(tok+1)*qw*cols/4], adc, startc, a.s32c[tok*nb:(tok+1)*nb], 1, 1, out, rows)
					}
				} else {
					q := qs[g*qw*cols/4*gemmT : (g+1)*qw*cols/4*gemmT]
					ad, start, as := a.d32[g*nb*gemmT:(g+1)*nb*gemmT], a.start[g*nb*gemmT:(g+1)*nb*gemmT], a.s32[g*nb*gemmT:(g+1)*nb*gemmT]
					if w.Type == gguf.TypeQ6_K {
						ad, start = a.d16[g*nb16*gemmT:(g+1)*nb16*gemmT], a.start16[g*nb16*gemmT:(g+1)*nb16*gemmT]
					}
					kernel(w.Type, strips, ns, cols, q[t:], ad[t:], start[t:], as[t:], k, gemmT, out, rows)
				}
				t += k
			}
		}
		s += ns
	}
}

// matMulPacked computes dsts[i] = ws[i]·x for up to maxPackedMats packed matrices from the activations in a
// (8-bit, their rounding, or 16-bit and split into bytes; the 16-bit codes where a kernel reads them,
// packedCodes), in the layouts packedLayouts names, in one parallel loop.
func matMulPacked(p *Pool, dsts [][]float32, ws []*Weight, a *act16) {
	if len(ws) > maxPackedMats || len(dsts) != len(ws) {
		panic("matMulPacked: one destination a matrix, at most maxPackedMats")
	}
	for _, w := range ws {
		if w.Cols != ws[0].Cols {
			panic("matMulPacked: matrices of one loop share the activations: the same columns")
		}
	}
	var lay layout
	for _, w := range ws {
		lay |= packedLayouts(w.Type, a.n, a.narrow())
	}
	a.ensure(p, lay)
	pt := &p.tasks.packed
	defer func() { *pt = packedTask{} }() // the task holds no matrix or activations past the call
	pt.a, pt.mats = a, len(ws)
	strips := 0
	for i, w := range ws {
		strips += w.Rows / packRows
		pt.dst[i], pt.w[i], pt.ends[i] = dsts[i], w, strips
	}
	p.ForChunks(strips, packStreams, p.tasks.packedFn) // whole runs of strips
}

// Q4_K packs by super-block (256 values of a row: d, dmin, eight 6-bit scales and minimums, 128 bytes of
// nibbles where chunk c of 32 bytes holds sub-block 2c in its low nibbles and 2c+1 in its high ones):
//
//	strip s, one unit per super-block, q4kPackBytes bytes each:
//	  [0, 32)      the 16 rows' fp16 d, row r at 2r
//	  [32, 64)     their fp16 dmin
//	  [64, 192)    their scales as bytes: sub-block j's at 64+16j, row r's at +r
//	  [192, 320)   their minimums, the same way
//	  [320, 2368)  the quants: chunk c's word k (k = 0…7) at 320+512c+64k, row r's bytes 4k…4k+3 at +4r
//
// (148 bytes a row and super-block where the file has 144: the scales unpacked from their 6-bit fields.)
// A sub-block's weights are s·u − o with s = d·sc and o = dmin·m, computed as the tiles compute them
// (float32 products, exact); its sum folds as the tile folds it: F += s·(float(Σ u·q)·d_x), then
// F += o·(−d_x·Σq).
const q4kPackBytes = 2*2*packRows + 2*8*packRows + 4*8*64 // 2,368

// packQ4_KUnit writes row r's super-block blk into the strip's unit u.
func packQ4_KUnit(u, blk []byte, r int) {
	copy(u[2*r:2*r+2], blk[0:2])
	copy(u[32+2*r:32+2*r+2], blk[2:4])
	for j := range 8 {
		u[64+16*j+r], u[192+16*j+r] = q4kScaleMin(j, blk[4:16])
	}
	for c := range 4 {
		for k := range 8 {
			copy(u[320+512*c+64*k+4*r:320+512*c+64*k+4*r+4], blk[16+32*c+4*k:16+32*c+4*k+4])
		}
	}
}

// Q6_K packs by super-block (256 values of a row: ql[128] with the low 4 bits, qh[64] with the top 2,
// sixteen int8 scales per 16 values, d; value 128n+32g+l has its low bits in ql[64n+32(g%2)+l] — the high
// nibble when g ≥ 2 — and its top bits at bit 2g of qh[32n+l]):
//
//	strip s, one unit per super-block, q6kPackBytes bytes each:
//	  [0, 32)       the 16 rows' fp16 d, row r at 2r (then 32 bytes of padding: units stay cache-line aligned)
//	  [64, 320)     their scales: sub-block j's (of 16 values) at 64+16j, row r's at +r
//	  [320+1536n, …) for each half n: ql's 16 words (word k: row r's bytes 4k…4k+3 of ql[64n:] at +4r)
//	                and qh's 8 words (of qh[32n:]), ql word k at q6kQL(n, k), qh word k at q6kQH(n, k):
//	                ql 0, qh 0, ql 1, qh 1, …, ql 7, qh 7, then ql 8…15
//
// (212 bytes a row and super-block where the file has 210.) A sub-block's weights are s·(u−32) with
// s = d·sc computed as the tiles compute it; its sum starts at −32·Σq and folds as the tile folds it.
//
// The kernels build values 32g… of a half from ql words 8(g%2)… and all eight qh words, groups g = 0…3 in
// turn, so in this order each line is first read after the lines before it. (With ql's 16 words and then
// qh's 8, the first group read ql 0–7 and qh 0–7 side by side, the second went back to ql 8–15: read in
// that order, a unit streamed at 21 GB/s on one thread where reading it straight through took 30, and
// this order 28.5 — loads alone, 2-core AMD EPYC, the same huge-page buffer.)
const q6kPackBytes = 64 + 16*packRows + 2*(16+8)*64 // 3,392

// q6kQL is the offset in a Q6_K unit of half n's ql word k (k = 0…15), q6kQH of its qh word k (0…7).
func q6kQL(n, k int) int {
	if k < 8 {
		return 320 + 1536*n + 128*k
	}
	return 320 + 1536*n + 1024 + 64*(k-8)
}

func q6kQH(n, k int) int { return 320 + 1536*n + 128*k + 64 }

// packQ6_KUnit writes row r's super-block blk into the strip's unit u.
func packQ6_KUnit(u, blk []byte, r int) {
	copy(u[2*r:2*r+2], blk[208:210])
	for j := range 16 {
		u[64+16*j+r] = blk[192+j]
	}
	for n := range 2 {
		for k := range 16 {
			copy(u[q6kQL(n, k)+4*r:q6kQL(n, k)+4*r+4], blk[64*n+4*k:64*n+4*k+4])
		}
		for k := range 8 {
			copy(u[q6kQH(n, k)+4*r:q6kQH(n, k)+4*r+4], blk[128+32*n+4*k:128+32*n+4*k+4])
		}
	}
}

// unpackPacked is unpack for a packed matrix (rows r0…r0+15 are strip r0/16): the tiles at
// 16 bits read its strips, unpacked from the packed layout as from the file's, with the same values.
func unpackPacked(w *Weight, r0 int, st *strip) {
	stripBytes := packStripBytes(w)
	s := r0 / packRows
	src, next := w.Packed[s*stripBytes:(s+1)*stripBytes], w.Packed[s*stripBytes:(s+1)*stripBytes]
	if s+1 < w.Rows/packRows {
		next = w.Packed[(s+1)*stripBytes : (s+2)*stripBytes]
	}
	if !unpackPackedFast(w.Type, src, next, w.Cols, st) {
		unpackPackedGo(w.Type, src, w.Cols, st)
	}
}

// unpackPackedGo is unpackPacked's portable loop for one strip (src).
func unpackPackedGo(t gguf.Type, src []byte, cols int, st *strip) {
	if t == gguf.TypeQ6_K {
		unpackPackedQ6_KGo(src, cols, st)
		return
	}
	q, ss, so := st.q[:cols/4*gemmRows], st.s[:cols/32*gemmRows], st.o[:cols/32*gemmRows]
	if t == gguf.TypeQ4_K {
		for sb := range cols / gguf.QK_K {
			u := src[sb*q4kPackBytes : (sb+1)*q4kPackBytes]
			for r := range packRows {
				d, dmin := f16[binary.LittleEndian.Uint16(u[2*r:])], f16[binary.LittleEndian.Uint16(u[32+2*r:])]
				for j := range 8 {
					b := sb*8 + j
					ss[b*gemmRows+r], so[b*gemmRows+r] = d*float32(u[64+16*j+r]), dmin*float32(u[192+16*j+r])
				}
			}
			for c := range 4 {
				for k := range 8 {
					words := u[320+512*c+64*k : 320+512*c+64*(k+1)]
					lo := q[(sb*64+16*c+k)*gemmRows : (sb*64+16*c+k+1)*gemmRows]
					hi := q[(sb*64+16*c+8+k)*gemmRows : (sb*64+16*c+9+k)*gemmRows]
					for r := range packRows {
						v := binary.LittleEndian.Uint32(words[4*r:])
						lo[r], hi[r] = v&0x0F0F0F0F, v>>4&0x0F0F0F0F
					}
				}
			}
		}
		return
	}
	for b := range cols / 32 {
		pair := src[b/2*packUnitBytes(t) : (b/2+1)*packUnitBytes(t)]
		h := b % 2
		bias := float32(8)
		if t == gguf.TypeQ8_0 {
			bias = 128
		}
		for r := range packRows {
			d := f16[binary.LittleEndian.Uint16(pair[32*h+2*r:])]
			ss[b*gemmRows+r], so[b*gemmRows+r] = d, bias*d
		}
		if t == gguf.TypeQ8_0 { // the packed words are the strip's
			for k := range 8 {
				words := pair[64+512*h+64*k : 64+512*h+64*(k+1)]
				dst := q[(b*8+k)*gemmRows : (b*8+k+1)*gemmRows]
				for r := range packRows {
					dst[r] = binary.LittleEndian.Uint32(words[4*r:])
				}
			}
			continue
		}
		for k := range 4 {
			words := pair[64+256*h+64*k : 64+256*h+64*(k+1)]
			lo, hi := q[(b*8+k)*gemmRows:(b*8+k+1)*gemmRows], q[(b*8+4+k)*gemmRows:(b*8+5+k)*gemmRows]
			for r := range packRows {
				v := binary.LittleEndian.Uint32(words[4*r:])
				lo[r], hi[r] = v&0x0F0F0F0F, v>>4&0x0F0F0F0F
			}
		}
	}
}

// unpackPackedQ6_KGo is unpackPackedGo for Q6_K: per super-block, the 6-bit values rebuilt from the ql and
// qh words as unpackQ6_K lays them, s = d·sc and o = 32·s per sub-block of 16.
func unpackPackedQ6_KGo(src []byte, cols int, st *strip) {
	q, ss, so := st.q[:cols/4*gemmRows], st.s[:cols/16*gemmRows], st.o[:cols/16*gemmRows]
	for sb := range cols / gguf.QK_K {
		u := src[sb*q6kPackBytes : (sb+1)*q6kPackBytes]
		for r := range packRows {
			d := f16[binary.LittleEndian.Uint16(u[2*r:])]
			for j := range 16 {
				s := d * float32(int8(u[64+16*j+r]))
				ss[(sb*16+j)*gemmRows+r], so[(sb*16+j)*gemmRows+r] = s, 32*s
			}
		}
		for n := range 2 {
			for g := range 4 {
				for k := range 8 {
					ql := u[q6kQL(n, 8*(g%2)+k) : q6kQL(n, 8*(g%2)+k)+64]
					qh := u[q6kQH(n, k) : q6kQH(n, k)+64]
					dst := q[(sb*64+32*n+8*g+k)*gemmRows : (sb*64+32*n+8*g+k+1)*gemmRows]
					for r := range packRows {
						lo := binary.LittleEndian.Uint32(ql[4*r:]) >> (4 * (g / 2)) & 0x0F0F0F0F
						hi := binary.LittleEndian.Uint32(qh[4*r:]) >> (2 * g) & 0x03030303
						dst[r] = lo | hi<<4
					}
				}
			}
		}
	}
}

// packedKernel16Go is the product of ns packed strips with 16-bit activations (llamago's default precision;
// the reference for the assembly kernels): tokens whose values are split into bytes (splitQuads) stride
// apart — quad j's lo word of token t at q[2j·stride+t], its hi word at q[(2j+1)·stride+t]: one token alone
// (stride 1, act16.q16c) or four or eight of a group (stride gemmT, act16.q16s) — with d and −8·Σq per
// block of 32 at ad and start[b·stride+t] (Q4_0, Q8_0; for Q6_K d and −32·Σq per 16) and −d·Σq in as
// (Q4_K); row r of the strips into out[t·ostride + r]. Each block's integer total is the 16-bit tile's
// (Q4_0: Σ (u−8)·q; Q8_0: Σ (u−128)·q; Q4_K: Σ u·q; Q6_K: Σ (u−32)·q per 16), folded as the tile folds it
// (the assembly's fused multiply-adds round once where this loop rounds twice, so the two agree within
// float rounding, not to the bit; the bit-identity tests compare the assembly with the assembly tiles).
func packedKernel16Go(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	stripBytes := cols / packUnitValues(t) * packUnitBytes(t)
	for tok := range tokens {
		packedStripsGo(t, strips, ns, cols, stripBytes, func(b, v int) int32 { // value v of block b (splitQuads)
			j := 8*b + v/4
			lo, hi := q[2*j*stride+tok], q[(2*j+1)*stride+tok]
			return 256*int32(int8(hi>>(8*(v%4)))) + int32(int8(lo>>(8*(v%4))))
		}, ad, start, as, func(b int) int { return b*stride + tok }, out[tok*ostride:])
	}
}

// packedStripsGo is the portable product of ns packed strips with one token, at either precision (the
// loop of packedKernelGo and packedKernel16Go): val(b, v) is the token's value v of block b of 32, and
// its d, start and as of block b (of 16 for Q6_K; as only for Q4_K) are ad, start and as at at(b). Per block the int32 total Σ (u−bias)·q
// from the start −bias·Σq (Q4_K: Σ u·q from zero), then F += s·(float(total)·d) with s = d_w·sc for the
// k-quants, and for Q4_K F += (dmin·m)·as.
func packedStripsGo(t gguf.Type, strips []byte, ns, cols, stripBytes int, val func(b, v int) int32, ad []float32, start []int32, as []float32, at func(b int) int, out []float32) {
	for i := range ns {
		strip := strips[i*stripBytes : (i+1)*stripBytes]
		var acc [packRows]float32
		if t == gguf.TypeQ6_K { // per sub-block of 16: ad and start hold d and −32·Σq per 16
			for b := range cols / 16 {
				u := strip[b/16*q6kPackBytes : (b/16+1)*q6kPackBytes]
				j := b % 16
				n, g, k0 := j/8, j%8/2, j%2*4 // values 128n+32g+4k…, k = k0…k0+3
				for r := range packRows {
					d := f16[uint16(u[2*r])|uint16(u[2*r+1])<<8]
					sc := d * float32(int8(u[64+16*j+r]))
					adb, dot := ad[at(b)], start[at(b)]
					for k := k0; k < k0+4; k++ {
						ql := u[q6kQL(n, 8*(g%2)+k)+4*r:]
						qh := u[q6kQH(n, k)+4*r:]
						for m := range 4 {
							v := int32(ql[m]>>(4*(g/2))&15 | (qh[m]>>(2*g)&3)<<4)
							dot += v * val(b/2, 16*(b%2)+4*(k-k0)+m)
						}
					}
					acc[r] += sc * (float32(dot) * adb)
				}
			}
			copy(out[i*packRows:(i+1)*packRows], acc[:])
			continue
		}
		for b := range cols / 32 {
			adb, startb := ad[at(b)], start[at(b)]
			for r := range packRows {
				if t == gguf.TypeQ4_K {
					u := strip[b/8*q4kPackBytes:]
					j, c := b%8, b%8/2
					d, dmin := f16[uint16(u[2*r])|uint16(u[2*r+1])<<8], f16[uint16(u[32+2*r])|uint16(u[32+2*r+1])<<8]
					var dot int32
					for k := range 8 {
						for n := range 4 {
							dot += int32(u[320+512*c+64*k+4*r+n]>>(4*(j%2))&15) * val(b, 4*k+n)
						}
					}
					acc[r] += d * float32(u[64+16*j+r]) * (float32(dot) * adb)
					acc[r] += dmin * float32(u[192+16*j+r]) * as[at(b)]
					continue
				}
				pair := strip[b/2*packUnitBytes(t):]
				h := b % 2
				dot := startb
				if t == gguf.TypeQ8_0 {
					dot *= 16 // −128·Σq
					for k := range 8 {
						for n := range 4 {
							dot += int32(pair[64+512*h+64*k+4*r+n]) * val(b, 4*k+n)
						}
					}
					s := f16[uint16(pair[32*h+2*r])|uint16(pair[32*h+2*r+1])<<8]
					acc[r] += s * (float32(dot) * adb)
					continue
				}
				for k := range 4 {
					for n := range 4 { // values 4k+n (low nibbles) and 16+4k+n (high)
						u := pair[64+256*h+64*k+4*r+n]
						dot += int32(u&15)*val(b, 4*k+n) + int32(u>>4)*val(b, 16+4*k+n)
					}
				}
				s := f16[uint16(pair[32*h+2*r])|uint16(pair[32*h+2*r+1])<<8]
				acc[r] += s * (float32(dot) * adb)
			}
		}
		copy(out[i*packRows:(i+1)*packRows], acc[:])
	}
}
