//go:build cudaemu && !cuda

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestMatVecMemoryAccess measures, on the emulator, how the one-token matrix products touch memory: L1
// wavefronts (distinct 128-byte lines per warp load instruction) per KiB of weights streamed, for each
// layout and rows per warp. It checks what the kernel design claims — the coalesced Q4_0/Q8_0 layout and
// more rows per warp cost fewer wavefronts per weight byte — and logs the table (go test -v) that
// bench/RESULTS.md quotes. It says nothing of time: the emulator has no timing model.
func TestMatVecMemoryAccess(t *testing.T) {
	b, err := New(0)
	require.NoError(t, err)
	defer b.Close()
	const rows, cols = 256, 4096
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	xb, err := b.Alloc(cols)
	require.NoError(t, err)
	require.NoError(t, engine.Write(b, xb, x))
	dst, err := b.Alloc(rows)
	require.NoError(t, err)
	wavefronts := map[string]float64{}
	t.Logf("| type | layout | rows/warp | load instructions | L1 wavefronts per KiB of weights | bytes loaded per weight byte |")
	t.Logf("|---|---|---|---|---|---|")
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		vals := make([]float32, rows*cols)
		for i := range vals {
			vals[i] = float32(r.NormFloat64())
		}
		data := make([]byte, typ.RowBytes(cols)*rows)
		require.NoError(t, gguf.Quantize(typ, vals, data))
		w, err := b.LoadWeight("w", typ, rows, cols, data)
		require.NoError(t, err)
		for _, blocks := range []bool{true, false} {
			if !blocks && !coalescedType(typ) {
				continue
			}
			for _, rpw := range []int{1, 2, 4} {
				b.blocks, b.rows = blocks, rpw
				p, err := profileLoads(func() error { return b.MatMul(dst, w, xb, 1) })
				require.NoError(t, err)
				layout := "coalesced"
				if blocks {
					layout = "per block"
				}
				perKiB := float64(p.lines) / (float64(len(data)) / 1024)
				wavefronts[fmt.Sprintf("%s/%s/%d", typ, layout, rpw)] = perKiB
				t.Logf("| %s | %s | %d | %d | %.1f | %.2f |", typ, layout, rpw, p.instructions, perKiB, float64(p.bytes)/float64(len(data)))
			}
		}
	}
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		blocks1 := wavefronts[fmt.Sprintf("%s/per block/1", typ)]
		for _, rpw := range []int{1, 2, 4} {
			c := wavefronts[fmt.Sprintf("%s/coalesced/%d", typ, rpw)]
			require.Less(t, c, blocks1/2, "%s: the coalesced layout with %d rows per warp should take under half the wavefronts of the per-block one", typ, rpw)
		}
		require.Less(t, wavefronts[fmt.Sprintf("%s/per block/4", typ)], blocks1, "%s: rows per warp should share the activations", typ)
	}
}
