package engine

// ops runs the operations of one forward pass on one part's backend. It decides fusion, so that the model
// reads as its math: an operation the backend offers fused runs fused, else as its unfused equivalent; a
// residual add is held back for one call and fuses with the RMSNorm of the same stream that follows
// (MatMulAddNorm), or runs on its own (MatMulAdd) before anything else. The first error sticks: every later
// call does nothing, as with bufio.Writer, so that nothing reads what a failed step did not write (and a GPU
// is not handed more work after a failure).
type ops struct {
	b       Backend // the part's backend, without its fused operations when the model is loaded Unfused
	n       int     // tokens in the pass
	eps     float32
	kv      *KVBatch
	cache   KVCache
	rope    RopeParams
	attn    AttentionParams
	capture func(layer int) [][][]float32 // the destination of a layer's attention probabilities, or nil
	tmp     Buffer                        // [n][embd]: a residual's product where the backend cannot add in place
	held    residual
	err     error
	pass    Passer // the backend's, while it brackets this pass (see Passer), else nil
}

// residual is x += w·in, held back to fuse with what follows (x == nil: none).
type residual struct {
	x, in Buffer
	w     Weight
}

// begin starts a pass of n tokens placed in the cache as kv says.
func (o *ops) begin(n int, kv *KVBatch, capture func(layer int) [][][]float32) {
	o.n, o.kv, o.capture, o.held, o.err, o.pass = n, kv, capture, residual{}, nil, nil
	b := o.b
	if u, ok := b.(unfused); ok { // unfused hides the fused operations, not the graphs
		b = u.Backend
	}
	if p, ok := b.(Passer); ok && capture == nil { // capture reads probabilities back in the middle of the pass
		o.pass = p
		p.BeginPass(n)
	}
}

// finish runs what is held back, ends the backend's pass, and returns the first error.
func (o *ops) finish() error {
	o.flush()
	if p := o.pass; p != nil {
		o.pass = nil
		if err := p.EndPass(o.err == nil); o.err == nil {
			o.err = err
		}
	}
	return o.err
}

func (o *ops) flush() {
	if h := o.held; h.x != nil {
		o.held = residual{}
		if o.err == nil {
			o.err = MatMulAdd(o.b, h.x, o.tmp, h.w, h.in, o.n)
		}
	}
}

// Embed: dst[t] = table[ids[t]].
func (o *ops) Embed(dst Buffer, table Weight, ids []int32) {
	if o.flush(); o.err == nil {
		o.err = o.b.Embed(dst, table, ids)
	}
}

// RMSNorm: dst = x / rms(x) ⊙ w, for the pass's tokens; it completes a held residual add into x.
func (o *ops) RMSNorm(dst, x Buffer, w Weight) {
	if h := o.held; h.x != nil && h.x == x {
		o.held = residual{}
		if o.err == nil {
			o.err = MatMulAddNorm(o.b, x, o.tmp, h.w, h.in, o.n, dst, w, o.eps)
		}
		return
	}
	o.RMSNormRows(dst, x, w, o.n)
}

// RMSNormRows is RMSNorm of n rows.
func (o *ops) RMSNormRows(dst, x Buffer, w Weight, n int) {
	if o.flush(); o.err == nil {
		o.err = o.b.RMSNorm(dst, x, w, n, o.eps)
	}
}

// MatMul: dst = w·x for n rows.
func (o *ops) MatMul(dst Buffer, w Weight, x Buffer, n int) {
	if o.flush(); o.err == nil {
		o.err = o.b.MatMul(dst, w, x, n)
	}
}

// MatMuls: dsts[i] = ws[i]·x, with x prepared once.
func (o *ops) MatMuls(dsts []Buffer, ws []Weight, x Buffer) {
	if o.flush(); o.err == nil {
		o.err = MatMuls(o.b, dsts, ws, x, o.n)
	}
}

// RoPEStoreKV rotates q and k at the tokens' positions and stores k and v in the cache's layer.
func (o *ops) RoPEStoreKV(q, k, v Buffer, cacheLayer int) {
	if o.flush(); o.err == nil {
		a := &o.attn
		o.err = RoPEStoreKV(o.b, q, k, v, o.cache, cacheLayer, o.kv, a.Heads, a.KVHeads, a.HeadDim, o.rope)
	}
}

// Attention: out = softmax(q·Kᵀ·scale)·V over each token's sequence, from the cache's layer; layer is the
// model's layer, for the capture.
func (o *ops) Attention(out, q Buffer, cacheLayer, layer int) {
	if o.flush(); o.err == nil {
		o.attn.Layer, o.attn.Capture = cacheLayer, nil
		if o.capture != nil {
			o.attn.Capture = o.capture(layer)
		}
		o.err = o.b.Attention(out, q, o.cache, o.kv, o.attn)
	}
}

// Residual: x += w·in, held back to fuse with an RMSNorm of x that follows.
func (o *ops) Residual(x Buffer, w Weight, in Buffer) {
	o.flush()
	o.held = residual{x: x, w: w, in: in}
}

// SwiGLU: dsts[0] = silu(ws[0]·x) ⊙ ws[1]·x, with dsts[1] as scratch.
func (o *ops) SwiGLU(dsts []Buffer, ws []Weight, x Buffer) {
	if o.flush(); o.err == nil {
		o.err = MatMulSwiGLU(o.b, dsts, ws, x, o.n)
	}
}
