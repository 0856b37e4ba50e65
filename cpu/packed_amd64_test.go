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
