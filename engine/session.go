package engine

import (
	"errors"
	"fmt"
)

// Session is one sequence being processed: its KV cache, its position and the activation buffers of a
// batch. Buffers are allocated once, when the session is made; Eval allocates only its result.
type Session struct {
	m        *Model
	parts    []*part // one per backend, in layer order
	pos      int     // tokens already in the cache
	maxBatch int
	capacity int
	posBuf   []int32
	hostX    []float32 // moves the residual stream between backends

	// Capture, when set, is called for every layer of every Eval with that layer's attention probabilities
	// (see AttentionParams.Capture); it must return the destination or nil to skip the layer.
	Capture func(layer int, pos []int32) [][][]float32
}

// part is what one backend holds for a session: activations for up to maxBatch tokens (row-major, one row
// per token) and the KV cache of its layers.
type part struct {
	b          Backend
	firstLayer int      // global index of the part's first layer (its cache's layer 0)
	cache      KVCache  // [its layers][positions][kvHeads·headDim]
	x          Buffer   // [batch][embd] residual stream
	xb         Buffer   // [batch][embd] normalized input of a sub-layer
	q          Buffer   // [batch][heads·headDim]
	k, v       Buffer   // [batch][kvHeads·headDim]
	att        Buffer   // [batch][heads·headDim] attention output
	proj       Buffer   // [batch][embd] sub-layer output before the residual add
	gate       Buffer   // [batch][ff]
	up         Buffer   // [batch][ff]
	logits     Buffer   // [batch][vocab], on the last part only
	qkv        []Buffer // q, k, v
	gateUp     []Buffer // gate, up
	ops        Backend  // b, or b without its fused operations when the model is loaded Unfused
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
	s := &Session{m: m, maxBatch: batch, capacity: ctx, posBuf: make([]int32, batch)}
	for bi, b := range m.backends {
		p := &part{b: b, firstLayer: -1, ops: b}
		if m.unfused {
			p.ops = unfused{b}
		}
		layers := 0
		for l, on := range m.layerOn {
			if on == bi {
				if p.firstLayer < 0 {
					p.firstLayer = l
				}
				layers++
			}
		}
		var err error
		e, q, kv, ff := batch*c.EmbeddingLength, batch*c.HeadCount*hd, batch*c.HeadCountKV*hd, batch*c.FeedForwardLength
		floats := int64(3*e+2*q+2*kv+2*ff) + 2*int64(layers)*int64(ctx)*int64(c.HeadCountKV*hd)
		if bi == len(m.backends)-1 {
			floats += int64(batch * c.VocabSize)
		}
		if r, ok := b.(Reserver); ok { // one device arena for the session, sized up front
			if err := r.Reserve(Reservation{Bytes: 4 * floats, Batch: batch, Heads: c.HeadCount, HeadDim: hd}); err != nil {
				return nil, fmt.Errorf("reserving %.1f MiB for a session of %d positions on %s: %w", float64(4*floats)/(1<<20), ctx, b.Name(), err)
			}
		}
		alloc := func(n int) Buffer {
			if err != nil {
				return nil
			}
			var buf Buffer
			buf, err = b.Alloc(n)
			return buf
		}
		p.x = alloc(batch * c.EmbeddingLength)
		p.xb = alloc(batch * c.EmbeddingLength)
		p.q = alloc(batch * c.HeadCount * hd)
		p.k = alloc(batch * c.HeadCountKV * hd)
		p.v = alloc(batch * c.HeadCountKV * hd)
		p.att = alloc(batch * c.HeadCount * hd)
		p.proj = alloc(batch * c.EmbeddingLength)
		p.gate = alloc(batch * c.FeedForwardLength)
		p.up = alloc(batch * c.FeedForwardLength)
		if bi == len(m.backends)-1 {
			p.logits = alloc(batch * c.VocabSize)
		}
		p.qkv, p.gateUp = []Buffer{p.q, p.k, p.v}, []Buffer{p.gate, p.up}
		if err != nil {
			return nil, fmt.Errorf("allocating activations for batches of %d on %s: %w", batch, b.Name(), err)
		}
		if p.cache, err = b.NewKVCache(layers, ctx, c.HeadCountKV*hd); err != nil {
			return nil, fmt.Errorf("allocating the KV cache for %d positions on %s: %w", ctx, b.Name(), err)
		}
		s.parts = append(s.parts, p)
	}
	if len(s.parts) > 1 {
		s.hostX = make([]float32, batch*c.EmbeddingLength)
	}
	return s, nil
}

// Pos is the number of tokens in the session so far.
func (s *Session) Pos() int { return s.pos }

// Context is the number of positions the session holds.
func (s *Session) Context() int { return s.capacity }

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
		lp := s.parts[len(s.parts)-1]
		if all {
			if err := lp.b.Read(out[start*vocab:(start+len(chunk))*vocab], lp.logits, 0); err != nil {
				return nil, err
			}
		} else if last {
			if err := lp.b.Read(out, lp.logits, 0); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// forward runs the model on n ≤ maxBatch tokens at positions pos, pos+1, … and advances pos. With
// wantLogits it leaves logits in the last part's buffer: of every token when all is set, else of the last one.
// inOrder runs the steps of a sub-layer one after the other and stops at the first error: a later step would
// read what the failed one did not write (and, on a GPU, enqueue more work after a failure).
func inOrder(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) forward(ids []int32, wantLogits, all bool) error {
	m, c := s.m, s.m.Config
	n := len(ids)
	pos := s.posBuf[:n]
	for i := range pos {
		pos[i] = int32(s.pos + i)
	}
	e, hd := c.EmbeddingLength, c.HeadDim()
	attn := AttentionParams{Heads: c.HeadCount, KVHeads: c.HeadCountKV, HeadDim: hd, Scale: m.attnScale()}
	p := s.parts[0]
	err := p.b.Embed(p.x, m.tokEmbd, ids)
	normed := false // p.xb already holds layer l's attention norm of x: the last product of layer l−1 made it
	for l := 0; l < c.BlockCount && err == nil; l++ {
		if next := s.parts[m.layerOn[l]]; next != p { // hand the residual stream to the next backend
			if err = s.move(p, next, n*e); err != nil {
				break
			}
			p, normed = next, false
		}
		b, lw := p.b, &m.layers[l]
		// Attention: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
		err = inOrder(
			func() error {
				if normed {
					return nil
				}
				return b.RMSNorm(p.xb, p.x, lw.attnNorm, n, c.RMSEpsilon)
			},
			func() error { return MatMuls(p.ops, p.qkv, lw.qkv, p.xb, n) },
			func() error {
				return RoPEStoreKV(p.ops, p.q, p.k, p.v, p.cache, l-p.firstLayer, pos, c.HeadCount, c.HeadCountKV, hd, m.Rope)
			},
		)
		if err != nil {
			break
		}
		attn.Layer, attn.Capture = l-p.firstLayer, nil
		if s.Capture != nil {
			attn.Capture = s.Capture(l, pos)
		}
		// Feed-forward: x += W_down · (silu(W_gate·norm(x)) ⊙ W_up·norm(x)); each residual add also leaves
		// the norm of the result that the next sub-layer (on the same backend) reads.
		normNext := l+1 < c.BlockCount && m.layerOn[l+1] == m.layerOn[l]
		err = inOrder(
			func() error { return b.Attention(p.att, p.q, p.cache, pos, attn) },
			func() error {
				return MatMulAddNorm(p.ops, p.x, p.proj, lw.wo, p.att, n, p.xb, lw.ffnNorm, c.RMSEpsilon)
			},
			func() error { return MatMulSwiGLU(p.ops, p.gateUp, lw.gateUp, p.xb, n) },
			func() error {
				if normNext {
					return MatMulAddNorm(p.ops, p.x, p.proj, lw.wDown, p.gate, n, p.xb, m.layers[l+1].attnNorm, c.RMSEpsilon)
				}
				return MatMulAdd(p.ops, p.x, p.proj, lw.wDown, p.gate, n)
			},
		)
		normed = normNext
	}
	if last := s.parts[len(s.parts)-1]; err == nil && wantLogits {
		if p != last { // a model with no layers on the last backend (never with LoadSplit's rules)
			err = s.move(p, last, n*e)
			p = last
		}
		b := p.b
		if err == nil && all {
			err = inOrder(
				func() error { return b.RMSNorm(p.xb, p.x, m.outNorm, n, c.RMSEpsilon) },
				func() error { return b.MatMul(p.logits, m.output, p.xb, n) },
			)
		} else if err == nil {
			lastX, lastXB := b.View(p.x, (n-1)*e, e), b.View(p.xb, 0, e)
			err = inOrder(
				func() error { return b.RMSNorm(lastXB, lastX, m.outNorm, 1, c.RMSEpsilon) },
				func() error { return b.MatMul(p.logits, m.output, lastXB, 1) },
			)
		}
	}
	if err != nil {
		return fmt.Errorf("forward pass at position %d: %w", s.pos, err)
	}
	s.pos += n
	return nil
}

// move copies the residual stream (count values) from one part's backend to the next one's.
func (s *Session) move(from, to *part, count int) error {
	buf := s.hostX[:count]
	if err := from.b.Read(buf, from.x, 0); err != nil {
		return err
	}
	return to.b.Write(to.x, buf, 0)
}
