package engine

import (
	"errors"
	"fmt"
)

// Session is one sequence being processed: its KV cache, its position and the activation buffers of a
// batch. Buffers are allocated once, when the session is made; Eval allocates only its result.
type Session struct {
	m        *Model
	cache    KVCache
	pos      int // tokens already in the cache
	maxBatch int

	// Activations for up to maxBatch tokens (row-major, one row per token).
	x      Buffer // [batch][embd] residual stream
	xb     Buffer // [batch][embd] normalized input of a sub-layer
	q      Buffer // [batch][heads·headDim]
	k, v   Buffer // [batch][kvHeads·headDim]
	att    Buffer // [batch][heads·headDim] attention output
	proj   Buffer // [batch][embd] sub-layer output before the residual add
	gate   Buffer // [batch][ff]
	up     Buffer // [batch][ff]
	logits Buffer // [batch][vocab]

	posBuf []int32

	// Capture, when set, is called for every layer of every Eval with that layer's attention probabilities
	// (see AttentionParams.Capture); it must return the destination or nil to skip the layer.
	Capture func(layer int, pos []int32) [][][]float32
}

// ErrContextFull is returned when tokens would not fit in the session's context.
var ErrContextFull = errors.New("context full")

// NewSession allocates a KV cache of ctx positions and buffers for batches of up to batch tokens.
func (m *Model) NewSession(ctx, batch int) (*Session, error) {
	c := m.Config
	if ctx <= 0 {
		return nil, fmt.Errorf("context size must be positive, got %d", ctx)
	}
	if batch <= 0 {
		batch = 512
	}
	batch = min(batch, ctx)
	hd := c.HeadDim()
	s := &Session{m: m, maxBatch: batch}
	b := m.Backend
	var err error
	alloc := func(n int) Buffer {
		if err != nil {
			return nil
		}
		var buf Buffer
		buf, err = b.Alloc(n)
		return buf
	}
	s.x = alloc(batch * c.EmbeddingLength)
	s.xb = alloc(batch * c.EmbeddingLength)
	s.q = alloc(batch * c.HeadCount * hd)
	s.k = alloc(batch * c.HeadCountKV * hd)
	s.v = alloc(batch * c.HeadCountKV * hd)
	s.att = alloc(batch * c.HeadCount * hd)
	s.proj = alloc(batch * c.EmbeddingLength)
	s.gate = alloc(batch * c.FeedForwardLength)
	s.up = alloc(batch * c.FeedForwardLength)
	s.logits = alloc(batch * c.VocabSize)
	if err != nil {
		return nil, fmt.Errorf("allocating activations for batches of %d: %w", batch, err)
	}
	if s.cache, err = b.NewKVCache(c.BlockCount, ctx, c.HeadCountKV*hd); err != nil {
		return nil, fmt.Errorf("allocating the KV cache for %d positions: %w", ctx, err)
	}
	s.posBuf = make([]int32, batch)
	return s, nil
}

// Pos is the number of tokens in the session so far.
func (s *Session) Pos() int { return s.pos }

// Context is the number of positions the session holds.
func (s *Session) Context() int { return s.cache.Capacity() }

// Reset forgets every token (the cache is overwritten as new tokens arrive).
func (s *Session) Reset() { s.pos = 0 }

// Eval appends tokens to the sequence, processing them in batches. It returns the logits of the last
// token ([vocab]), or of every token ([len(tokens)][vocab] flattened) when all is set.
func (s *Session) Eval(tokens []int32, all bool) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no tokens to evaluate")
	}
	if s.pos+len(tokens) > s.Context() {
		return nil, fmt.Errorf("%w: %d tokens after %d already in the session exceed the context of %d positions (use a larger --ctx)",
			ErrContextFull, len(tokens), s.pos, s.Context())
	}
	vocab := s.m.Config.VocabSize
	var out []float32
	if all {
		out = make([]float32, len(tokens)*vocab)
	} else {
		out = make([]float32, vocab)
	}
	for start := 0; start < len(tokens); start += s.maxBatch {
		chunk := tokens[start:min(len(tokens), start+s.maxBatch)]
		last := start+len(chunk) == len(tokens)
		if err := s.forward(chunk, all || last, all); err != nil {
			return nil, err
		}
		b := s.m.Backend
		if all {
			if err := b.Read(out[start*vocab:(start+len(chunk))*vocab], s.logits, 0); err != nil {
				return nil, err
			}
		} else if last {
			if err := b.Read(out, s.logits, 0); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// forward runs the model on n ≤ maxBatch tokens at positions pos, pos+1, … and advances pos. With
// wantLogits it leaves logits in s.logits: of every token when all is set, else of the last one only.
func (s *Session) forward(ids []int32, wantLogits, all bool) error {
	m, b, c := s.m, s.m.Backend, s.m.Config
	n := len(ids)
	pos := s.posBuf[:n]
	for i := range pos {
		pos[i] = int32(s.pos + i)
	}
	e, hd := c.EmbeddingLength, c.HeadDim()
	attn := AttentionParams{Heads: c.HeadCount, KVHeads: c.HeadCountKV, HeadDim: hd, Scale: m.attnScale()}
	err := b.Embed(s.x, m.tokEmbd, ids)
	for l := 0; l < c.BlockCount && err == nil; l++ {
		lw := &m.layers[l]
		// Attention: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
		err = errors.Join(
			b.RMSNorm(s.xb, s.x, lw.attnNorm, n, c.RMSEpsilon),
			b.MatMul(s.q, lw.wq, s.xb, n),
			b.MatMul(s.k, lw.wk, s.xb, n),
			b.MatMul(s.v, lw.wv, s.xb, n),
			b.RoPE(s.q, s.k, pos, c.HeadCount, c.HeadCountKV, hd, m.Rope),
			b.StoreKV(s.cache, l, s.k, s.v, pos),
		)
		if err != nil {
			break
		}
		attn.Layer, attn.Capture = l, nil
		if s.Capture != nil {
			attn.Capture = s.Capture(l, pos)
		}
		// Feed-forward: x += W_down · (silu(W_gate·norm(x)) ⊙ W_up·norm(x))
		err = errors.Join(
			b.Attention(s.att, s.q, s.cache, pos, attn),
			b.MatMul(s.proj, lw.wo, s.att, n),
			b.Add(s.x, s.proj, n*e),
			b.RMSNorm(s.xb, s.x, lw.ffnNorm, n, c.RMSEpsilon),
			b.MatMul(s.gate, lw.wGate, s.xb, n),
			b.MatMul(s.up, lw.wUp, s.xb, n),
			b.SwiGLU(s.gate, s.gate, s.up, n*c.FeedForwardLength),
			b.MatMul(s.proj, lw.wDown, s.gate, n),
			b.Add(s.x, s.proj, n*e),
		)
	}
	if err == nil && wantLogits {
		if all {
			err = errors.Join(b.RMSNorm(s.xb, s.x, m.outNorm, n, c.RMSEpsilon), b.MatMul(s.logits, m.output, s.xb, n))
		} else {
			lastX, lastXB := b.View(s.x, (n-1)*e, e), b.View(s.xb, 0, e)
			err = errors.Join(b.RMSNorm(lastXB, lastX, m.outNorm, 1, c.RMSEpsilon), b.MatMul(s.logits, m.output, lastXB, 1))
		}
	}
	if err != nil {
		return fmt.Errorf("forward pass at position %d: %w", s.pos, err)
	}
	s.pos += n
	return nil
}
