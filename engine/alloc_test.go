package engine

import (
	"testing"

	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// TestNoPerOpAllocation: decoding a token on the CPU backend allocates nothing per operation — the count
// is the same for 2 and 6 layers (what remains is per call: the logits handed back).
func TestNoPerOpAllocation(t *testing.T) {
	for _, typ := range []string{"Q4_0", "Q8_0", "Q4_K_M", "F16"} {
		var counts []float64
		for _, layers := range []int{2, 6} {
			_, m := synthModel(t, synth.Options{Type: typ, Vocab: 300, Layers: layers, Heads: 4, KVHeads: 2, Seed: 7})
			s, err := m.NewSession(64, 16)
			require.NoError(t, err)
			_, err = s.Eval([]int32{1, 2, 3}, false)
			require.NoError(t, err)
			counts = append(counts, testing.AllocsPerRun(20, func() { _, _ = s.Eval([]int32{5}, false) }))
		}
		t.Logf("%s: %v allocations per decoded token (2 and 6 layers)", typ, counts)
		require.Equal(t, counts[0], counts[1], "%s: allocations grow with the layers", typ)
	}
}
