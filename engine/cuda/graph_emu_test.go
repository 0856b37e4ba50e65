//go:build cudaemu && !cuda

package cuda

import (
	"errors"
	"slices"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/stretchr/testify/require"
)

// TestGraphsRefused: a driver that refuses to make graphs turns them off for the backend, and the pass that
// asked, and every one after it, goes kernel by kernel with the logits it would have had.
func TestGraphsRefused(t *testing.T) {
	f := tinyModel(t, 2, 13)
	logits := func(refuse bool) ([]float32, GraphStats, error) {
		b := openGPU(t)
		defer b.Close()
		if refuse {
			emuGraphFail = errors.New("CUDA_ERROR_NOT_SUPPORTED (simulated)")
			defer func() { emuGraphFail = nil }()
		}
		m, err := engine.Load(f, b)
		require.NoError(t, err)
		s, err := m.NewSession(64, 16)
		require.NoError(t, err)
		defer s.Close()
		var all []float32
		for i := range 6 {
			out, err := s.Eval([]int32{int32(3 + i)}, false)
			require.NoError(t, err)
			all = append(all, out...)
		}
		st, failed := b.GraphStats()
		return all, st, failed
	}
	want, st, failed := logits(false)
	require.NoError(t, failed)
	require.Positive(t, st.Launched)
	got, st, failed := logits(true)
	require.ErrorContains(t, failed, "simulated")
	b := &Backend{name: "cuda:9 test"}
	b.graphs.stats, b.graphs.failed = st, failed
	require.Contains(t, b.Report(), "graphs turned off: CUDA_ERROR_NOT_SUPPORTED (simulated)", "what bench prints (engine.Reporter)")
	require.Zero(t, st.Launched)
	require.True(t, slices.Equal(want, got), "logits after the driver refused graphs")
}
