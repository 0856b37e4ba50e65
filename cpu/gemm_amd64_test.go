//go:build amd64 && !noasm

package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// gemmAVX2Impl is the AVX2 tile path, which TestGemm checks even on CPUs that take the AVX-512 one
// (without AVX2 it falls back to the portable loops).
func gemmAVX2Impl() gemmImpl {
	if !useAVX2 {
		return gemmImpl{widenGo, gemmKernelGo, nil, nil}
	}
	return gemmAVX2
}

// TestUnpackQ4_0Fast: the AVX-512 strip unpacker writes what the Go one does (values, scales, offsets),
// for whole strips at the start, middle and end of a matrix.
func TestUnpackQ4_0Fast(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	rows, cols := 48, 352
	w := &Weight{Type: gguf.TypeQ4_0, Rows: rows, Cols: cols, Data: quantRow(t, gguf.TypeQ4_0, randRow(r, rows*cols, 1))}
	var fast, ref strip
	fast.resize(cols)
	ref.resize(cols)
	if !useVNNI {
		t.Skip("no AVX-512 strip unpacker on this CPU")
	}
	for r0 := 0; r0 < rows; r0 += gemmRows {
		require.True(t, unpackQ4_0Fast(w, r0, &fast), "strip at row %d", r0)
		rb := w.RowBytes()
		for i := range gemmRows {
			unpackQ4_0(w.Data[(r0+i)*rb:(r0+i+1)*rb], cols, &ref, i)
		}
		require.Equal(t, ref.q, fast.q, "strip at row %d: values", r0)
		require.Equal(t, ref.s[:cols/32*gemmRows], fast.s[:cols/32*gemmRows], "strip at row %d: scales", r0)
		require.Equal(t, ref.o[:cols/32*gemmRows], fast.o[:cols/32*gemmRows], "strip at row %d: offsets", r0)
	}
}

// TestUnpackQ4_KFast: the AVX-512 Q4_K strip unpacker writes what the Go one does (values, d·sc, dmin·m),
// for whole strips at the start, middle and end of a matrix, with every 6-bit scale and min pattern.
func TestUnpackQ4_KFast(t *testing.T) {
	if !useVNNI {
		t.Skip("no AVX-512 strip unpacker on this CPU")
	}
	r := rand.New(rand.NewPCG(11, 12))
	rows, cols := 48, 768
	w := &Weight{Type: gguf.TypeQ4_K, Rows: rows, Cols: cols, Data: make([]byte, rows*gguf.TypeQ4_K.RowBytes(cols))}
	for i := range w.Data { // random bytes: every scale/min bit pattern; keep d and dmin finite fp16
		w.Data[i] = byte(r.Uint32())
	}
	for b := 0; b < len(w.Data); b += 144 {
		w.Data[b+1] &= 0x3b
		w.Data[b+3] &= 0x3b
	}
	var fast, ref strip
	fast.resize(cols)
	ref.resize(cols)
	for r0 := 0; r0 < rows; r0 += gemmRows {
		require.True(t, unpackQ4_KFast(w, r0, &fast), "strip at row %d", r0)
		rb := w.RowBytes()
		for i := range gemmRows {
			unpackQ4_K(w.Data[(r0+i)*rb:(r0+i+1)*rb], cols, &ref, i)
		}
		require.Equal(t, ref.q, fast.q, "strip at row %d: values", r0)
		n := cols / 32 * gemmRows
		require.Equal(t, ref.s[:n], fast.s[:n], "strip at row %d: scales", r0)
		require.Equal(t, ref.o[:n], fast.o[:n], "strip at row %d: mins", r0)
	}
}

// TestQ4_0RowsMatchTiles: with 8-bit activations a Q4_0 row's product is the same float whether one token
// goes through the one-row kernels or a batch through the byte tile (the same integers, folded into floats
// in the same order), so a sequence's greedy tokens cannot depend on its batch.
func TestQ4_0RowsMatchTiles(t *testing.T) {
	if !useVNNI {
		t.Skip("no 8-bit kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(21, 22))
	p := NewPool(2)
	defer p.Close()
	require.NoError(t, p.SetActivationBits(8))
	rows, cols, n := 48, 2048, 8
	w := &Weight{Type: gguf.TypeQ4_0, Rows: rows, Cols: cols, Data: quantRow(t, gguf.TypeQ4_0, randRow(r, rows*cols, 1))}
	x := randRow(r, n*cols, 2)
	batch := make([]float32, n*rows)
	gemm(p, batch, w, quantizeActivations16(p, x, n, cols, rounding8_0, layAll), gemmFast)
	one := make([]float32, rows)
	for tok := 0; tok < n; tok++ {
		quantizeActivations(p, x[tok*cols:(tok+1)*cols], 1, cols, rounding8_0)
		matMulQ16Rows(p, one, w, 1)
		require.Equal(t, batch[tok*rows:(tok+1)*rows], one, "token %d", tok)
	}
}

// TestGemm8AVX2Extremes: the AVX2 8-bit tiles on the largest codes (Q4_0 and Q4_K nibbles of 15, Q6_K codes
// of 63) against activations of ±127, where their 16-bit sums come closest to overflowing (eight quads of
// 4-bit products: 30,480; two quads of Q6_K's: 32,004), give the floats of the 16-bit tile on the same
// 8-bit activations (the same integers, widened to words: nothing near a 16-bit limit).
func TestGemm8AVX2Extremes(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 tiles on this CPU")
	}
	p := NewPool(1)
	defer p.Close()
	require.NoError(t, p.SetActivationBits(8))
	const rows, cols, n = 32, 512, 2 * gemmT
	x := make([]float32, n*cols)
	for tok := range n {
		for c := range cols {
			x[tok*cols+c] = 1
			if tok%2 == 1 && c > 0 {
				x[tok*cols+c] = -1 // with the first value +1: Q8_K's codes +127, Q8_0's −127
			}
		}
	}
	wide := gemmImpl{gemmAVX2.widen, gemmAVX2.kernel, nil, nil}
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		require.True(t, gemmAVX2.has8(typ), "%s", typ)
		data := make([]byte, rows*typ.RowBytes(cols))
		for i := range data {
			data[i] = 0xFF // every code its largest
		}
		block, per := typ.RowBytes(typ.BlockSize()), typ.BlockSize()
		for b := 0; b < rows*cols/per; b++ {
			blk := data[b*block : (b+1)*block]
			switch typ {
			case gguf.TypeQ4_0:
				blk[0], blk[1] = 0x00, 0x3C // d = 1
			case gguf.TypeQ4_K:
				blk[0], blk[1], blk[2], blk[3] = 0x00, 0x3C, 0x00, 0x38 // d = 1, dmin = 0.5
				for i := 4; i < 16; i++ {
					blk[i] = 0x21 // scales and minimums of a few units
				}
			case gguf.TypeQ6_K:
				for i := 192; i < 208; i++ {
					blk[i] = 1 // scales
				}
				blk[208], blk[209] = 0x00, 0x3C // d = 1
			}
		}
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: data}
		a := quantizeActivations16(p, x, n, cols, p.rounding(typ), layAll)
		got, want := make([]float32, n*rows), make([]float32, n*rows)
		gemm(p, got, w, a, gemmAVX2)
		gemm(p, want, w, a, wide)
		require.Equal(t, want, got, "%s", typ)
		require.NotZero(t, want[0], "%s", typ)
	}
}
