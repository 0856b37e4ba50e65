package llamago_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/llamago/llamago"
	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestGenerateEndsEarly: breaking out of the iteration or cancelling the context ends the generation and
// frees its place; a prompt longer than the context is an error that says so.
func TestGenerateEndsEarly(t *testing.T) {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 2, Context: 64, Parallel: 2})
	require.NoError(t, err)
	defer m.Close()
	n := 0
	for _, err := range m.Generate(context.Background(), "Once upon a time", llamago.GenerateOptions{IgnoreEOS: true}) {
		require.NoError(t, err)
		if n++; n == 3 {
			break
		}
	}
	require.Eventually(t, func() bool { return m.Usage().Running == 0 && m.Usage().BlocksInUse == 0 }, time.Second, time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	n = 0
	for _, err := range m.Generate(ctx, "Once upon a time", llamago.GenerateOptions{IgnoreEOS: true}) {
		if n++; n == 2 {
			cancel()
		}
		last = err
	}
	require.ErrorIs(t, last, context.Canceled)

	_, _, err = m.GenerateText(context.Background(), strings.Repeat("cat ", 100), llamago.GenerateOptions{})
	require.True(t, errors.Is(err, engine.ErrContextFull), "%v", err)

	text, st, err := m.GenerateText(context.Background(), "Once upon a time", llamago.GenerateOptions{MaxTokens: 5, Temperature: 0.8, Seed: 1})
	require.NoError(t, err)
	require.NotEmpty(t, text)
	require.Equal(t, 5, st.GenTokens)
}

// TestClosedModel: after Close every call says so instead of touching the released model.
func TestClosedModel(t *testing.T) {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 1})
	require.NoError(t, err)
	_, _, err = m.Attention("Once upon a time", nil, nil)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	_, _, err = m.Attention("Once upon a time", nil, nil)
	require.ErrorIs(t, err, engine.ErrClosed)
	_, _, err = m.GenerateText(context.Background(), "Once", llamago.GenerateOptions{MaxTokens: 2})
	require.ErrorIs(t, err, engine.ErrClosed)
	for _, err := range m.Generate(context.Background(), "Once", llamago.GenerateOptions{}) {
		require.ErrorIs(t, err, engine.ErrClosed)
	}
}

// TestKVTypeF16: a half-precision KV cache (Options.KVType) generates the built-in model's greedy story as
// the exact cache does; a type no cache has is refused when the model loads.
func TestKVTypeF16(t *testing.T) {
	var texts []string
	for _, kv := range []gguf.Type{gguf.TypeF32, gguf.TypeF16} {
		m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 2, Context: 128, Parallel: 1, KVType: kv})
		require.NoError(t, err)
		text, _, err := m.GenerateText(context.Background(), "Once upon a time", llamago.GenerateOptions{MaxTokens: 40})
		require.NoError(t, err)
		texts = append(texts, text)
		require.NoError(t, m.Close())
	}
	require.Equal(t, texts[0], texts[1])
	_, err := llamago.Load(llamago.BuiltinModel, llamago.Options{KVType: gguf.TypeQ8_0})
	require.ErrorContains(t, err, "a KV cache of q8_0 is not supported")
}
