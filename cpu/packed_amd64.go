//go:build amd64 && !noasm

package cpu

import (
	"encoding/binary"
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

// usePacked says whether Weight.Pack packs: with AVX-512 VNNI or AVX2 (the AVX2 kernels,
// packed_avx2_amd64.s, are one-token ones: their products of more than packedAVX2Tokens(t) tokens take the
// tiles, on strips unpacked from the packed rows).
var usePacked = useVNNI || useAVX2

// packedTokens reports whether n tokens against a packed matrix of type t take the packed kernels (at 8
// bits when narrow): with AVX2 alone up to packedAVX2Tokens(t), the rest the tiles; with AVX-512 VNNI
// every product at 8 bits, at 16 bits those of fewer than packed16Tokens.
func packedTokens(t gguf.Type, n int, narrow bool) bool {
	if !useVNNI {
		return n <= packedAVX2Tokens(t)
	}
	return narrow || packed16(n)
}

// packedAVX2Tokens: with AVX2 alone, products of up to this many tokens take the one-token kernels token
// after token (each run of four strips stays in the L2 cache for the next token), more the tiles on
// unpacked strips. Measured (2-core AMD EPYC, Zen 3, TinyLlama-shape, 16 bits, llamago bench -p 32 -n 16
// --parallel, decode t/s of all sequences, two runs each, one-token kernels against tiles): Q4_0 8
// sequences 71.1 against 48.3 (and 75.7–77.5 against 68.2–69.7), 16 75.1–82.2 against 55.6–83.1; Q4_K_M 8
// 56.7–58.2 against 37.3–39.1, 16 58.6–59.8 against 50.5–53.9; Q8_0, whose tile multiplies words as its
// one-token kernel does and reads each unpacked strip once for four tokens, 4 42.1–47.8 against
// 31.0–33.5, 8 60.3–62.0 against 59.0–60.9, 10 63.2–64.1 against 46.1–50.6, 12 63.1–63.9 against
// 54.3–57.4 (the tiles compute 16, padding included), 16 63.2–64.3 against 78.9–79.0: up to 12. Q6_K,
// since its strips unpack in AVX2 (Q4_K_M, Q6_K's matrices alone switched, the rest as above): 2 and 3
// sequences 44.9–49.2 and 49.0–54.7 with the one-token kernel up to 4 against 31.1–34.0 and 40.6–41.7
// in the tiles, 4 33.0–50.0 against 38.7–45.0, 6 44.9–45.9 against 52.3–52.8, 8 57.5–58.9 against
// 63.0–63.1, 16 56.7–58.4 against 65.1–68.7: up to 4.
func packedAVX2Tokens(t gguf.Type) int {
	switch t {
	case gguf.TypeQ8_0:
		return 12
	case gguf.TypeQ6_K:
		return 4
	}
	return 16
}

// packedGroups reports whether the packed kernels take tokens four or eight of a group at once (AVX-512
// VNNI); with AVX2 alone every token goes alone.
func packedGroups() bool { return useVNNI }

// isAMD reports whether the CPU is AMD's (or Hygon's, the same cores).
func isAMD() bool {
	b, d, c := cpuidVendor()
	var v [12]byte
	binary.LittleEndian.PutUint32(v[0:], b)
	binary.LittleEndian.PutUint32(v[4:], d)
	binary.LittleEndian.PutUint32(v[8:], c)
	return string(v[:]) == "AuthenticAMD" || string(v[:]) == "HygonGenuine"
}

func cpuidVendor() (ebx, edx, ecx uint32)

// The assembly's strides: a Q4_0 unit is 576 bytes, a Q8_0 one 1,088, Q4_K 2,368, Q6_K 3,392 (a compile
// error otherwise).
const _ = uint(q4kPackBytes-2368) + uint(2368-q4kPackBytes) + uint(q6kPackBytes-3392) + uint(3392-q6kPackBytes) +
	uint(2*(2*packRows+packRows*16)-576) + uint(576-2*(2*packRows+packRows*16)) +
	uint(2*(2*packRows+packRows*32)-1088) + uint(1088-2*(2*packRows+packRows*32))

// packedKernels are one type's packed kernels: one token against one strip or four side by side (Q4_0 and
// Q8_0, where sideBySide is 4: Intel; the k-quants' large units stream best one strip at a time —
// BenchmarkGemvStream, one token, Q4_K 17.9 GB/s four strips at once against 30.4 one by one — and on AMD,
// with the rows on huge pages, so do Q4_0's and Q8_0's), four or eight tokens of a group against one strip.
type packedKernels struct {
	x1, x1s4, x4, x8 func(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)
	// codes: x1 reads the token's 16-bit codes (act16.tq) at either precision, not its bytes
	// (packedKernelCodes runs it).
	codes bool
}

var (
	packedQ4_0 = packedKernels{packedQ4_0x1, packedQ4_0x1s4, packedQ4_0x4, packedQ4_0x8, false}
	packedQ8_0 = packedKernels{packedQ8_0x1, packedQ8_0x1s4, packedQ8_0x4, packedQ8_0x8, false}
	packedQ4_K = packedKernels{packedQ4_Kx1, nil, packedQ4_Kx4, packedQ4_Kx8, false}
	packedQ6_K = packedKernels{packedQ6_Kx1, nil, packedQ6_Kx4, packedQ6_Kx8, false}
)

//go:noescape
func packedQ6_Kx1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ6_Kx4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ6_Kx8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_Kx1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_Kx4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_Kx8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_0x1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_0x1s4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)

//go:noescape
func packedQ4_0x4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_0x8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ8_0x1(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ8_0x1s4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)

//go:noescape
func packedQ8_0x4(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ8_0x8(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

// packedKernel is packedKernelGo in assembly: one token alone (stride 1), or 4 or 8 of a group (stride
// gemmT).
func packedKernel(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	if k := packedTable(t, false); !usePacked || k.codes || !k.has(tokens) { // no kernel for this here (the tests may still call it)
		packedKernelGo(t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
		return
	}
	runPacked(packedTable(t, false), 1, t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
}

// packedTable is type t's kernels at 8 bits or (wide) 16: with AVX2 alone its one-token kernels.
func packedTable(t gguf.Type, wide bool) packedKernels {
	switch {
	case !useVNNI && t == gguf.TypeQ4_0 && !wide:
		return packedAVX2Q4_0
	case !useVNNI && t == gguf.TypeQ4_0:
		return packed16AVX2Q4_0
	case !useVNNI && t == gguf.TypeQ4_K && !wide:
		return packedAVX2Q4_K
	case !useVNNI && t == gguf.TypeQ4_K:
		return packed16AVX2Q4_K
	case !useVNNI && t == gguf.TypeQ6_K && !wide:
		return packedAVX2Q6_K
	case !useVNNI && t == gguf.TypeQ8_0:
		return packedAVX2Q8_0 // codes: packedKernelCodes runs it, at either precision
	case !useVNNI && t == gguf.TypeQ6_K:
		return packed16AVX2Q6_K
	case !useVNNI:
		return packedKernels{}
	case t == gguf.TypeQ4_0 && !wide:
		return packedQ4_0
	case t == gguf.TypeQ8_0 && !wide:
		return packedQ8_0
	case t == gguf.TypeQ4_K && !wide:
		return packedQ4_K
	case t == gguf.TypeQ6_K && !wide:
		return packedQ6_K
	case t == gguf.TypeQ4_0:
		return packed16Q4_0
	case t == gguf.TypeQ8_0:
		return packed16Q8_0
	case t == gguf.TypeQ4_K:
		return packed16Q4_K
	case t == gguf.TypeQ6_K:
		return packed16Q6_K
	}
	panic("packed kernel: Q4_0, Q8_0, Q4_K or Q6_K")
}

// runPacked checks the slices k's kernels will read (qw words of q per quad of values and token) and runs
// them: one token alone (against four strips at once where k has that kernel and sideBySide is 4), four
// (where k has that kernel) or eight of a group, strip by strip.
func runPacked(k packedKernels, qw int, t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	units, nblk := cols/packUnitValues(t), cols/packScaleBlock(t)
	if units == 0 || units*packUnitValues(t) != cols || ns <= 0 {
		panic("packed kernel: rows of whole units")
	}
	group := k.x8
	switch {
	case tokens == 1 && stride == 1:
	case tokens == 4 && stride == gemmT && k.x4 != nil:
		group = k.x4
	case tokens != gemmT || stride != gemmT:
		panic("packed kernel: one token alone, or four (8 bits) or eight of a group")
	}
	stripBytes := units * packUnitBytes(t)
	_, _ = strips[ns*stripBytes-1], q[(qw*cols/4-1)*stride+tokens-1]
	_, _, _ = ad[(nblk-1)*stride+tokens-1], start[(nblk-1)*stride+tokens-1], as[(cols/32-1)*stride+tokens-1]
	_ = out[(tokens-1)*ostride+ns*packRows-1]
	qp, adp, sp, asp := unsafe.SliceData(q), unsafe.SliceData(ad), unsafe.SliceData(start), unsafe.SliceData(as)
	if tokens == 1 && ns == 4 && k.x1s4 != nil && sideBySide == 4 {
		k.x1s4(unsafe.SliceData(strips), units, qp, adp, sp, asp, unsafe.SliceData(out), stripBytes)
		return
	}
	for i := range ns {
		w, op := &strips[i*stripBytes], &out[i*packRows]
		if tokens == 1 {
			k.x1(w, units, qp, adp, sp, asp, op, 4*ostride)
		} else {
			group(w, units, qp, adp, sp, asp, op, 4*ostride)
		}
	}
}

//go:noescape
func packedQ4_0x1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_0x1s4w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)

//go:noescape
func packedQ8_0x1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ8_0x1s4w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, stripBytes int)

//go:noescape
func unpackPackedQ8_0AVX512(src *byte, pairs int, q *uint32, s, o *float32, next *byte)

//go:noescape
func packedQ6_Kx1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_Kx1w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

// has reports whether k runs tokens tokens (one alone, or 4 or 8 of a group) in assembly.
func (k packedKernels) has(tokens int) bool {
	switch tokens {
	case 1:
		return k.x1 != nil
	case 4:
		return k.x4 != nil
	}
	return k.x8 != nil
}

// The AVX2 kernels (packed_avx2_amd64.s): one token, at 8 and 16 bits.
var (
	packedAVX2Q4_0   = packedKernels{x1: packedQ4_0x1AVX2}
	packed16AVX2Q4_0 = packedKernels{x1: packedQ4_0x1wAVX2}
	packedAVX2Q4_K   = packedKernels{x1: packedQ4_Kx1AVX2}
	packed16AVX2Q4_K = packedKernels{x1: packedQ4_Kx1wAVX2}
	packedAVX2Q6_K   = packedKernels{x1: packedQ6_Kx1AVX2}
	packed16AVX2Q6_K = packedKernels{x1: packedQ6_Kx1wAVX2}
	packedAVX2Q8_0   = packedKernels{x1: packedQ8_0x1cAVX2, codes: true}
)

// packedCodes reports whether type t's one-token kernel at this precision (wide: 16 bits) reads the
// token's 16-bit codes (act16.tq) rather than its bytes: Q8_0 with AVX2 alone, whose kernel widens the
// weights to words, so that words of codes serve it as they are (two bytes to rebuild a word cost it a
// fifth of its speed in cache).
func packedCodes(t gguf.Type, wide bool) bool { return usePacked && packedTable(t, wide).codes }

// packedKernelCodes runs the one-token kernel of type t that reads codes (packedCodes) on ns strips: tq
// the token's codes, ad, start and as its blocks' as packedKernel takes them.
func packedKernelCodes(t gguf.Type, wide bool, strips []byte, ns, cols int, tq []int16, ad []float32, start []int32, as []float32, out []float32, ostride int) {
	k := packedTable(t, wide)
	if !usePacked || !k.codes || len(tq) < cols || cols%4 != 0 {
		panic("packed kernel: no kernel reads codes for this type, or short codes")
	}
	q := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(tq))), cols/2) // two codes a word
	runPacked(k, 2, t, strips, ns, cols, q, ad, start, as, 1, 1, out, ostride)
}

//go:noescape
func packedQ8_0x1cAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ6_Kx1AVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ6_Kx1wAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func unpackPackedQ4_0AVX2(src *byte, units int, q *uint32, s, o *float32)

//go:noescape
func unpackPackedQ8_0AVX2(src *byte, units int, q *uint32, s, o *float32)

//go:noescape
func unpackPackedQ6_KAVX2(src *byte, units int, q *uint32, s, o *float32)

//go:noescape
func unpackPackedQ4_KAVX2(src *byte, units int, q *uint32, s, o *float32)

//go:noescape
func packedQ4_Kx1AVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_Kx1wAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_0x1AVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_0x1wAVX2(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

// The 16-bit kernels per type: one token (and on four strips at once for Q4_0 and Q8_0), eight of a group.
var (
	packed16Q4_0 = packedKernels{packedQ4_0x1w, packedQ4_0x1s4w, nil, packedQ4_0x8w, false}
	packed16Q8_0 = packedKernels{packedQ8_0x1w, packedQ8_0x1s4w, nil, packedQ8_0x8w, false}
	packed16Q4_K = packedKernels{packedQ4_Kx1w, nil, nil, packedQ4_Kx8w, false}
	packed16Q6_K = packedKernels{packedQ6_Kx1w, nil, nil, packedQ6_Kx8w, false}
)

// packedKernel16 is packedKernel16Go in assembly: one token alone (stride 1), or the eight of a group
// (stride gemmT).
func packedKernel16(t gguf.Type, strips []byte, ns, cols int, q []uint32, ad []float32, start []int32, as []float32, tokens, stride int, out []float32, ostride int) {
	if k := packedTable(t, true); !usePacked || k.codes || !k.has(tokens) {
		packedKernel16Go(t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
		return
	}
	runPacked(packedTable(t, true), 2, t, strips, ns, cols, q, ad, start, as, tokens, stride, out, ostride)
}

//go:noescape
func packedQ4_0x8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ6_Kx8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ4_Kx8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func packedQ8_0x8w(w *byte, units int, q *uint32, ad *float32, start *int32, as *float32, out *float32, ostride int)

//go:noescape
func unpackPackedQ4_0AVX512(src *byte, pairs int, q *uint32, s, o *float32, next *byte)

//go:noescape
func unpackPackedQ4_KAVX512(src *byte, units int, q *uint32, s, o *float32, next *byte)

// unpackPackedFast is unpackPacked in assembly: Q4_0, Q8_0 and Q4_K with AVX-512 or AVX2 alone, Q6_K in
// AVX2 on both. src is the strip, next the one after it (or src again), which the AVX-512 unpackers
// prefetch.
func unpackPackedFast(t gguf.Type, src, next []byte, cols int, st *strip) bool {
	if !usePacked {
		return false
	}
	units := cols / packUnitValues(t)
	n := units * packUnitBytes(t)
	_, _, _, _, _ = src[n-1], next[n-1], st.q[cols/4*gemmRows-1], st.s[cols/32*gemmRows-1], st.o[cols/32*gemmRows-1]
	switch {
	case t == gguf.TypeQ6_K: // AVX2, with AVX-512 too
		_ = st.s[cols/16*gemmRows-1]
		unpackPackedQ6_KAVX2(&src[0], units, &st.q[0], &st.s[0], &st.o[0])
		return true
	case useVNNI:
	case t == gguf.TypeQ4_0:
		unpackPackedQ4_0AVX2(&src[0], units, &st.q[0], &st.s[0], &st.o[0])
		return true
	case t == gguf.TypeQ8_0:
		unpackPackedQ8_0AVX2(&src[0], units, &st.q[0], &st.s[0], &st.o[0])
		return true
	case t == gguf.TypeQ4_K:
		unpackPackedQ4_KAVX2(&src[0], units, &st.q[0], &st.s[0], &st.o[0])
		return true
	default:
		return false
	}
	switch t {
	case gguf.TypeQ4_0:
		unpackPackedQ4_0AVX512(&src[0], units, &st.q[0], &st.s[0], &st.o[0], &next[0])
	case gguf.TypeQ8_0:
		unpackPackedQ8_0AVX512(&src[0], units, &st.q[0], &st.s[0], &st.o[0], &next[0])
	case gguf.TypeQ4_K:
		unpackPackedQ4_KAVX512(&src[0], units, &st.q[0], &st.s[0], &st.o[0], &next[0])
	default:
		return false
	}
	return true
}
