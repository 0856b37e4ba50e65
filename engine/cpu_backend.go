package engine

import (
	"fmt"
	"math"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/gguf"
)

// CPU is the pure-Go reference backend. Weights are used in place from the mapped file.
type CPU struct {
	pool       *cpu.Pool
	rope       *cpu.RopeTable // cos/sin for the positions seen so far, grown by doubling
	ropeParams RopeParams
	attn       attnTask
	attnFn     func(lo, hi, worker int) // attn.run, bound once so that Attention allocates nothing
}

// NewCPU returns a CPU backend with threads workers (all cores when ≤ 0).
func NewCPU(threads int) *CPU {
	b := &CPU{pool: cpu.NewPool(threads)}
	b.attn.pool = b.pool
	b.attnFn = b.attn.run
	return b
}

// SetActivationBits chooses the precision of the activations in quantized matrix products: 16 bits (the
// default: logits within ~1e-8 NMSE of the exact ones) or 8 (llama.cpp's: ~5e-4, and faster where the
// 16-bit kernels cannot keep up — on CPUs with AVX-512 VNNI, VPDPBUSD kernels take the bytes). Every path
// rounds the same way, so a sequence's logits depend on what it is batched with only by float rounding
// (~1e-4 NMSE at 8 bits: a batch's order of sums can tip a value to the next 8-bit step) — and not at all
// through matrices packed at load (cpu.Weight.Pack, on CPUs with AVX-512 VNNI: Q4_0, Q8_0, Q4_K and Q6_K),
// whose products fold as the tiles do whatever the batch. It may change between forward passes (not
// during one): the packed rows have kernels at both precisions.
func (b *CPU) SetActivationBits(bits int) error { return b.pool.SetActivationBits(bits) }

// ActivationBits is the precision SetActivationBits chose.
func (b *CPU) ActivationBits() int { return b.pool.ActivationBits() }

type cpuBuffer struct{ v []float32 }

func (b *cpuBuffer) Len() int { return len(b.v) }

type cpuWeight struct {
	w   cpu.Weight
	vec []float32 // 1-D weights (norms) as float32
}

func (w *cpuWeight) Shape() (int, int) { return w.w.Rows, w.w.Cols }
func (w *cpuWeight) Type() gguf.Type   { return w.w.Type }

// cpuKV is a paged cache: per layer, keys and values as cpu.KVLayout lays them out, in float32 (k, v) or
// in half precision (k16, v16; the others nil).
type cpuKV struct {
	k, v     []float32 // [layer][lay.Len()]
	k16, v16 []uint16
	lay      cpu.KVLayout
}

func (c *cpuKV) Blocks() int    { return c.lay.Blocks }
func (c *cpuKV) BlockSize() int { return c.lay.BlockSize }

// layer returns one layer's keys and values: float32 or half precision, whichever the cache keeps.
func (c *cpuKV) layer(l int) (k, v []float32, k16, v16 []uint16) {
	n := c.lay.Len()
	if c.k16 != nil {
		return nil, nil, c.k16[l*n : (l+1)*n], c.v16[l*n : (l+1)*n]
	}
	return c.k[l*n : (l+1)*n], c.v[l*n : (l+1)*n], nil, nil
}

func (*CPU) Name() string { return "cpu" }

// Threads is the number of worker threads.
func (b *CPU) Threads() int { return b.pool.Threads() }

func (b *CPU) LoadWeight(name string, typ gguf.Type, rows, cols int, data []byte) (Weight, error) {
	w := &cpuWeight{w: cpu.Weight{Type: typ, Rows: rows, Cols: cols, Data: data}}
	if err := w.w.Check(); err != nil {
		return nil, fmt.Errorf("weight %s: %w", name, err)
	}
	if rows == 1 {
		w.vec = make([]float32, cols)
		w.w.Row(0, w.vec)
	}
	// Matrices the packed kernels take in rows across lanes (cpu.Weight.Pack: Q4_0, Q8_0, Q4_K and Q6_K,
	// with kernels at both precisions) are rewritten once here (the same size; the k-quants
	// 1–3% larger) and the mapped pages dropped, so resident memory holds one copy (an anonymous one: not
	// shared with other processes mapping the file). The token table is left as it is: it is read a row at
	// a time, not multiplied. Where model files are read into memory rather than mapped (gguf.MapsFiles),
	// a packed copy could not give the file's pages back: nothing is packed there.
	if gguf.MapsFiles && name != "token_embd.weight" && w.w.Pack() {
		gguf.ReleasePages(data)
	}
	return w, nil
}

func (b *CPU) Alloc(n int) (Buffer, error) { return &cpuBuffer{make([]float32, n)}, nil }

func (b *CPU) View(buf Buffer, off, n int) Buffer { return &cpuBuffer{vec(buf)[off : off+n]} }

// SupportsKVType implements KVTypeSupporter: float32 and half precision.
func (b *CPU) SupportsKVType(t gguf.Type) bool { return t == gguf.TypeF32 || t == gguf.TypeF16 }

func (b *CPU) NewKVCache(s KVSpec) (KVCache, error) {
	if s.BlockSize <= 0 || s.BlockSize%cpu.KTile != 0 || s.Blocks <= 0 {
		return nil, fmt.Errorf("a KV cache needs blocks of a positive multiple of %d positions, got %d blocks of %d", cpu.KTile, s.Blocks, s.BlockSize)
	}
	if s.KVHeads <= 0 || s.HeadDim <= 0 {
		return nil, fmt.Errorf("a KV cache needs heads of values, got %d heads of %d", s.KVHeads, s.HeadDim)
	}
	l := cpu.KVLayout{Blocks: s.Blocks, BlockSize: s.BlockSize, KVHeads: s.KVHeads, HeadDim: s.HeadDim}
	n := s.Layers * l.Len()
	switch s.Type {
	case gguf.TypeF32:
		return &cpuKV{k: make([]float32, n), v: make([]float32, n), lay: l}, nil
	case gguf.TypeF16:
		return &cpuKV{k16: make([]uint16, n), v16: make([]uint16, n), lay: l}, nil
	}
	return nil, fmt.Errorf("a KV cache of %s is not supported on the CPU: f32 or f16", KVTypeName(s.Type))
}

func vec(b Buffer) []float32 { return b.(*cpuBuffer).v }
func wt(w Weight) *cpuWeight { return w.(*cpuWeight) }
func kvOf(c KVCache) *cpuKV  { return c.(*cpuKV) }

func (b *CPU) Embed(dst Buffer, table Weight, ids []int32) error {
	t, d := wt(table), vec(dst)
	for i, id := range ids {
		if id < 0 || int(id) >= t.w.Rows {
			return fmt.Errorf("token id %d is outside the vocabulary of %d", id, t.w.Rows)
		}
		t.w.Row(int(id), d[i*t.w.Cols:(i+1)*t.w.Cols])
	}
	return nil
}

func (b *CPU) RMSNorm(dst, x Buffer, w Weight, n int, eps float32) error {
	wv := wt(w).vec
	d, xv, dim := vec(dst), vec(x), len(wv)
	for t := 0; t < n; t++ {
		cpu.RMSNorm(d[t*dim:(t+1)*dim], xv[t*dim:(t+1)*dim], wv, eps)
	}
	return nil
}

func (b *CPU) MatMul(dst Buffer, w Weight, x Buffer, n int) error {
	cpu.MatMul(b.pool, vec(dst), &wt(w).w, vec(x), n)
	return nil
}

// MatMuls implements MultiMatMuler: the input is rounded to integers once for all the products.
func (b *CPU) MatMuls(dsts []Buffer, ws []Weight, x Buffer, n int) error {
	var ds [4][]float32
	var cw [4]*cpu.Weight
	if len(ws) > len(cw) {
		for i := range ws {
			if err := b.MatMul(dsts[i], ws[i], x, n); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range ws {
		ds[i], cw[i] = vec(dsts[i]), &wt(ws[i]).w
	}
	cpu.MatMuls(b.pool, ds[:len(ws)], cw[:len(ws)], vec(x), n)
	return nil
}

func (b *CPU) RoPE(q, k Buffer, pos []int32, heads, kvHeads, headDim int, p RopeParams) error {
	need := 0
	for _, ps := range pos {
		need = max(need, int(ps)+1)
	}
	if p.Dims < 0 || p.Dims%2 != 0 || p.Dims > headDim {
		return fmt.Errorf("rope dimension count %d must be even, from 0 to the head size %d", p.Dims, headDim)
	}
	tab := b.rope
	if same := tab != nil && sameRope(b.ropeParams, p); !same || tab.Positions() < need {
		// Grow by doubling only when the same table runs out of positions; new parameters start afresh (a
		// comparison that is never equal, such as NaN's, must not double the table on every call).
		n := max(need, 256)
		if same {
			n = max(n, 2*b.ropeLen())
		}
		tab = cpu.NewRopeTable(n, p.Dims, p.Base, p.FreqScale, p.Factors)
		b.rope, b.ropeParams = tab, p
	}
	qv, kv := vec(q), vec(k)
	for t, ps := range pos {
		tab.Apply(qv[t*heads*headDim:(t+1)*heads*headDim], heads, headDim, int(ps))
		tab.Apply(kv[t*kvHeads*headDim:(t+1)*kvHeads*headDim], kvHeads, headDim, int(ps))
	}
	return nil
}

// sameRope compares rope parameters bit for bit (NaN equals NaN here).
func sameRope(a, b RopeParams) bool {
	if a.Dims != b.Dims || math.Float64bits(a.Base) != math.Float64bits(b.Base) ||
		math.Float64bits(a.FreqScale) != math.Float64bits(b.FreqScale) || len(a.Factors) != len(b.Factors) {
		return false
	}
	for i := range a.Factors {
		if math.Float32bits(a.Factors[i]) != math.Float32bits(b.Factors[i]) {
			return false
		}
	}
	return true
}

func (b *CPU) ropeLen() int {
	if b.rope == nil {
		return 0
	}
	return b.rope.Positions()
}

func (b *CPU) StoreKV(c KVCache, layer int, k, v Buffer, slots []int32) error {
	kv, kk, vv := kvOf(c), vec(k), vec(v)
	keys, vals, keys16, vals16 := kv.layer(layer)
	hd := kv.lay.HeadDim
	d := kv.lay.KVHeads * hd
	for t, slot := range slots {
		if slot < 0 || int(slot) >= kv.Blocks()*kv.BlockSize() {
			return fmt.Errorf("slot %d is outside the KV cache of %d blocks of %d positions", slot, kv.Blocks(), kv.BlockSize())
		}
		blk, p := int(slot)/kv.BlockSize(), int(slot)%kv.BlockSize()
		if keys16 != nil {
			for i, x := range kk[t*d : (t+1)*d] {
				keys16[kv.lay.K(blk, p, i)] = gguf.FP32ToFP16(x)
			}
			for h := 0; h < d; h += hd {
				cpu.StoreF16(vals16[kv.lay.V(blk, p, h):][:hd], vv[t*d+h:t*d+h+hd])
			}
			continue
		}
		for i, x := range kk[t*d : (t+1)*d] {
			keys[kv.lay.K(blk, p, i)] = x
		}
		for h := 0; h < d; h += hd {
			copy(vals[kv.lay.V(blk, p, h):][:hd], vv[t*d+h:t*d+h+hd])
		}
	}
	return nil
}

func (b *CPU) Attention(out, q Buffer, c KVCache, kb *KVBatch, p AttentionParams) error {
	kv := kvOf(c)
	if err := b.attn.set(vec(out), vec(q), kv, kb, p); err != nil {
		return err
	}
	b.pool.For(len(b.attn.tasks), 1, b.attnFn)
	return nil
}

// attnTask is the parallel loop of Attention with its arguments. Queries go in the order (run of tokens of
// one sequence, KV head, token, query head of the group), per queries a call (up to cpu.AttnMaxQueries), so
// that the queries of one call read the same keys and values, from memory once; tasks lists the calls.
type attnTask struct {
	pool         *cpu.Pool
	o, qv        []float32
	kv           *cpuKV
	kb           *KVBatch
	p            AttentionParams
	maxPos       int
	keys, values []float32
	k16, v16     []uint16 // a half-precision cache's layer instead
	tasks        []attnCall
	runs         [][2]int32 // the runs of tokens of one sequence, [first, end)
	per          int        // queries per call
}

// attnCall is up to attnTask.per queries of tokens [first, end) of one sequence: (token, head of the group)
// pairs number from pair, for KV head kh.
type attnCall struct {
	first, end int32 // the run of tokens of one sequence
	kh, pair   int32
}

func (a *attnTask) set(o, qv []float32, kv *cpuKV, kb *KVBatch, p AttentionParams) error {
	a.o, a.qv, a.kv, a.kb, a.p = o, qv, kv, kb, p
	if p.HeadDim != kv.lay.HeadDim || p.KVHeads != kv.lay.KVHeads {
		return fmt.Errorf("attention over %d KV heads of %d values, but the KV cache holds %d heads of %d", p.KVHeads, p.HeadDim, kv.lay.KVHeads, kv.lay.HeadDim)
	}
	if p.Layer < 0 || (p.Layer+1)*kv.lay.Len() > max(len(kv.k), len(kv.k16)) {
		return fmt.Errorf("attention in layer %d of a KV cache of %d layers", p.Layer, max(len(kv.k), len(kv.k16))/kv.lay.Len())
	}
	a.keys, a.values, a.k16, a.v16 = kv.layer(p.Layer)
	a.maxPos = 0
	a.runs = a.runs[:0]
	group := p.Heads / p.KVHeads
	n := kb.Len()
	for first := 0; first < n; {
		end := first + 1
		for end < n && kb.Seq[end] == kb.Seq[first] {
			end++
		}
		runMax := 0 // the positions the run's calls read: up to its largest (Attend reads as far as a call's largest)
		for t := first; t < end; t++ {
			need := int(kb.Pos[t]) + 1
			if need > (kb.Stride)*kv.BlockSize() || kb.Pos[t] < 0 {
				return fmt.Errorf("position %d is outside its block table of %d blocks of %d positions", kb.Pos[t], kb.Stride, kv.BlockSize())
			}
			runMax = max(runMax, need)
		}
		a.maxPos = max(a.maxPos, runMax)
		for _, blk := range kb.Table(kb.Seq[first])[:(runMax+kv.BlockSize()-1)/kv.BlockSize()] {
			if blk < 0 || int(blk) >= kv.Blocks() {
				return fmt.Errorf("block %d is outside the KV cache of %d blocks", blk, kv.Blocks())
			}
		}
		a.runs = append(a.runs, [2]int32{int32(first), int32(end)})
		first = end
	}
	// As many queries per call as keep every thread busy (two calls each at least): fewer, larger calls
	// read the keys and values fewer times, but one token's decoding has only KV heads × group/per calls.
	calls := func(per int) (c int) {
		for _, r := range a.runs {
			c += p.KVHeads * ((int(r[1]-r[0])*group + per - 1) / per)
		}
		return c
	}
	a.per = cpu.AttnMaxQueries
	for a.per > 4 && calls(a.per) < 2*a.pool.Threads() {
		a.per /= 2
	}
	a.tasks = a.tasks[:0]
	for _, r := range a.runs {
		pairs := int(r[1]-r[0]) * group
		for kh := 0; kh < p.KVHeads; kh++ {
			for pair := 0; pair < pairs; pair += a.per {
				a.tasks = append(a.tasks, attnCall{first: r[0], end: r[1], kh: int32(kh), pair: int32(pair)})
			}
		}
	}
	return nil
}

func (a *attnTask) run(lo, hi, worker int) {
	p, kv := a.p, a.kv
	hd, group := p.HeadDim, p.Heads/p.KVHeads
	width := p.Heads * hd
	scratch := a.pool.Scratch(worker, cpu.AttnScratch(a.maxPos, kv.BlockSize()))
	var aq cpu.AttnQueries
	for _, c := range a.tasks[lo:hi] {
		pairs := int(c.end-c.first) * group
		aq.Count = min(a.per, pairs-int(c.pair))
		for i := 0; i < aq.Count; i++ {
			t, h := int(c.first)+(int(c.pair)+i)/group, int(c.kh)*group+(int(c.pair)+i)%group
			aq.Q[i] = a.qv[t*width+h*hd : t*width+(h+1)*hd]
			aq.Out[i] = a.o[t*width+h*hd : t*width+(h+1)*hd]
			aq.N[i] = int(a.kb.Pos[t]) + 1
			aq.Probs[i] = nil
			if p.Capture != nil && p.Capture[h] != nil {
				aq.Probs[i] = p.Capture[h][t]
			}
		}
		table := a.kb.Table(a.kb.Seq[c.first])
		if a.k16 != nil {
			cpu.AttendF16(&aq, a.k16, a.v16, table, kv.lay, int(c.kh), p.Scale, scratch)
		} else {
			cpu.Attend(&aq, a.keys, a.values, table, kv.lay, int(c.kh), p.Scale, scratch)
		}
	}
}

func (b *CPU) SwiGLU(dst, gate, up Buffer, n int) error {
	cpu.SwiGLU(vec(dst)[:n], vec(gate)[:n], vec(up)[:n])
	return nil
}

func (b *CPU) Add(dst, x Buffer, n int) error {
	cpu.Add(vec(dst)[:n], vec(x)[:n])
	return nil
}

func (b *CPU) Read(dst []float32, src Buffer, off int) error {
	copy(dst, vec(src)[off:off+len(dst)])
	return nil
}

func (b *CPU) Write(dst Buffer, src []float32, off int) error {
	copy(vec(dst)[off:off+len(src)], src)
	return nil
}

func (b *CPU) Close() error {
	b.pool.Close()
	return nil
}
