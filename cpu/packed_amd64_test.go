//go:build amd64 && !noasm

package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestPackedSideBySide calls the one-token kernels on four strips side by side (x1s4, the choice on Intel)
// and one strip at a time (x1, the choice on AMD) directly, whichever sideBySide this CPU chose, and
// requires the same bits from both: a sequence decodes to the same logits on either CPU kind.
func TestPackedSideBySide(t *testing.T) {
	if !useVNNI {
		t.Skip("no four-strip kernels on this CPU (they need AVX-512 VNNI)")
	}
	r := rand.New(rand.NewPCG(51, 52))
	p := NewPool(1)
	defer p.Close()
	const rows, cols = 4 * packRows, 512
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		for _, bits := range []int{8, 16} {
			t.Run(fmt.Sprintf("%s/bits=%d", typ, bits), func(t *testing.T) {
				w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
				packed, stripBytes := pack(w), packStripBytes(w)
				k, q, rnd := packedTable(typ, bits == 16), []uint32(nil), rounding8_0
				if bits == 16 {
					rnd = rounding16
				}
				a := quantizeActivations16(p, randRow(r, cols, 2), 1, cols, rnd, layAll)
				q = a.q8c
				if bits == 16 {
					q = a.q16c
				}
				require.NotNil(t, k.x1s4)
				units := cols / packUnitValues(typ)
				side, alone := make([]float32, rows), make([]float32, rows)
				k.x1s4(&packed[0], units, &q[0], &a.d32c[0], &a.startc[0], &a.s32c[0], &side[0], stripBytes)
				for s := range rows / packRows {
					k.x1(&packed[s*stripBytes], units, &q[0], &a.d32c[0], &a.startc[0], &a.s32c[0], &alone[s*packRows], 4*rows)
				}
				require.Equal(t, alone, side)
				require.NotEqual(t, make([]float32, rows), side) // the kernels wrote something
			})
		}
	}
}

// TestPackedCodesExtremes runs the kernel that reads the tokens' 16-bit codes (Q8_0 with AVX2 alone) on
// the largest products it can meet — weights −128 and 127 (u = 0 and 255), codes ±q16Max at 16 bits and
// ±127 at 8, alone and mixed — and requires the portable loop's bits: its int32 sums must neither
// saturate nor overflow.
func TestPackedCodesExtremes(t *testing.T) {
	if !packedCodes(gguf.TypeQ8_0, true) {
		t.Skip("no kernel reads the codes on this CPU (AVX2 without AVX-512 VNNI has one)")
	}
	p := NewPool(1)
	defer p.Close()
	const rows, cols = 2 * packRows, 256
	weights := map[string]func(r, c int) int8{
		"max":   func(r, c int) int8 { return 127 },
		"min":   func(r, c int) int8 { return -128 },
		"mixed": func(r, c int) int8 { return [2]int8{-128, 127}[(r+c/3)%2] },
	}
	codes := map[string]func(c int) float32{
		"plus":  func(c int) float32 { return 1 },
		"minus": func(c int) float32 { return -1 },
		"mixed": func(c int) float32 { return [2]float32{1, -1}[(c/5)%2] },
	}
	for wn, wf := range weights {
		data := make([]byte, 0, rows*cols/32*34)
		for r := range rows {
			for b := range cols / 32 {
				data = append(data, 0x00, 0x3C) // d = 1.0 in fp16
				for c := range 32 {
					data = append(data, byte(wf(r, 32*b+c)))
				}
			}
		}
		w := &Weight{Type: gguf.TypeQ8_0, Rows: rows, Cols: cols, Data: data}
		packed := pack(w)
		for cn, cf := range codes {
			x := make([]float32, cols)
			for c := range x {
				x[c] = cf(c)
			}
			for _, bits := range []int{8, 16} {
				rnd, goLoop := rounding8_0, packedKernelGo
				if bits == 16 {
					rnd, goLoop = rounding16, packedKernel16Go
				}
				a := quantizeActivations16(p, x, 1, cols, rnd, layAll)
				q := a.q8c
				if bits == 16 {
					q = a.q16c
					require.Equal(t, int16(q16Max), max(a.tq[0], -a.tq[0]), "the codes reach q16Max")
				}
				want, got := make([]float32, rows), make([]float32, rows)
				goLoop(gguf.TypeQ8_0, packed, rows/packRows, cols, q, a.d32c, a.startc, a.s32c, 1, 1, want, rows)
				packedKernelCodes(gguf.TypeQ8_0, bits == 16, packed, rows/packRows, cols, a.tq, a.d32c, a.startc, a.s32c, got, rows)
				require.Equal(t, want, got, "weights %s, codes %s, %d bits", wn, cn, bits)
				require.NotEqual(t, make([]float32, rows), got)
			}
		}
	}
}
