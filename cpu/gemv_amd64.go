//go:build amd64 && !noasm

package cpu

import "github.com/llamago/llamago/gguf"

//go:noescape
func gemvQ4_0x8VNNI(w *byte, stride int, a *uint32, d *float32, nb int, tab *float32, buf *int16, out *float32)

//go:noescape
func gemvQ4_0x16VNNI(w *byte, stride int, a0, a1 *uint32, d0, d1 *float32, nb int, tab *float32, buf *int16, out *float32)

// gemv16 is gemv8 for two groups of tokens (q0/d0 and q1/d1) into out[row·16 + token].
func gemv16(w []byte, stride int, q0, q1 []uint32, d0, d1 []float32, nb int, buf *[2 * gemvRows * 32]int16, out *[gemvRows * 2 * gemmT]float32) {
	_, _, _ = w[(gemvRows-1)*stride+nb*18-1], q0[nb*16*gemmT-1], d0[nb*gemmT-1]
	_, _ = q1[nb*16*gemmT-1], d1[nb*gemmT-1]
	gemvQ4_0x16VNNI(&w[0], stride, &q0[0], &q1[0], &d0[0], &d1[0], nb, &f16[0], &buf[0], &out[0])
}

//go:noescape
func gemvQ4_Kx8VNNI(w *byte, stride int, a *uint32, d, s *float32, nsb int, sc, mn *float32, buf *int16, out *float32)

//go:noescape
func gemvQ4_Kx16VNNI(w *byte, stride int, a0, a1 *uint32, d0, d1, s0, s1 *float32, nsb int, sc, mn *float32, buf *int16, out *float32)

// gemvK8 is gemv8 for Q4_K rows (nsb super-blocks), with their sub-blocks' d·sc and dmin·m in sc and mn
// ([sub-block][8 rows]) and the tokens' −d_x·Σq per block in s.
func gemvK8(w []byte, stride int, q []uint32, d, s []float32, nsb int, sc, mn []float32, buf *[2 * gemvRows * 32]int16, out *[gemvRows * gemmT]float32) {
	nb := nsb * 8
	_, _, _, _ = w[(gemvRows-1)*stride+nsb*144-1], q[nb*16*gemmT-1], d[nb*gemmT-1], s[nb*gemmT-1]
	_, _ = sc[nb*gemvRows-1], mn[nb*gemvRows-1]
	gemvQ4_Kx8VNNI(&w[0], stride, &q[0], &d[0], &s[0], nsb, &sc[0], &mn[0], &buf[0], &out[0])
}

// gemvK16 is gemvK8 for two groups of tokens.
func gemvK16(w []byte, stride int, q0, q1 []uint32, d0, d1, s0, s1 []float32, nsb int, sc, mn []float32, buf *[2 * gemvRows * 32]int16, out *[gemvRows * 2 * gemmT]float32) {
	nb := nsb * 8
	_, _, _, _ = w[(gemvRows-1)*stride+nsb*144-1], q0[nb*16*gemmT-1], d0[nb*gemmT-1], s0[nb*gemmT-1]
	_, _, _ = q1[nb*16*gemmT-1], d1[nb*gemmT-1], s1[nb*gemmT-1]
	_, _ = sc[nb*gemvRows-1], mn[nb*gemvRows-1]
	gemvQ4_Kx16VNNI(&w[0], stride, &q0[0], &q1[0], &d0[0], &d1[0], &s0[0], &s1[0], nsb, &sc[0], &mn[0], &buf[0], &out[0])
}

//go:noescape
func gemvQ6_Kx8VNNI(w *byte, stride int, a *uint32, d *float32, nsb int, sc *float32, buf *int16, out *float32)

//go:noescape
func gemvQ6_Kx16VNNI(w *byte, stride int, a0, a1 *uint32, d0, d1 *float32, nsb int, sc *float32, buf *int16, out *float32)

// gemvQ6K8 is gemv8 for Q6_K rows (nsb super-blocks), with their sub-blocks' d·sc in sc ([sub-block][8 rows]).
func gemvQ6K8(w []byte, stride int, q []uint32, d []float32, nsb int, sc []float32, buf *[2 * gemvRows * 32]int16, out *[gemvRows * gemmT]float32) {
	nb := nsb * 8
	_, _, _, _ = w[(gemvRows-1)*stride+nsb*210-1], q[nb*16*gemmT-1], d[nb*gemmT-1], sc[2*nb*gemvRows-1]
	gemvQ6_Kx8VNNI(&w[0], stride, &q[0], &d[0], nsb, &sc[0], &buf[0], &out[0])
}

// gemvQ6K16 is gemvQ6K8 for two groups of tokens.
func gemvQ6K16(w []byte, stride int, q0, q1 []uint32, d0, d1 []float32, nsb int, sc []float32, buf *[2 * gemvRows * 32]int16, out *[gemvRows * 2 * gemmT]float32) {
	nb := nsb * 8
	_, _, _, _ = w[(gemvRows-1)*stride+nsb*210-1], q0[nb*16*gemmT-1], d0[nb*gemmT-1], sc[2*nb*gemvRows-1]
	_, _ = q1[nb*16*gemmT-1], d1[nb*gemmT-1]
	gemvQ6_Kx16VNNI(&w[0], stride, &q0[0], &q1[0], &d0[0], &d1[0], nsb, &sc[0], &buf[0], &out[0])
}

//go:noescape
func gemvQ8_0x8VNNI(w *byte, stride int, a *uint32, d *float32, nb int, tab *float32, buf *int16, out *float32)

//go:noescape
func gemvQ8_0x16VNNI(w *byte, stride int, a0, a1 *uint32, d0, d1 *float32, nb int, tab *float32, buf *int16, out *float32)

// gemvQ8 is gemv8 for Q8_0 rows.
func gemvQ8(w []byte, stride int, q []uint32, d []float32, nb int, buf *[2 * gemvRows * 32]int16, out *[gemvRows * gemmT]float32) {
	_, _, _ = w[(gemvRows-1)*stride+nb*34-1], q[nb*16*gemmT-1], d[nb*gemmT-1]
	gemvQ8_0x8VNNI(&w[0], stride, &q[0], &d[0], nb, &f16[0], &buf[0], &out[0])
}

// gemvQ8x16 is gemvQ8 for two groups of tokens.
func gemvQ8x16(w []byte, stride int, q0, q1 []uint32, d0, d1 []float32, nb int, buf *[2 * gemvRows * 32]int16, out *[gemvRows * 2 * gemmT]float32) {
	_, _, _ = w[(gemvRows-1)*stride+nb*34-1], q0[nb*16*gemmT-1], d0[nb*gemmT-1]
	_, _ = q1[nb*16*gemmT-1], d1[nb*gemmT-1]
	gemvQ8_0x16VNNI(&w[0], stride, &q0[0], &q1[0], &d0[0], &d1[0], nb, &f16[0], &buf[0], &out[0])
}

// canGemv reports whether MatMul takes the few-token path for n tokens of weight type t with rows rows.
func canGemv(t gguf.Type, n, rows int) bool {
	return useVNNI && (t == gguf.TypeQ4_0 || t == gguf.TypeQ8_0 || t == gguf.TypeQ4_K || t == gguf.TypeQ6_K) && n >= gemvMinTokens && n <= gemvMaxTokens && rows%gemvRows == 0
}

// gemv8 runs eight rows (w, stride bytes apart, nb Q4_0 blocks each) against a group of act16 tokens
// (q: its pairs, d: its block scales) into out[row·8 + token].
func gemv8(w []byte, stride int, q []uint32, d []float32, nb int, buf *[2 * gemvRows * 32]int16, out *[gemvRows * gemmT]float32) {
	_, _, _ = w[(gemvRows-1)*stride+nb*18-1], q[nb*16*gemmT-1], d[nb*gemmT-1]
	gemvQ4_0x8VNNI(&w[0], stride, &q[0], &d[0], nb, &f16[0], &buf[0], &out[0])
}
