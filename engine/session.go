package engine

import (
	"errors"
	"fmt"
)

// Session is one sequence on a runner of its own: the simple way to evaluate a single text (the CLI's run,
// logits, perplexity and attention commands). Buffers are allocated once, when the session is made; Eval
// allocates only its result.
type Session struct {
	r   *Runner
	seq *Sequence

	// Capture, when set, is called for every layer of every Eval with that layer's attention probabilities
	// (see AttentionParams.Capture); it must return the destination or nil to skip the layer.
	Capture func(layer int, pos []int32) [][][]float32
	chunk   [1]Chunk
}

// ErrContextFull is returned when tokens would not fit in the session's context.
var ErrContextFull = errors.New("context full")

// NewSession allocates a KV cache of ctx positions and buffers for batches of up to batch tokens.
func (m *Model) NewSession(ctx, batch int) (*Session, error) {
	if ctx <= 0 {
		return nil, fmt.Errorf("context size must be positive, got %d", ctx)
	}
	if batch <= 0 {
		batch = 512
	}
	batch = min(batch, ctx)
	r, err := m.NewRunner(RunnerOptions{Context: ctx, Batch: batch, Sequences: 1, LogitRows: batch})
	if err != nil {
		return nil, err
	}
	return &Session{r: r, seq: r.NewSequence()}, nil
}

// Pos is the number of tokens in the session so far.
func (s *Session) Pos() int { return s.seq.Len() }

// Context is the number of positions the session holds.
func (s *Session) Context() int { return s.r.o.Context }

// Close gives back the session's device memory (Runner.Close); the session cannot evaluate after it.
func (s *Session) Close() { s.r.Close() }

// Reset forgets every token.
func (s *Session) Reset() { s.seq.Free() }

// Eval appends tokens to the sequence, processing them in batches. It returns the logits of the last
// token ([vocab]), or of every token ([len(tokens)][vocab] flattened) when all is set.
func (s *Session) Eval(tokens []int32, all bool) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no tokens to evaluate")
	}
	if s.Pos()+len(tokens) > s.Context() {
		return nil, fmt.Errorf("%w: %d tokens after %d already in the session exceed the context of %d positions (use a larger --ctx)",
			ErrContextFull, len(tokens), s.Pos(), s.Context())
	}
	vocab := s.r.m.Config.VocabSize
	var out []float32
	if all {
		out = make([]float32, len(tokens)*vocab)
	} else {
		out = make([]float32, vocab)
	}
	batch := s.r.o.Batch
	for start := 0; start < len(tokens); start += batch {
		end := min(len(tokens), start+batch)
		c := &s.chunk[0]
		*c = Chunk{Seq: s.seq, Tokens: tokens[start:end], Capture: s.Capture}
		var dst []float32
		switch {
		case all:
			c.Logits, dst = AllLogits, out[start*vocab:end*vocab]
		case end == len(tokens):
			c.Logits, dst = LastLogits, out
		}
		if _, err := s.r.Step(s.chunk[:], dst); err != nil {
			return nil, err
		}
	}
	return out, nil
}
