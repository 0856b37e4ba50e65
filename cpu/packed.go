package cpu

import (
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

// Rows across lanes (a layout chosen at load). In the GGUF layout a Q4_0 row's blocks lie back to back, so
// a SIMD kernel that wants one row per lane must gather and transpose them for every product: the decode
// kernels sum each row inside a register and reduce it at the end of every block, the prompt tiles unpack
// whole strips into a buffer first. Weight.Pack rewrites a Q4_0 matrix once, at load, into strips of
// packRows rows whose bytes are already where the lanes want them:
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
// transposition, no reduction, and a thread streams one contiguous run of memory.
//
// The kernel (packedKernel) takes the activations as the prompt tiles do (act16's 8-bit groups) and folds
// each block exactly as they do — the exact int32 total of (u−8)·q per row and token, then
// F += s·(float(total)·d_x), block after block — for one, four or eight tokens of a group. Every token of a
// product of a packed matrix, whatever the batch, goes through it, so a sequence's logits do not depend on
// what it is batched with; it replaces the one-row kernels and the tiles for these matrices.
//
// Only 8-bit activations use it (SetActivationBits(8) before loading): the 16-bit kernels keep reading the
// mapped rows, which stay valid (the loader may drop their pages from memory: they are read again from the
// file only if a 16-bit product asks for them).

const (
	packRows      = 16                      // rows per strip: one int32 lane each of a 512-bit register
	packPairBytes = 2 * (2*packRows + 4*64) // one pair of blocks of a strip: 576 bytes
)

// Pack rewrites w into rows across lanes (see above) where a kernel for it exists here: Q4_0 with whole
// strips of rows and an even number of blocks per row, on CPUs with AVX-512 VNNI. It reports whether it
// did; w.Data is left as it was.
func (w *Weight) Pack() bool {
	if !canPack(w) {
		return false
	}
	w.Packed = packQ4_0(w)
	return true
}

// canPack reports whether w can be packed (Weight.Pack).
func canPack(w *Weight) bool {
	return usePacked && w.Packed == nil && w.Type == gguf.TypeQ4_0 && w.Rows > 0 && w.Rows%packRows == 0 &&
		w.Cols%64 == 0 && len(w.Data) == w.Rows*w.RowBytes()
}

// packQ4_0 returns w's rows in the packed layout, in a 64-byte aligned buffer.
func packQ4_0(w *Weight) []byte {
	rb, nb := w.RowBytes(), w.Cols/32
	stripBytes := nb / 2 * packPairBytes
	out := alignedBytes(w.Rows / packRows * stripBytes)
	for s := 0; s < w.Rows/packRows; s++ {
		dst := out[s*stripBytes : (s+1)*stripBytes]
		for r := range packRows {
			row := w.Data[(s*packRows+r)*rb : (s*packRows+r+1)*rb]
			for b := range nb {
				blk := row[b*18 : b*18+18]
				pair := dst[b/2*packPairBytes : (b/2+1)*packPairBytes]
				h := b % 2
				copy(pair[32*h+2*r:32*h+2*r+2], blk[:2])
				for k := range 4 {
					copy(pair[64+256*h+64*k+4*r:64+256*h+64*k+4*r+4], blk[2+4*k:6+4*k])
				}
			}
		}
	}
	return out
}

// alignedBytes returns n zero bytes starting at a 64-byte boundary (a cache line: the kernel's loads then
// never straddle two).
func alignedBytes(n int) []byte {
	buf := make([]byte, n+63)
	off := (64 - int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%64)) % 64
	return buf[off : off+n : off+n]
}

// packedKernelGo is the portable loop of the packed kernel (the reference for the assembly one): ns
// consecutive packed strips (nb blocks a row) against tokens whose activations lie stride apart — quad j
// of token t at q[j·stride+t], its d and −8·Σq of block b at ad[b·stride+t], start[b·stride+t]: an act16
// group (stride gemmT, from the first token's place) or one token alone (stride 1) — row r of the strips
// into out[t·ostride + r].
func packedKernelGo(strips []byte, ns, nb int, q []uint32, ad []float32, start []int32, tokens, stride int, out []float32, ostride int) {
	stripBytes := nb / 2 * packPairBytes
	for i := range ns {
		packedStripGo(strips[i*stripBytes:(i+1)*stripBytes], nb, q, ad, start, tokens, stride, out[i*packRows:], ostride)
	}
}

// packedStripGo is packedKernelGo for one strip.
func packedStripGo(strip []byte, nb int, q []uint32, ad []float32, start []int32, tokens, stride int, out []float32, ostride int) {
	for t := range tokens {
		var acc [packRows]float32
		for b := range nb {
			pair := strip[b/2*packPairBytes:]
			h := b % 2
			for r := range packRows {
				dot := start[b*stride+t]
				for k := range 4 {
					u := pair[64+256*h+64*k+4*r : 64+256*h+64*k+4*r+4]
					lo, hi := q[(8*b+k)*stride+t], q[(8*b+4+k)*stride+t]
					for i := range 4 {
						dot += int32(u[i]&15)*int32(int8(lo>>(8*i))) + int32(u[i]>>4)*int32(int8(hi>>(8*i)))
					}
				}
				s := f16[uint16(pair[32*h+2*r])|uint16(pair[32*h+2*r+1])<<8]
				acc[r] += s * (float32(dot) * ad[b*stride+t])
			}
		}
		copy(out[t*ostride:t*ostride+packRows], acc[:])
	}
}

// packedTask is MatMul for a packed weight: runs of up to packStreams strips against every token group,
// the tokens of a group eight or four at a time, a token left over alone (against the run's strips at once).
type packedTask struct {
	dst []float32
	w   *Weight
	a   *act16
}

// packStreams is how many strips the one-token kernel reads side by side: one run of memory per core
// leaves the memory system idle between misses (BenchmarkGemvStream, Q4_0, 8 bits, one token).
const packStreams = 4

func (pt *packedTask) run(lo, hi, _ int) {
	w, a, dst := pt.w, pt.a, pt.dst
	rows, cols, nb := w.Rows, w.Cols, w.Cols/32
	stripBytes := nb / 2 * packPairBytes
	for s := lo; s < hi; {
		ns := 1
		if hi-s >= packStreams {
			ns = packStreams
		}
		strips := w.Packed[s*stripBytes : (s+ns)*stripBytes]
		for g := 0; g < a.groups(); g++ {
			q := a.q8[g*cols/4*gemmT : (g+1)*cols/4*gemmT]
			ad, start := a.d32[g*nb*gemmT:(g+1)*nb*gemmT], a.start[g*nb*gemmT:(g+1)*nb*gemmT]
			m := min(gemmT, a.n-g*gemmT)
			for t := 0; t < m; {
				k := 1
				switch {
				case m-t == gemmT:
					k = gemmT
				case m-t >= 4:
					k = 4
				}
				out := dst[(g*gemmT+t)*rows+s*packRows:]
				if k == 1 {
					tok := g*gemmT + t
					packedKernel(strips, ns, nb, a.q8c[tok*cols/4:(tok+1)*cols/4], a.d32c[tok*nb:(tok+1)*nb], a.startc[tok*nb:(tok+1)*nb], 1, 1, out, rows)
				} else {
					packedKernel(strips, ns, nb, q[t:], ad[t:], start[t:], k, gemmT, out, rows)
				}
				t += k
			}
		}
		s += ns
	}
}

// matMulPacked computes dst = w·x for a packed w from the activations in a (8-bit, Q8_0 rounding).
func matMulPacked(p *Pool, dst []float32, w *Weight, a *act16) {
	p.tasks.packed = packedTask{dst: dst, w: w, a: a}
	strips := w.Rows / packRows
	// About four chunks a thread (so that a thread slowed down does not hold the others up), whole runs.
	chunk := max(packStreams, strips/(4*p.threads)/packStreams*packStreams)
	p.ForChunks(strips, chunk, p.tasks.packedFn)
}
