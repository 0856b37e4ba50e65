package engine

import (
	"bytes"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

func synthModel(t *testing.T, o synth.Options) (*gguf.File, *Model) {
	t.Helper()
	return synthModelBits(t, o, 16)
}

// synthModelBits is synthModel on a CPU backend that rounds activations to bits (CPU.SetActivationBits).
func synthModelBits(t *testing.T, o synth.Options, bits int) (*gguf.File, *Model) {
	t.Helper()
	return synthModelWith(t, o, bits, gguf.TypeF32)
}

// synthModelWith is synthModelBits with a KV cache of kv (LoadOptions.KVType).
func synthModelWith(t *testing.T, o synth.Options, bits int, kv gguf.Type) (*gguf.File, *Model) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, o))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	b := NewCPU(2)
	t.Cleanup(func() { b.Close() })
	require.NoError(t, b.SetActivationBits(bits))
	m, err := LoadWith(f, LoadOptions{First: b, FirstLayers: -1, KVType: kv})
	require.NoError(t, err)
	return f, m
}

// TestCaptureIsExactAndFree: captured rows are probability distributions over past keys that equal an
// independent float64 softmax(QKᵀ/√d + causal mask), and capturing leaves the logits bit-for-bit unchanged.
func TestCaptureIsExactAndFree(t *testing.T) {
	f, m := synthModel(t, synth.Options{Type: "Q8_0", Vocab: 300, Layers: 3, Heads: 4, KVHeads: 2, Seed: 5})
	tokens := []int32{1, 40, 41, 42, 100, 7, 8, 250}
	// The same calls with and without capture (how tokens are split into calls and batches changes
	// the kernels that run, and so the float rounding: TestBatchSplitChangesOnlyRounding).
	plain, err := m.NewSession(32, 3)
	require.NoError(t, err)
	want, err := plain.Eval(tokens[:5], true)
	require.NoError(t, err)
	rest, err := plain.Eval(tokens[5:], true)
	require.NoError(t, err)
	want = append(want, rest...)

	s, err := m.NewSession(32, 3)
	require.NoError(t, err)
	c, err := s.StartCapture(CaptureSpec{Layers: []int{2, 0}, Heads: []int{1, 3}}, len(tokens))
	require.NoError(t, err)
	got, err := s.Eval(tokens[:5], true)
	require.NoError(t, err)
	more, err := s.Eval(tokens[5:], true) // capture continues across calls (as in generation)
	require.NoError(t, err)
	require.Equal(t, want, append(got, more...), "capture must not change the logits")

	require.Equal(t, []int{0, 2}, c.Layers)
	require.Equal(t, []int{1, 3}, c.Heads)
	require.Equal(t, len(tokens), c.Positions())
	exact := map[[3]int][]float64{}
	exactForward(t, f, tokens, func(l, h, p int, row []float64) { exact[[3]int{l, h, p}] = append([]float64(nil), row...) })
	for li, l := range c.Layers {
		for hi, h := range c.Heads {
			for q, row := range c.Probs[li][hi] {
				require.Len(t, row, q+1)
				var sum float64
				for j, v := range row {
					sum += float64(v)
					// Q8_0 matmuls round activations to 16 bits (cpu/quant.go): probabilities agree to ~1e-5.
					require.InDelta(t, exact[[3]int{l, h, q}][j], v, 5e-5, "layer %d head %d query %d key %d", l, h, q, j)
				}
				require.InDelta(t, 1, sum, 1e-5)
			}
		}
	}
	shape, dense := c.Dense()
	require.Equal(t, []int{2, 2, 8, 8}, shape)
	for q := 0; q < 8; q++ {
		for k := q + 1; k < 8; k++ {
			require.Zero(t, dense[q*8+k], "future key %d of query %d", k, q)
		}
	}
	s.StopCapture()
	_, err = s.Eval([]int32{3}, false)
	require.NoError(t, err)
	require.Equal(t, len(tokens), c.Positions(), "nothing recorded after StopCapture")
}

func TestCaptureLimits(t *testing.T) {
	_, m := synthModel(t, synth.Options{Vocab: 300})
	s, err := m.NewSession(64, 8)
	require.NoError(t, err)
	_, err = s.StartCapture(CaptureSpec{MaxBytes: 1000}, 64)
	require.ErrorContains(t, err, "more than the limit")
	require.ErrorContains(t, err, "--capture-max-mb")
	_, err = s.StartCapture(CaptureSpec{Layers: []int{7}}, 4)
	require.ErrorContains(t, err, "layer 7 does not exist: the model has layers 0 to 1")
	_, err = s.StartCapture(CaptureSpec{Heads: []int{-1}}, 4)
	require.ErrorContains(t, err, "head -1 does not exist")
	require.Equal(t, int64(2*4*10*10*4), CaptureBytes(2, 4, 10))
}

// TestBatchSplitChangesOnlyRounding: evaluating a prompt in one batch (the prompt kernels), in batches of 3
// (the few-token kernels) or one token at a time (the decode kernels) gives the same logits up to float
// rounding of differently ordered sums. A last-bit difference can move a 16-bit activation by one step
// (3e-5 of its block's maximum), so the bound is 1e-8 NMSE, not 1e-13 (8-bit activations: ~5e-4).
func TestBatchSplitChangesOnlyRounding(t *testing.T) {
	for _, typ := range []string{"Q8_0", "Q4_0", "Q4_K_M", "F16"} {
		_, m := synthModel(t, synth.Options{Type: typ, Vocab: 300, Layers: 2, Heads: 4, KVHeads: 2, Seed: 7})
		tokens := []int32{1, 40, 41, 42, 100, 7, 8, 250, 3, 4, 5, 6, 9, 10, 11, 12, 13}
		eval := func(batch int) []float32 {
			s, err := m.NewSession(32, batch)
			require.NoError(t, err)
			out, err := s.Eval(tokens, true)
			require.NoError(t, err)
			return out
		}
		whole := eval(len(tokens))
		for _, batch := range []int{1, 3} {
			got := eval(batch)
			var num, den float64
			for i := range whole {
				d := float64(got[i] - whole[i])
				num, den = num+d*d, den+float64(whole[i])*float64(whole[i])
			}
			require.Less(t, num/den, 1e-8, "%s: batches of %d vs one batch", typ, batch)
		}
	}
}
