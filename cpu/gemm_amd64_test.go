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
