package engine

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/llamago/llamago/gguf"
)

// KVBlockSize is the number of positions in a block of the paged KV cache: the unit of allocation and of
// prefix sharing.
const KVBlockSize = 32

// RunnerOptions size a Runner. Zero values take the defaults given.
type RunnerOptions struct {
	Context   int // positions one sequence may hold (default: the model's training context, at most 4096)
	Batch     int // tokens one step evaluates, all sequences together (default 512, at most Sequences·Context)
	Sequences int // sequences one step may hold (default 1)
	// Blocks is the size of the KV pool in blocks of KVBlockSize positions (default: KVMemory's worth, else
	// Sequences full contexts).
	Blocks int
	// KVMemory is a budget in bytes for the KV pool, used when Blocks is 0 (all layers, keys and values).
	KVMemory int64
	// LogitRows is the number of logit rows one step may return (default Sequences): one per sequence that
	// wants its last token's, or one per token for a chunk that wants them all.
	LogitRows int
	// PrefixCache publishes every full KV block under the digest of its tokens, so that a sequence whose
	// prompt begins as an earlier one did takes those blocks instead of computing them (Sequence.ReusePrefix).
	PrefixCache bool
}

// Runner is a model instance that evaluates many sequences together: one pool of KV blocks that its
// sequences share, and the activation buffers of one step. A step evaluates chunks of tokens of several
// sequences in one forward pass — every weight is read once for all of them — and each sequence's tokens
// attend to its own positions only, so its logits do not depend on what it is batched with beyond float
// rounding (the matrix kernels differ with the number of tokens in a step). A Runner is not safe for
// concurrent use; the Scheduler drives one from a single goroutine.
type Runner struct {
	m     *Model
	o     RunnerOptions
	parts []*part // one per backend, in layer order
	pool  *blockPool
	hostX []float32 // moves the residual stream between backends

	releases []func()    // give back what Reserver backends reserved (Close)
	closed   atomic.Bool // set under m.step; Step checks it early without the lock, then again with it

	// the current step
	kb   KVBatch
	ids  []int32
	rows []int32 // batch rows whose logits are wanted, in output order
}

// part is what one backend holds: activations for up to Batch tokens (row-major, one row per token), the KV
// cache of its layers, and the operations that run the pass on it.
type part struct {
	b          Backend
	firstLayer int     // global index of the part's first layer (its cache's layer 0)
	layers     int     // how many layers it runs
	cache      KVCache // [its layers][blocks][KVBlockSize][kvHeads·headDim], keys and values
	x          Buffer  // [batch][embd] residual stream
	xb         Buffer  // [batch][embd] normalized input of a sub-layer
	q          Buffer  // [batch][heads·headDim]
	k, v       Buffer  // [batch][kvHeads·headDim]
	att        Buffer  // [batch][heads·headDim] attention output
	proj       Buffer  // [batch][embd] sub-layer output before the residual add
	gate       Buffer  // [batch][ff]
	up         Buffer  // [batch][ff]
	logits     Buffer  // [logitRows][vocab], on the last part only
	qkv        []Buffer
	gateUp     []Buffer
	ops        ops
}

// stepFloats is the float32 count of one part's activation buffers for steps of batch tokens, with the
// logits of logitRows rows where last.
func stepFloats(c *gguf.LlamaConfig, batch, logitRows int, last bool) int64 {
	hd := c.HeadDim()
	e, q, kv, ff := int64(c.EmbeddingLength), int64(c.HeadCount*hd), int64(c.HeadCountKV*hd), int64(c.FeedForwardLength)
	n := int64(batch) * (3*e + 2*q + 2*kv + 2*ff)
	if last {
		n += int64(logitRows) * int64(c.VocabSize)
	}
	return n
}

// kvBytes is the size of a KV pool of blocks blocks of type t for layers layers (keys and values).
func kvBytes(c *gguf.LlamaConfig, layers, blocks int, t gguf.Type) int64 {
	return kvElemBytes(t) * 2 * int64(layers) * int64(blocks) * KVBlockSize * int64(c.HeadCountKV*c.HeadDim())
}

// blocksFor is the number of KV blocks that hold n positions.
func blocksFor(n int) int { return (n + KVBlockSize - 1) / KVBlockSize }

// NewRunner allocates a KV pool and the activations of one step on each of the model's backends.
func (m *Model) NewRunner(o RunnerOptions) (*Runner, error) {
	c := m.Config
	if o.Context <= 0 { // a model trained on 128K positions would otherwise take a pool of gigabytes
		o.Context = min(c.ContextLength, 4096)
	}
	if o.Context <= 0 || o.Context > gguf.MaxContextLength {
		return nil, fmt.Errorf("context size %d is out of range (allowed: 1 to %d)", o.Context, gguf.MaxContextLength)
	}
	if o.Sequences > gguf.MaxContextLength || o.Blocks > gguf.MaxContextLength/KVBlockSize {
		return nil, fmt.Errorf("%d sequences or %d KV blocks are more than a runner holds", o.Sequences, o.Blocks)
	}
	o.Sequences = max(o.Sequences, 1)
	if o.Batch <= 0 {
		o.Batch = 512
	}
	o.Batch = min(o.Batch, o.Sequences*o.Context)
	if o.Blocks <= 0 && o.KVMemory > 0 {
		perBlock := kvBytes(c, c.BlockCount, 1, m.kvType)
		if o.Blocks = int(o.KVMemory / perBlock); o.Blocks == 0 {
			return nil, fmt.Errorf("a KV budget of %d bytes holds no block of %d positions (%d bytes each)", o.KVMemory, KVBlockSize, perBlock)
		}
	}
	if o.Blocks <= 0 {
		o.Blocks = o.Sequences * blocksFor(o.Context)
	}
	// A sequence can never hold more positions than the pool has, and every running sequence must fit one
	// token in a step (or some would starve).
	o.Context = min(o.Context, o.Blocks*KVBlockSize)
	o.Batch = max(o.Batch, o.Sequences)
	if o.LogitRows <= 0 {
		o.LogitRows = o.Sequences
	}
	o.LogitRows = min(o.LogitRows, o.Batch)
	// The pool's size in float64, which cannot overflow: a context of 2^60 once wrapped around to a pool of
	// 64 positions and panicked there (F4), and 10^9 died of out-of-memory. Refuse with the size instead.
	if need := float64(kvElemBytes(m.kvType)) * 2 * float64(c.BlockCount) * float64(o.Blocks) * KVBlockSize * float64(c.HeadCountKV*c.HeadDim()); need > float64(memoryLimit()) {
		hint := "use a smaller --ctx"
		if m.kvType == gguf.TypeF32 && SupportsKVType(m.Backend, gguf.TypeF16) {
			hint += ", or --kv-type f16 (half the bytes)"
		}
		return nil, fmt.Errorf("the KV cache for %d positions would need %.1f GiB, more than the %.1f GiB of memory here: %s",
			o.Blocks*KVBlockSize, need/(1<<30), float64(memoryLimit())/(1<<30), hint)
	}
	hd := c.HeadDim()
	r := &Runner{m: m, o: o, pool: newBlockPool(o.Blocks)}
	// Device backends keep state that runners share (a GPU's scratch arrays, the newest arena): reserving
	// and allocating must not interleave with another runner's forward pass on the same model.
	m.step.Lock()
	defer m.step.Unlock()
	for bi, b := range m.backends {
		last := bi == len(m.backends)-1
		p := &part{b: b, firstLayer: -1}
		for l, on := range m.layerOn {
			if on == bi {
				if p.firstLayer < 0 {
					p.firstLayer = l
				}
				p.layers++
			}
		}
		layers := p.layers
		bytes := 4*stepFloats(c, o.Batch, o.LogitRows, last) + kvBytes(c, layers, o.Blocks, m.kvType)
		if rs, ok := b.(Reserver); ok { // one device arena for the runner, sized up front
			release, err := rs.Reserve(Reservation{Bytes: bytes, Batch: o.Batch, Heads: c.HeadCount, HeadDim: hd})
			if err != nil {
				r.release()
				return nil, fmt.Errorf("reserving %.1f MiB for %d sequences of %d positions on %s: %w",
					float64(bytes)/(1<<20), o.Sequences, o.Context, b.Name(), err)
			}
			r.releases = append(r.releases, release)
		}
		var err error
		alloc := func(n int) Buffer {
			if err != nil {
				return nil
			}
			var buf Buffer
			buf, err = b.Alloc(n)
			return buf
		}
		n := o.Batch
		p.x, p.xb, p.proj = alloc(n*c.EmbeddingLength), alloc(n*c.EmbeddingLength), alloc(n*c.EmbeddingLength)
		p.q, p.att = alloc(n*c.HeadCount*hd), alloc(n*c.HeadCount*hd)
		p.k, p.v = alloc(n*c.HeadCountKV*hd), alloc(n*c.HeadCountKV*hd)
		p.gate, p.up = alloc(n*c.FeedForwardLength), alloc(n*c.FeedForwardLength)
		if last {
			p.logits = alloc(o.LogitRows * c.VocabSize)
		}
		if err != nil {
			r.release()
			return nil, fmt.Errorf("allocating activations for steps of %d tokens on %s: %w", n, b.Name(), err)
		}
		p.qkv, p.gateUp = []Buffer{p.q, p.k, p.v}, []Buffer{p.gate, p.up}
		spec := KVSpec{Layers: layers, Blocks: o.Blocks, BlockSize: KVBlockSize, KVHeads: c.HeadCountKV, HeadDim: hd, Type: m.kvType}
		if p.cache, err = b.NewKVCache(spec); err != nil {
			r.release()
			return nil, fmt.Errorf("allocating the KV cache (%d blocks of %d positions, %s) on %s: %w", o.Blocks, KVBlockSize, KVTypeName(m.kvType), b.Name(), err)
		}
		p.ops = ops{b: b, eps: c.RMSEpsilon, cache: p.cache, rope: m.Rope, tmp: p.proj,
			attn: AttentionParams{Heads: c.HeadCount, KVHeads: c.HeadCountKV, HeadDim: hd, Scale: m.attnScale()}}
		if m.unfused {
			p.ops.b = unfused{b}
		}
		r.parts = append(r.parts, p)
	}
	if len(r.parts) > 1 {
		r.hostX = make([]float32, o.Batch*c.EmbeddingLength)
	}
	return r, nil
}

// Close gives back the device memory the runner reserved (its activations and KV cache, on backends that
// reserve an arena); on the CPU the garbage collector takes them. Its sequences must not be used after it,
// and Step then returns ErrClosed. Closing twice does nothing.
func (r *Runner) Close() {
	r.m.step.Lock() // not during another runner's pass: device backends share state between runners
	defer r.m.step.Unlock()
	r.release()
}

// release gives back what the runner reserved, once; the caller holds m.step.
func (r *Runner) release() {
	if r.closed.Load() {
		return
	}
	r.closed.Store(true)
	for _, release := range r.releases {
		release()
	}
	r.releases = nil
}

// Options are the sizes the runner was made with, defaults filled in.
func (r *Runner) Options() RunnerOptions { return r.o }

// Model is the runner's model.
func (r *Runner) Model() *Model { return r.m }

// Bytes is what the runner allocated on its backends: the KV pool and the activations of one step.
func (r *Runner) Bytes() (kv, activations int64) {
	c := r.m.Config
	for bi, p := range r.parts {
		kv += kvBytes(c, p.layers, r.o.Blocks, r.m.kvType)
		activations += 4 * stepFloats(c, r.o.Batch, r.o.LogitRows, bi == len(r.parts)-1)
	}
	return kv, activations
}

// FreeBlocks is the number of KV blocks a sequence can take now; BlocksInUse those some sequence holds.
func (r *Runner) FreeBlocks() int  { return r.pool.Available() }
func (r *Runner) BlocksInUse() int { return r.pool.InUse() }

// Sequence is one sequence's place in a Runner's KV cache: its block table and how many positions it holds.
type Sequence struct {
	r      *Runner
	blocks []int32 // the block of positions [i·KVBlockSize, (i+1)·KVBlockSize)
	n      int     // positions stored
	tail   []int32 // tokens of the positions in the last, partial block (with PrefixCache)
	prev   blockDigest
	reused int
}

// NewSequence starts an empty sequence; it takes KV blocks as its tokens are evaluated.
func (r *Runner) NewSequence() *Sequence { return &Sequence{r: r} }

// Len is the number of positions the sequence holds.
func (s *Sequence) Len() int { return s.n }

// Reused is the number of positions the last ReusePrefix took from the prefix cache.
func (s *Sequence) Reused() int { return s.reused }

// Free gives the sequence's blocks back (published ones stay in the prefix cache) and empties it.
func (s *Sequence) Free() {
	for _, b := range s.blocks {
		s.r.pool.release(b)
	}
	s.blocks, s.n, s.tail, s.prev, s.reused = s.blocks[:0], 0, s.tail[:0], blockDigest{}, 0
}

// ReusePrefix, on an empty sequence of a runner with PrefixCache, takes the published blocks that hold a
// prefix of tokens — whole blocks, and never the last token, whose logits the caller needs — and returns the
// number of positions taken: evaluation goes on from tokens[n:].
func (s *Sequence) ReusePrefix(tokens []int32) int {
	if s.n != 0 || len(s.blocks) != 0 || !s.r.o.PrefixCache {
		return 0
	}
	for len(tokens)-s.n > KVBlockSize {
		d := chainDigest(s.prev, tokens[s.n:s.n+KVBlockSize])
		b, ok := s.r.pool.lookup(d)
		if !ok {
			break
		}
		s.blocks = append(s.blocks, b)
		s.n += KVBlockSize
		s.prev = d
	}
	s.reused = s.n
	return s.n
}

// LogitsMode says which logits a chunk wants.
type LogitsMode uint8

const (
	NoLogits   LogitsMode = iota // none (a prompt chunk that is not the last)
	LastLogits                   // its last token's
	AllLogits                    // every token's (perplexity, scoring)
)

// Chunk is a sequence's share of a step: tokens to append to it.
type Chunk struct {
	Seq    *Sequence
	Tokens []int32
	Logits LogitsMode
	// Capture, when set, is called for every layer with the chunk's positions and returns where that layer's
	// attention probabilities go (see AttentionParams.Capture; rows indexed by the chunk's tokens), or nil.
	Capture func(layer int, pos []int32) [][][]float32
}

// ErrStep is wrapped by the errors of a step that was refused before anything ran (bad chunks).
var ErrStep = errors.New("bad step")

// Step appends each chunk's tokens to its sequence in one forward pass and returns the logits the chunks
// want, row after row in chunk order ([rows][vocab], appended to out[:0]). It returns ErrNoKVBlocks, having
// changed nothing, when the pool lacks blocks for the step.
func (r *Runner) Step(chunks []Chunk, out []float32) ([]float32, error) {
	o, vocab := r.o, r.m.Config.VocabSize
	if r.closed.Load() {
		return nil, fmt.Errorf("%w: the runner was closed", ErrClosed)
	}
	if len(chunks) == 0 || len(chunks) > o.Sequences {
		return nil, fmt.Errorf("%w: %d chunks in a step of at most %d sequences", ErrStep, len(chunks), o.Sequences)
	}
	n, rows, need := 0, 0, 0
	for i, c := range chunks {
		if len(c.Tokens) == 0 || c.Seq == nil || c.Seq.r != r {
			return nil, fmt.Errorf("%w: chunk %d has no tokens or no sequence of this runner", ErrStep, i)
		}
		for _, d := range chunks[:i] {
			if d.Seq == c.Seq {
				return nil, fmt.Errorf("%w: a sequence appears twice in one step", ErrStep)
			}
		}
		if c.Seq.n+len(c.Tokens) > o.Context {
			return nil, fmt.Errorf("%w: %d tokens after %d already in the sequence exceed the context of %d positions (use a larger --ctx)",
				ErrContextFull, len(c.Tokens), c.Seq.n, o.Context)
		}
		n += len(c.Tokens)
		switch c.Logits {
		case LastLogits:
			rows++
		case AllLogits:
			rows += len(c.Tokens)
		}
		need += max(0, blocksFor(c.Seq.n+len(c.Tokens))-len(c.Seq.blocks))
	}
	if n > o.Batch || rows > o.LogitRows {
		return nil, fmt.Errorf("%w: %d tokens and %d logit rows exceed the step's %d tokens and %d rows", ErrStep, n, rows, o.Batch, o.LogitRows)
	}
	if need > r.pool.Available() {
		return nil, fmt.Errorf("%w: the step needs %d, %d are free", ErrNoKVBlocks, need, r.pool.Available())
	}
	stride := 0
	for _, c := range chunks {
		s := c.Seq
		for len(s.blocks) < blocksFor(s.n+len(c.Tokens)) {
			b, ok := r.pool.alloc()
			if !ok {
				panic("engine: the KV pool ran out after it was checked")
			}
			s.blocks = append(s.blocks, b)
		}
		stride = max(stride, len(s.blocks))
	}
	kb := &r.kb
	kb.Pos, kb.Slot, kb.Seq, kb.Stride = kb.Pos[:0], kb.Slot[:0], kb.Seq[:0], stride
	kb.Tables = kb.Tables[:0]
	r.ids, r.rows = r.ids[:0], r.rows[:0]
	for i, c := range chunks {
		s := c.Seq
		kb.Tables = append(kb.Tables, s.blocks...)
		for range stride - len(s.blocks) {
			kb.Tables = append(kb.Tables, -1)
		}
		for j := range c.Tokens {
			p := s.n + j
			kb.Pos = append(kb.Pos, int32(p))
			kb.Slot = append(kb.Slot, s.blocks[p/KVBlockSize]*KVBlockSize+int32(p%KVBlockSize))
			kb.Seq = append(kb.Seq, int32(i))
			if c.Logits == AllLogits || c.Logits == LastLogits && j == len(c.Tokens)-1 {
				r.rows = append(r.rows, int32(len(r.ids)))
			}
			r.ids = append(r.ids, c.Tokens[j])
		}
	}
	r.m.step.Lock()
	defer r.m.step.Unlock()
	if r.closed.Load() { // closed while this step was being prepared
		for _, c := range chunks {
			c.Seq.trim()
		}
		return nil, fmt.Errorf("%w: the runner was closed", ErrClosed)
	}
	if err := r.forward(chunks); err != nil {
		for _, c := range chunks { // give back the blocks taken for positions that were not stored
			c.Seq.trim()
		}
		return nil, fmt.Errorf("forward pass at position %d: %w", chunks[0].Seq.n, err)
	}
	for _, c := range chunks {
		c.Seq.advance(c.Tokens)
	}
	if len(r.rows) == 0 {
		return out[:0], nil
	}
	if need := len(r.rows) * vocab; cap(out) >= need {
		out = out[:need]
	} else {
		out = make([]float32, need)
	}
	lp := r.parts[len(r.parts)-1]
	if err := lp.b.Read(out, lp.logits, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// trim releases the blocks beyond those that hold the sequence's positions.
func (s *Sequence) trim() {
	keep := blocksFor(s.n)
	for _, b := range s.blocks[keep:] {
		s.r.pool.release(b)
	}
	s.blocks = s.blocks[:keep]
}

// advance records tokens as stored and, with PrefixCache, publishes the blocks they fill.
func (s *Sequence) advance(tokens []int32) {
	if !s.r.o.PrefixCache {
		s.n += len(tokens)
		return
	}
	for _, t := range tokens {
		s.tail = append(s.tail, t)
		s.n++
		if len(s.tail) == KVBlockSize {
			s.prev = chainDigest(s.prev, s.tail)
			s.r.pool.publish(s.blocks[s.n/KVBlockSize-1], s.prev)
			s.tail = s.tail[:0]
		}
	}
}

// forward runs the model on the step's tokens (r.ids, placed as r.kb says) and leaves the logits of the
// rows r.rows in the last part's buffer.
func (r *Runner) forward(chunks []Chunk) error {
	m := r.m
	n := len(r.ids)
	capture := r.captureFor(chunks)
	p := r.parts[0]
	o := &p.ops
	o.begin(n, &r.kb, capture)
	o.Embed(p.x, m.tokEmbd, r.ids)
	for l := range m.layers {
		if next := r.parts[m.layerOn[l]]; next != p { // hand the residual stream to the next backend
			if err := r.move(p, next, n); err != nil {
				return err
			}
			p, o = next, &next.ops
			o.begin(n, &r.kb, capture)
		}
		m.layer(o, p, l)
	}
	if last := r.parts[len(r.parts)-1]; p != last { // a model with no layers on the last backend
		if err := r.move(p, last, n); err != nil {
			return err
		}
		p, o = last, &last.ops
		o.begin(n, &r.kb, capture)
	}
	r.head(o, p)
	return o.finish()
}

// layer is transformer block l on the pass's tokens: pre-norm attention, then a pre-norm SwiGLU
// feed-forward, each added to the residual stream x.
func (m *Model) layer(o *ops, s *part, l int) {
	w, cl := &m.layers[l], l-s.firstLayer
	// x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
	o.RMSNorm(s.xb, s.x, w.attnNorm)
	o.MatMuls(s.qkv, w.qkv, s.xb)
	o.RoPEStoreKV(s.q, s.k, s.v, cl)
	o.Attention(s.att, s.q, cl, l)
	o.Residual(s.x, w.wo, s.att)
	// x += W_down · (silu(W_gate·norm(x)) ⊙ W_up·norm(x))
	o.RMSNorm(s.xb, s.x, w.ffnNorm)
	o.SwiGLU(s.gateUp, w.gateUp, s.xb)
	o.Residual(s.x, w.wDown, s.gate)
}

// head computes logits = W_out · norm(x) for the rows r.rows.
func (r *Runner) head(o *ops, p *part) {
	m, rows := r.m, r.rows
	if len(rows) == 0 {
		o.flush()
		return
	}
	if len(rows) == o.n { // every row: one norm, fused with the last residual add
		o.RMSNorm(p.xb, p.x, m.outNorm)
		o.MatMul(p.logits, m.output, p.xb, o.n)
		return
	}
	e := m.Config.EmbeddingLength
	for i := 0; i < len(rows); { // runs of consecutive rows, gathered at the start of xb
		j := i + 1
		for j < len(rows) && rows[j] == rows[j-1]+1 {
			j++
		}
		o.RMSNormRows(p.b.View(p.xb, i*e, (j-i)*e), p.b.View(p.x, int(rows[i])*e, (j-i)*e), m.outNorm, j-i)
		i = j
	}
	o.MatMul(p.logits, m.output, p.xb, len(rows))
}

// captureFor returns the capture hook of a step: each chunk's rows in the batch's rows, or nil when no
// chunk captures.
func (r *Runner) captureFor(chunks []Chunk) func(layer int) [][][]float32 {
	any := false
	for _, c := range chunks {
		any = any || c.Capture != nil
	}
	if !any {
		return nil
	}
	heads, n := r.m.Config.HeadCount, len(r.ids)
	return func(layer int) [][][]float32 {
		var all [][][]float32
		start := 0
		for _, c := range chunks {
			k := len(c.Tokens)
			if c.Capture != nil {
				if dst := c.Capture(layer, r.kb.Pos[start:start+k]); dst != nil {
					if len(chunks) == 1 {
						return dst
					}
					if all == nil {
						all = make([][][]float32, heads)
					}
					for h, rows := range dst {
						if rows != nil {
							if all[h] == nil {
								all[h] = make([][]float32, n)
							}
							copy(all[h][start:], rows)
						}
					}
				}
			}
			start += k
		}
		return all
	}
}

// move copies the residual stream of n tokens from one part's backend to the next one's.
func (r *Runner) move(from, to *part, n int) error {
	if err := from.ops.finish(); err != nil {
		return err
	}
	buf := r.hostX[:n*r.m.Config.EmbeddingLength]
	if err := from.b.Read(buf, from.x, 0); err != nil {
		return err
	}
	return to.b.Write(to.x, buf, 0)
}
