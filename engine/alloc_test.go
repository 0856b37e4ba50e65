package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// TestNoPerOpAllocation: decoding a token on the CPU backend allocates nothing per operation — the count
// is the same for 2 and 6 layers (what remains is per call: the logits handed back), with the KV cache in
// float32 and in half precision.
func TestNoPerOpAllocation(t *testing.T) {
	for _, c := range []struct {
		typ string
		kv  gguf.Type
	}{{"Q4_0", gguf.TypeF32}, {"Q8_0", gguf.TypeF32}, {"Q4_K_M", gguf.TypeF32}, {"F16", gguf.TypeF32}, {"Q4_0", gguf.TypeF16}} {
		var counts []float64
		typ := c.typ + "/kv=" + c.kv.String()
		for _, layers := range []int{2, 6} {
			_, m := synthModelWith(t, synth.Options{Type: c.typ, Vocab: 300, Layers: layers, Heads: 4, KVHeads: 2, Seed: 7}, 16, c.kv)
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

// failingRoPE is the CPU backend with a RoPE that fails, recording the calls that come after it.
type failingRoPE struct {
	*CPU
	failed bool
	after  []string
}

func (f *failingRoPE) RoPE(q, k Buffer, pos []int32, heads, kvHeads, headDim int, p RopeParams) error {
	f.failed = true
	return errors.New("rope broke")
}

func (f *failingRoPE) StoreKV(c KVCache, layer int, k, v Buffer, slots []int32) error {
	if f.failed {
		f.after = append(f.after, "StoreKV")
	}
	return f.CPU.StoreKV(c, layer, k, v, slots)
}

func (f *failingRoPE) Attention(out, q Buffer, c KVCache, kv *KVBatch, p AttentionParams) error {
	if f.failed {
		f.after = append(f.after, "Attention")
	}
	return f.CPU.Attention(out, q, c, kv, p)
}

// TestForwardStopsAtFirstError: when an operation fails, the forward pass runs nothing after it and says
// which position failed.
func TestForwardStopsAtFirstError(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Type: "F32", Vocab: 300, Layers: 2, Heads: 4, KVHeads: 2, Seed: 7}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	b := &failingRoPE{CPU: NewCPU(2)}
	defer b.Close()
	m, err := Load(f, b)
	require.NoError(t, err)
	s, err := m.NewSession(32, 8)
	require.NoError(t, err)
	_, err = s.Eval([]int32{1, 2, 3}, false)
	require.ErrorContains(t, err, "rope broke")
	require.ErrorContains(t, err, "position 0")
	require.Empty(t, b.after, "operations ran after the failure")
}

// panickingRoPE is the CPU backend with a RoPE that panics: a bug in a step.
type panickingRoPE struct{ *CPU }

func (panickingRoPE) RoPE(q, k Buffer, pos []int32, heads, kvHeads, headDim int, p RopeParams) error {
	panic("rope bug")
}

// TestSchedulerFailed: a panic in a step ends the requests with an error that says so, refuses new ones,
// and Failed reports it with the stack (a server's health check fails on it).
func TestSchedulerFailed(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Type: "F32", Vocab: 300, Layers: 1, Heads: 4, KVHeads: 2, Seed: 7}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	b := panickingRoPE{NewCPU(1)}
	defer b.Close()
	m, err := Load(f, b)
	require.NoError(t, err)
	r, err := m.NewRunner(RunnerOptions{Context: 32, Sequences: 1})
	require.NoError(t, err)
	s := NewScheduler(r, SchedulerOptions{})
	defer s.Close()
	stack, err := s.Failed()
	require.NoError(t, err)
	require.Nil(t, stack)
	st, err := s.Submit(context.Background(), Request{Prompt: []int32{1, 2}, MaxTokens: 2})
	require.NoError(t, err)
	for range st.Tokens() {
	}
	require.ErrorContains(t, st.Err(), "internal error in a step: rope bug")
	stack, err = s.Failed()
	require.ErrorIs(t, err, ErrClosed)
	require.Contains(t, string(stack), "panickingRoPE")
	_, err = s.Submit(context.Background(), Request{Prompt: []int32{1}})
	require.ErrorIs(t, err, ErrClosed)
}
