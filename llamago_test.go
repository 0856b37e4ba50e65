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

// TestCloseInsideTheLoop: Close called from the body of a loop over Generate returns, and the loop ends
// with ErrClosed (the iterator does not hold the model while it yields).
func TestCloseInsideTheLoop(t *testing.T) {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 1, Context: 128, Parallel: 1})
	require.NoError(t, err)
	closed := make(chan error, 1)
	var last error
	n := 0
	for _, err := range m.Generate(context.Background(), "Once upon a time", llamago.GenerateOptions{IgnoreEOS: true}) {
		if last = err; err != nil {
			break
		}
		if n++; n == 3 {
			go func() { closed <- m.Close() }() // a Close from the loop's own goroutine is checked below
			select {
			case err := <-closed:
				require.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return while a loop over Generate was in its body")
			}
		}
	}
	require.ErrorIs(t, last, llamago.ErrClosed)
	var zero llamago.Model
	require.NoError(t, zero.Close(), "a Model that was never loaded closes as nothing")
	var none *llamago.Model
	require.NoError(t, none.Close())

	m, err = llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 1, Context: 128, Parallel: 1})
	require.NoError(t, err)
	n, last = 0, nil
	for _, err := range m.Generate(context.Background(), "Once upon a time", llamago.GenerateOptions{IgnoreEOS: true}) {
		if last = err; err != nil {
			continue
		}
		if n++; n == 2 {
			require.NoError(t, m.Close(), "Close on the loop's own goroutine")
		}
	}
	require.ErrorIs(t, last, llamago.ErrClosed)
}

// TestGenerateStopAndLogprobs: Stop ends both ways of generating before the first stop string (the CLI's
// and the server's text for the same request), Finish says so; Logprobs and TopLogprobs fill the tokens.
func TestGenerateStopAndLogprobs(t *testing.T) {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 2, Context: 128, Parallel: 2})
	require.NoError(t, err)
	defer m.Close()
	o := llamago.GenerateOptions{MaxTokens: 24, Stop: []string{"Lily", "no such words"}, Logprobs: true, TopLogprobs: 2}
	text, st, err := m.GenerateText(context.Background(), "Once upon a time", o)
	require.NoError(t, err)
	require.Equal(t, ", there was a little girl named ", text)
	require.Equal(t, engine.FinishStop, st.Finish)
	var streamed strings.Builder
	for tok, err := range m.Generate(context.Background(), "Once upon a time", o) {
		require.NoError(t, err)
		streamed.WriteString(tok.Text)
		if tok.ID >= 0 {
			require.Len(t, tok.Top, 2)
			require.Equal(t, tok.Top[0].Logprob, tok.Logprob, "greedy: the chosen token is the most likely")
			require.Equal(t, tok.Top[0].ID, tok.ID)
		}
	}
	require.Equal(t, text, streamed.String())
	require.Eventually(t, func() bool { return m.Usage().Running == 0 }, time.Second, time.Millisecond, "the stop ended the generation")
	_, st, err = m.GenerateText(context.Background(), "Once upon a time", llamago.GenerateOptions{MaxTokens: 3})
	require.NoError(t, err)
	require.Equal(t, engine.FinishMaxTokens, st.Finish)
}

// TestOptionsRefused: values out of range are errors, not silent defaults.
func TestOptionsRefused(t *testing.T) {
	for _, o := range []llamago.Options{{Threads: -1}, {Parallel: -1}, {MaxQueue: -1}, {Batch: -5}, {KVBlocks: -1}, {Context: -1}, {Context: 1}} {
		_, err := llamago.Load(llamago.BuiltinModel, o)
		require.ErrorContains(t, err, "llamago.Options.", "%+v", o)
	}
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 1, Context: 64, Parallel: 1})
	require.NoError(t, err)
	defer m.Close()
	_, _, err = m.GenerateText(context.Background(), "Once", llamago.GenerateOptions{MaxTokens: -1})
	require.ErrorContains(t, err, "MaxTokens must be ≥ 0")
	_, _, err = m.GenerateText(context.Background(), "Once", llamago.GenerateOptions{Stop: []string{""}})
	require.ErrorContains(t, err, "empty string")
	_, _, err = m.GenerateText(context.Background(), "", llamago.GenerateOptions{})
	require.ErrorContains(t, err, "the prompt is empty")
	for _, err := range m.Generate(context.Background(), "", llamago.GenerateOptions{}) {
		require.ErrorContains(t, err, "the prompt is empty")
	}
	_, _, err = m.GenerateText(context.Background(), "Once", llamago.GenerateOptions{Temperature: -1})
	require.ErrorContains(t, err, "temperature must be ≥ 0")
	ids, c, err := m.Attention("The cat", []int{}, []int{})
	require.NoError(t, err)
	require.Len(t, c.Layers, m.Engine().Config.BlockCount, "an empty choice is every layer, as nil")
	require.Len(t, c.Probs[0][0], len(ids))
	_, _, err = m.Attention("", nil, nil)
	require.ErrorContains(t, err, "empty")
}

// TestKVMemory: Options.KVMemory sizes the KV cache in bytes.
func TestKVMemory(t *testing.T) {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 1, Context: 256, Parallel: 4, KVMemory: 1 << 20})
	require.NoError(t, err)
	defer m.Close()
	cfg := m.Engine().Config
	perBlock := int64(engine.KVBlockSize * cfg.BlockCount * 2 * cfg.HeadCountKV * cfg.HeadDim() * 4) // f32 keys and values
	require.Equal(t, int((1<<20)/perBlock), m.Usage().BlocksTotal)
	_, err = llamago.Load(llamago.BuiltinModel, llamago.Options{KVMemory: -1})
	require.ErrorContains(t, err, "KVMemory must be ≥ 0")
}
