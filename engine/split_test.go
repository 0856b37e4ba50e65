package engine

import (
	"testing"

	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// TestSplitAcrossBackends: running the first n layers on one backend and the rest on another (as partial
// GPU offload does) gives the same logits as one backend, for every split point, with tied embeddings too,
// and attention capture still sees every layer.
func TestSplitAcrossBackends(t *testing.T) {
	for _, tied := range []bool{false, true} {
		f, whole := synthModel(t, synth.Options{Type: "Q4_K", Vocab: 300, Layers: 3, Seed: 11, TiedEmbed: tied})
		tokens := []int32{1, 17, 42, 99, 250, 3}
		s, err := whole.NewSession(16, 4)
		require.NoError(t, err)
		want, err := s.Eval(tokens, true)
		require.NoError(t, err)
		for _, n := range []int{0, 1, 2} {
			a, b := NewCPU(1), NewCPU(2)
			m, err := LoadSplit(f, a, n, b)
			require.NoError(t, err)
			require.Len(t, m.backends, 2)
			s, err := m.NewSession(16, 4)
			require.NoError(t, err)
			c, err := s.StartCapture(CaptureSpec{}, len(tokens))
			require.NoError(t, err)
			got, err := s.Eval(tokens[:4], true)
			require.NoError(t, err)
			more, err := s.Eval(tokens[4:], true)
			require.NoError(t, err)
			require.Equal(t, want, append(got, more...), "tied=%v, %d layers on the first backend", tied, n)
			require.Equal(t, len(tokens), c.Positions())
			a.Close()
			b.Close()
		}
	}
}

// TestSplitInParts: LoadOptions.Parts spreads the layers over three backends (as several GPUs, then the
// CPU, do) with the logits of one backend, takes "the rest" from a last part of -1 layers, and refuses
// splits that do not add up to the model's layers.
func TestSplitInParts(t *testing.T) {
	f, whole := synthModel(t, synth.Options{Type: "Q8_0", Vocab: 300, Layers: 5, Seed: 12})
	tokens := []int32{1, 17, 42, 99, 250, 3}
	s, err := whole.NewSession(16, 4)
	require.NoError(t, err)
	want, err := s.Eval(tokens, true)
	require.NoError(t, err)
	for _, split := range [][]int{{2, 1, 2}, {1, 3, -1}, {0, 4, 1}, {5, 0, 0}} {
		bs := []*CPU{NewCPU(1), NewCPU(1), NewCPU(1)}
		var parts []Part
		for i, n := range split {
			parts = append(parts, Part{Backend: bs[i], Layers: n})
		}
		m, err := LoadWith(f, LoadOptions{Parts: parts})
		require.NoError(t, err, "%v", split)
		s, err := m.NewSession(16, 4)
		require.NoError(t, err)
		got, err := s.Eval(tokens, true)
		require.NoError(t, err)
		require.Equal(t, want, got, "split %v", split)
		for _, b := range bs {
			b.Close()
		}
	}
	b := NewCPU(1)
	defer b.Close()
	for _, split := range [][]int{{2, 2}, {3, 3}, {-1, 2}, {2, -2, 3}} {
		var parts []Part
		for _, n := range split {
			parts = append(parts, Part{Backend: b, Layers: n})
		}
		_, err := LoadWith(f, LoadOptions{Parts: parts})
		require.ErrorContains(t, err, "layer split", "%v", split)
	}
}

// TestLoadProgress: loading reports bytes handed to the backends, rising to the file's tensor total.
func TestLoadProgress(t *testing.T) {
	f, _ := synthModel(t, synth.Options{Type: "Q8_0", Vocab: 300, Seed: 1})
	b := NewCPU(1)
	defer b.Close()
	var last, total int64
	calls := 0
	_, err := LoadWith(f, LoadOptions{First: b, FirstLayers: -1, Progress: func(done, tot int64) {
		require.GreaterOrEqual(t, done, last)
		last, total = done, tot
		calls++
	}})
	require.NoError(t, err)
	var want int64
	for _, ti := range f.Tensors {
		want += int64(ti.Size)
	}
	require.Equal(t, want, total)
	require.Equal(t, want, last)
	require.Equal(t, len(f.Tensors), calls)
}
