package engine

import (
	"fmt"

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

type cpuBuffer struct{ v []float32 }

func (b *cpuBuffer) Len() int { return len(b.v) }

type cpuWeight struct {
	w   cpu.Weight
	vec []float32 // 1-D weights (norms) as float32
}

func (w *cpuWeight) Shape() (int, int) { return w.w.Rows, w.w.Cols }
func (w *cpuWeight) Type() gguf.Type   { return w.w.Type }

type cpuKV struct {
	k                []float32 // [layer] tiled keys (cpu.KIndex) of tiled positions
	v                []float32 // [layer][position][kvDim]
	positions, kvDim int
	tiled            int // positions rounded up to whole key tiles
}

func (c *cpuKV) Capacity() int { return c.positions }

// keys returns one layer's tiled keys.
func (c *cpuKV) keys(layer int) []float32 {
	n := c.tiled * c.kvDim
	return c.k[layer*n : (layer+1)*n]
}

func (c *cpuKV) at(buf []float32, layer, pos int) []float32 {
	off := (layer*c.positions + pos) * c.kvDim
	return buf[off : off+c.kvDim]
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
	return w, nil
}

func (b *CPU) Alloc(n int) (Buffer, error) { return &cpuBuffer{make([]float32, n)}, nil }

func (b *CPU) View(buf Buffer, off, n int) Buffer { return &cpuBuffer{vec(buf)[off : off+n]} }

func (b *CPU) NewKVCache(layers, positions, kvDim int) (KVCache, error) {
	tiled := (positions + cpu.KTile - 1) / cpu.KTile * cpu.KTile
	return &cpuKV{k: make([]float32, layers*tiled*kvDim), v: make([]float32, layers*positions*kvDim),
		positions: positions, kvDim: kvDim, tiled: tiled}, nil
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
	tab := b.rope
	if tab == nil || tab.Positions() < need || b.ropeParams.Dims != p.Dims || b.ropeParams.Base != p.Base ||
		b.ropeParams.FreqScale != p.FreqScale || len(b.ropeParams.Factors) != len(p.Factors) {
		tab = cpu.NewRopeTable(max(need, 2*b.ropeLen(), 256), p.Dims, p.Base, p.FreqScale, p.Factors)
		b.rope, b.ropeParams = tab, p
	}
	qv, kv := vec(q), vec(k)
	for t, ps := range pos {
		tab.Apply(qv[t*heads*headDim:(t+1)*heads*headDim], heads, headDim, int(ps))
		tab.Apply(kv[t*kvHeads*headDim:(t+1)*kvHeads*headDim], kvHeads, headDim, int(ps))
	}
	return nil
}

func (b *CPU) ropeLen() int {
	if b.rope == nil {
		return 0
	}
	return b.rope.Positions()
}

func (b *CPU) StoreKV(c KVCache, layer int, k, v Buffer, pos []int32) error {
	kv, kk, vv := kvOf(c), vec(k), vec(v)
	for t, p := range pos {
		if int(p) >= kv.positions || p < 0 {
			return fmt.Errorf("position %d is outside the KV cache of %d positions", p, kv.positions)
		}
		keys := kv.keys(layer)
		for d, x := range kk[t*kv.kvDim : (t+1)*kv.kvDim] {
			keys[cpu.KIndex(int(p), d, kv.kvDim)] = x
		}
		copy(kv.at(kv.v, layer, int(p)), vv[t*kv.kvDim:(t+1)*kv.kvDim])
	}
	return nil
}

func (b *CPU) Attention(out, q Buffer, c KVCache, pos []int32, p AttentionParams) error {
	kv := kvOf(c)
	maxPos := 0
	for _, ps := range pos {
		maxPos = max(maxPos, int(ps)+1)
	}
	group := p.Heads / p.KVHeads
	// Queries in the order (KV head, token, query head of the group), four at a time within a KV head, so
	// that the queries of one call read the same keys.
	b.attn.set(vec(out), vec(q), kv, pos, p, maxPos)
	b.pool.For(p.KVHeads*((len(pos)*group+3)/4), 1, b.attnFn)
	return nil
}

// attnTask is the parallel loop of Attention with its arguments.
type attnTask struct {
	pool           *cpu.Pool
	o, qv          []float32
	kv             *cpuKV
	pos            []int32
	p              AttentionParams
	maxPos         int
	keys, values   []float32
	perKV, tilesKV int
}

func (a *attnTask) set(o, qv []float32, kv *cpuKV, pos []int32, p AttentionParams, maxPos int) {
	a.o, a.qv, a.kv, a.pos, a.p, a.maxPos = o, qv, kv, pos, p, maxPos
	a.keys = kv.keys(p.Layer)
	a.values = kv.v[p.Layer*kv.positions*kv.kvDim : (p.Layer+1)*kv.positions*kv.kvDim]
	a.perKV = len(pos) * (p.Heads / p.KVHeads)
	a.tilesKV = (a.perKV + 3) / 4
}

func (a *attnTask) run(lo, hi, worker int) {
	p, kv := a.p, a.kv
	hd, group := p.HeadDim, p.Heads/p.KVHeads
	width := p.Heads * hd
	scratch := a.pool.Scratch(worker, cpu.AttnScratch(a.maxPos))
	var aq cpu.AttnQueries
	for task := lo; task < hi; task++ {
		kh, first := task/a.tilesKV, task%a.tilesKV*4
		aq.Count = min(4, a.perKV-first)
		for i := 0; i < aq.Count; i++ {
			t, h := (first+i)/group, kh*group+(first+i)%group
			aq.Q[i] = a.qv[t*width+h*hd : t*width+(h+1)*hd]
			aq.Out[i] = a.o[t*width+h*hd : t*width+(h+1)*hd]
			aq.N[i] = int(a.pos[t]) + 1
			aq.Probs[i] = nil
			if p.Capture != nil && p.Capture[h] != nil {
				aq.Probs[i] = p.Capture[h][t]
			}
		}
		cpu.Attend(&aq, a.keys, a.values, kv.kvDim, kh*hd, hd, p.Scale, scratch)
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
