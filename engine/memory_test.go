package engine

import (
	"testing"

	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

func TestPlanMemory(t *testing.T) {
	f, m := synthModel(t, synth.Options{Type: "Q8_0", Vocab: 300, Layers: 4, Seed: 2})
	p := PlanMemory(f, m.Config, 128, 16)
	var weights int64
	for _, ti := range f.Tensors {
		weights += int64(ti.Size)
	}
	var layers int64
	for _, w := range p.LayerWeights {
		require.Positive(t, w)
		layers += w
	}
	require.Equal(t, weights, layers+p.OtherWeights)
	require.Equal(t, int64(2*128*2*64*4), p.LayerKV) // 2 KV heads of 64, keys and values, float32
	require.NoError(t, p.CheckFits(p.Total(), "test"))
	err := p.CheckFits(p.Fits(2)+1, "test")
	require.ErrorContains(t, err, "--gpu-layers 2 would fit (the other 2 layers then run on the CPU)")
	require.ErrorContains(t, p.CheckFits(1, "test"), "use --backend cpu")
}
