package cpu

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

// Weight is a 2-D weight matrix in its GGUF layout: Rows rows of Cols elements, each row
// Type.RowBytes(Cols) bytes, rows back to back.
type Weight struct {
	Type       gguf.Type
	Rows, Cols int
	Data       []byte
	// Packed holds the rows again in a layout chosen at load for the packed kernels (see Pack), or nil.
	Packed []byte
}

// RowBytes is the size of one row.
func (w *Weight) RowBytes() int { return w.Type.RowBytes(w.Cols) }

// F32 views an F32 weight's bytes as float32 without copying (GGUF data is little-endian and aligned).
func (w *Weight) F32() []float32 {
	if len(w.Data) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&w.Data[0])), len(w.Data)/4)
}

// Check verifies the data length matches the shape and that the type can be computed with.
func (w *Weight) Check() error {
	if !w.Type.CanDequantize() {
		var ok []string
		for _, t := range gguf.Types() {
			if t.CanDequantize() && t != gguf.TypeQ8_K && (t.IsQuantized() || t == gguf.TypeF32 || t == gguf.TypeF16 || t == gguf.TypeBF16) {
				ok = append(ok, t.String())
			}
		}
		return fmt.Errorf("llamago cannot compute with %s weights yet (it can with %s): convert the model from its F16 original with llamago quantize",
			w.Type, strings.Join(ok, ", "))
	}
	if w.Cols%w.Type.BlockSize() != 0 {
		return fmt.Errorf("row length %d is not a multiple of the %s block size", w.Cols, w.Type)
	}
	if want := w.Rows * w.RowBytes(); len(w.Data) != want {
		return fmt.Errorf("%d×%d %s needs %d bytes, have %d", w.Rows, w.Cols, w.Type, want, len(w.Data))
	}
	return nil
}

// Row dequantizes row r into dst[:Cols].
func (w *Weight) Row(r int, dst []float32) {
	rb := w.RowBytes()
	if w.Type == gguf.TypeF32 {
		copy(dst[:w.Cols], w.F32()[r*w.Cols:(r+1)*w.Cols])
		return
	}
	if widenRow(w.Type, w.Data[r*rb:(r+1)*rb], dst[:w.Cols]) {
		return
	}
	// The shape was checked at load time, so this cannot fail.
	_ = gguf.Dequantize(w.Type, w.Data[r*rb:(r+1)*rb], dst[:w.Cols])
}

// MatMul computes dst[t][r] = Σ_c w[r][c] · x[t][c] for n tokens: x is [n][Cols], dst is [n][Rows]. The
// weights are read once per call whatever n is: prompt-sized batches in register tiles (gemm.go, gemmf.go),
// few tokens row by row — integer kernels on 16-bit activations for Q4_0/Q8_0/Q4_K/Q6_K (quant.go), float
// dot products on the dequantized row for the other types — and a packed weight (Weight.Pack) through the
// packed kernels (packed.go): any n with 8-bit activations; at 16 bits fewer than 8 tokens one at a time,
// more in the tiles on strips unpacked from the packed rows.
func MatMul(p *Pool, dst []float32, w *Weight, x []float32, n int) {
	MatMuls(p, [][]float32{dst}, []*Weight{w}, x, n)
}

// matMulFloat is MatMul for types without integer kernels.
func matMulFloat(p *Pool, dst []float32, w *Weight, x []float32, n int) {
	if canGemmFloat(w.Type, n) {
		gemmFloat(p, dst, w, transposeActivations(p, x, n, w.Cols), gemmFFast)
		return
	}
	p.tasks.rows = rowsTask{p: p, dst: dst, w: w, x: x, n: n}
	p.For(w.Rows, 4, p.tasks.rowsFn)
}

// rowsTask is MatMul for float weights and types without integer kernels, few tokens: each row (read in
// place for F32, else dequantized once into the worker's scratch) against every token.
type rowsTask struct {
	p   *Pool
	dst []float32
	w   *Weight
	x   []float32
	n   int
}

func (a *rowsTask) run(lo, hi, worker int) {
	dst, w, x, n := a.dst, a.w, a.x, a.n
	cols, rows := w.Cols, w.Rows
	var wf []float32
	if w.Type == gguf.TypeF32 {
		wf = w.F32()
	}
	buf := a.p.Scratch(worker, cols)
	for r := lo; r < hi; r++ {
		row := buf
		if wf != nil {
			row = wf[r*cols : (r+1)*cols]
		} else {
			w.Row(r, buf)
		}
		for t := 0; t < n; t++ {
			dst[t*rows+r] = Dot(row, x[t*cols:(t+1)*cols])
		}
	}
}

// MatMuls computes MatMul(dsts[i], ws[i], x, n) for every i, rounding x to integers once for all the
// weights that use the integer path (once per rounding, with 8-bit activations: weights of different
// families round them differently), in the layouts all of those weights' kernels read.
func MatMuls(p *Pool, dsts [][]float32, ws []*Weight, x []float32, n int) {
	var a16 *act16            // the activations of the act16 paths, once rounded
	var a16Rnd, qRnd rounding // how a16 and the row kernels' activations were rounded
	quantized := false        // the row kernels' activations, once rounded
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		rnd := p.rounding(w.Type)
		r := p.route(w, rnd, n)
		switch r {
		case routeFloat:
			matMulFloat(p, dsts[i], w, x, n)
			continue
		case routeRows:
			if !quantized || qRnd != rnd {
				quantizeActivations(p, x, n, w.Cols, rnd)
				quantized, qRnd = true, rnd
			}
			matMulQ16Rows(p, dsts[i], w, n)
			continue
		}
		if a16 == nil || a16Rnd != rnd {
			var want layout // what this weight and the later ones of this rounding read
			for _, v := range ws[i:] {
				if p.rounding(v.Type) == rnd {
					want |= p.route(v, rnd, n).layouts(n, rnd != rounding16, v.Type)
				}
			}
			a16, a16Rnd = quantizeActivations16(p, x, n, w.Cols, rnd, want), rnd
		}
		switch r {
		case routePacked: // with the packed weights of the same rounding that follow it, in one loop
			j := i + 1
			for j < len(ws) && j-i < maxPackedMats && ws[j].Cols == w.Cols && p.rounding(ws[j].Type) == rnd && p.route(ws[j], rnd, n) == routePacked {
				j++
			}
			matMulPacked(p, dsts[i:j], ws[i:j], a16)
			i = j - 1
		case routeGemv:
			gemv(p, dsts[i], w, a16, n)
		default:
			gemm(p, dsts[i], w, a16, gemmFast)
		}
	}
}

// route is the kernel family that takes a product.
type route uint8

const (
	routePacked route = iota // the packed kernels (packed.go)
	routeGemm                // the prompt tiles (gemm.go)
	routeGemv                // the few-token kernels (gemv.go)
	routeRows                // the one-row kernels, token by token (quant.go)
	routeFloat               // float dot products (types without integer kernels)
)

// route chooses the kernels for n tokens against w with activations rounded by rnd.
func (p *Pool) route(w *Weight, rnd rounding, n int) route {
	tiles, minTiles := tilesFirst(w.Type, rnd)
	switch {
	case w.Packed != nil && packedTokens(w.Type, n, rnd != rounding16):
		return routePacked
	case w.Packed != nil: // more tokens in the tiles, on strips unpacked from the packed rows
		return routeGemm
	case !hasQ16Dot(w.Type):
		return routeFloat
	case rowsFirst(w.Type, rnd, n):
		return routeRows
	case canGemv(w.Type, n, w.Rows) && !tiles:
		return routeGemv
	case canGemm(w.Type, n) || (tiles && n >= minTiles):
		return routeGemm
	default:
		return routeRows
	}
}

// layouts is what r's kernels read of n tokens' activations (act16) for weights of type t.
func (r route) layouts(n int, narrow bool, t gguf.Type) layout {
	switch r {
	case routePacked:
		return packedLayouts(t, n, narrow)
	case routeGemm:
		return gemmLayouts(narrow, gemmFast, t)
	case routeGemv:
		return layTiles
	}
	return 0
}

// tilesFirst reports whether few-token products of type t take the prompt tiles rather than the few-token
// kernels, and from how many tokens: Q4_0 and Q4_K, whose strips AVX-512 unpackers make. At 16 bits from
// gemvMinTokens on (BenchmarkGemvStream, 8 tokens, ns per 8-row block, gemv → tiles: Q4_0 62 → 47, Q4_K
// 94 → 56; 16 tokens: Q4_0 72 → 72, Q4_K 102 → 83); at 8 bits, where the tile multiplies bytes and the
// few-token kernels would still be 16-bit, from 3 on (Q4_0 61 → 30, Q4_K 111 → 35 at 8 tokens), fewer
// taking the one-row 8-bit kernels token by token.
func tilesFirst(t gguf.Type, rnd rounding) (bool, int) {
	if (t != gguf.TypeQ4_0 && t != gguf.TypeQ4_K) || !useVNNI {
		return false, 0
	}
	if rnd != rounding16 {
		return true, 3
	}
	return true, gemvMinTokens
}

// rowsFirst reports whether n tokens of type t with activations rounded by rnd take the one-row kernels
// token by token rather than the few-token ones: Q6_K on 8-bit activations up to 12 tokens, where its
// 8-bit one-row kernel (1.1 ns per 32 values) beats the 16-bit few-token kernel (BenchmarkGemvStream, 8
// tokens: 92 against 143 ns per 8-row block; 16 tokens: 189 against 155).
func rowsFirst(t gguf.Type, rnd rounding, n int) bool {
	return rnd != rounding16 && t == gguf.TypeQ6_K && n <= 12 && useVNNI
}

// rounding is how the pool rounds activations for weights of type t: 16 bits, or with 8-bit activations
// llama.cpp's vec_dot_type for t (Q8_K for the k-quants, Q8_0 for the others).
func (p *Pool) rounding(t gguf.Type) rounding {
	switch {
	case p.actBits != 8:
		return rounding16
	case t == gguf.TypeQ4_K || t == gguf.TypeQ6_K:
		return rounding8_K
	default:
		return rounding8_0
	}
}

// rowTile is how many weight rows matMulQ16Rows keeps hot while it walks the tokens; the workers take
// ranges of whole tiles (ForChunks), so that one slowed down does not hold the others up.
const rowTile = 16

// quantizeActivations rounds n rows of cols values into the pool's activation buffer, as rnd says.
func quantizeActivations(p *Pool, x []float32, n, cols int, rnd rounding) {
	p.tasks.quant = quantTask{x: x, xq: p.q16(n, cols), cols: cols, rnd: rnd}
	p.For(n, 1, p.tasks.quantFn)
}

type quantTask struct {
	x    []float32
	xq   []Q16Row
	cols int
	rnd  rounding
}

func (a *quantTask) run(lo, hi, _ int) {
	for t := lo; t < hi; t++ {
		a.rnd.quantize(a.x[t*a.cols:(t+1)*a.cols], &a.xq[t])
	}
}

// matMulQ16Rows multiplies the weights, tiles of rowTile rows against every token (so weights stream from
// memory once and each tile stays in cache), with the activations quantizeActivations left in the pool.
func matMulQ16Rows(p *Pool, dst []float32, w *Weight, n int) {
	p.tasks.q16 = q16Task{dst: dst, w: w, xq: p.qrows[:n], n: n}
	p.ForChunks(w.Rows, rowTile, p.tasks.q16Fn) // whole tiles
}

type q16Task struct {
	dst []float32
	w   *Weight
	xq  []Q16Row
	n   int
}

func (a *q16Task) run(lo, hi, _ int) {
	dst, w, xq, n := a.dst, a.w, a.xq, a.n
	cols, rows, rb, nb := w.Cols, w.Rows, w.RowBytes(), w.Cols/32
	dot := DotQ4_0Q16
	switch w.Type {
	case gguf.TypeQ8_0:
		dot = DotQ8_0Q16
	case gguf.TypeQ4_K:
		dot, nb = DotQ4_KQ16, cols/gguf.QK_K
	case gguf.TypeQ6_K:
		dot, nb = DotQ6_KQ16, cols/gguf.QK_K
	}
	for r0 := lo; r0 < hi; r0 += rowTile {
		r1 := min(hi, r0+rowTile)
		var four [4]float32
		var two [2]float32
		t := 0
		// Pairs of tokens (prompt processing), k-quants: one row × two tokens per pass.
		for ; t+2 <= n && dot1x2(w.Type, w.Data[r0*rb:(r0+1)*rb], &xq[t], &xq[t+1], nb, &two); t += 2 {
			outA, outB := dst[t*rows:(t+1)*rows], dst[(t+1)*rows:(t+2)*rows]
			outA[r0], outB[r0] = two[0], two[1]
			for r := r0 + 1; r < r1; r++ {
				dot1x2(w.Type, w.Data[r*rb:(r+1)*rb], &xq[t], &xq[t+1], nb, &two)
				outA[r], outB[r] = two[0], two[1]
			}
		}
		// Pairs of tokens, Q4_0/Q8_0: two rows × two tokens per pass.
		for ; t+2 <= n && r1-r0 >= 2 && dot2x2(w.Type, w.Data[r0*rb:(r0+2)*rb], rb, &xq[t], &xq[t+1], nb, &four); t += 2 {
			outA, outB := dst[t*rows:(t+1)*rows], dst[(t+1)*rows:(t+2)*rows]
			outA[r0], outB[r0], outA[r0+1], outB[r0+1] = four[0], four[1], four[2], four[3]
			r := r0 + 2
			for ; r+2 <= r1; r += 2 {
				dot2x2(w.Type, w.Data[r*rb:(r+2)*rb], rb, &xq[t], &xq[t+1], nb, &four)
				outA[r], outB[r], outA[r+1], outB[r+1] = four[0], four[1], four[2], four[3]
			}
			for ; r < r1; r++ {
				outA[r] = dot(w.Data[r*rb:(r+1)*rb], &xq[t], nb)
				outB[r] = dot(w.Data[r*rb:(r+1)*rb], &xq[t+1], nb)
			}
		}
		for ; t < n; t++ {
			xt := &xq[t]
			out := dst[t*rows : (t+1)*rows]
			r := r0
			var eight [8]float32
			for ; r+8 <= r1 && dot8(w.Type, w.Data[r*rb:(r+8)*rb], rb, xt, nb, &eight); r += 8 {
				copy(out[r:r+8], eight[:])
			}
			for ; r+4 <= r1 && dot4(w.Type, w.Data[r*rb:(r+4)*rb], rb, xt, nb, &four); r += 4 {
				copy(out[r:r+4], four[:])
			}
			for ; r < r1; r++ {
				out[r] = dot(w.Data[r*rb:(r+1)*rb], xt, nb)
			}
		}
	}
}
