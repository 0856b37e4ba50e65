package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

// fusedCases: the fused operations (engine.MatMulAdd, MatMulAddNorm, MatMulSwiGLU, RoPEStoreKV), run as the backend offers
// them — fused or not — against float64 references; one token and batches, odd row counts, float rows of
// any length, and a pair of weights of different types that a backend cannot fuse.
func fusedCases() []Case {
	var cs []Case
	// MatMulAdd, and MatMulAddNorm (norm set), which also normalizes the sum into a second buffer.
	for _, c := range []struct {
		typ           gguf.Type
		rows, cols, n int
		norm          bool
	}{{gguf.TypeQ4_0, 301, 512, 1, false}, {gguf.TypeQ4_0, 64, 256, 9, false}, {gguf.TypeQ6_K, 37, 512, 1, false},
		{gguf.TypeF16, 50, 172, 1, false}, {gguf.TypeF32, 33, 64, 3, false},
		{gguf.TypeQ4_0, 512, 256, 1, true}, {gguf.TypeF16, 96, 64, 9, true}, {gguf.TypeQ6_K, 300, 256, 3, true}} {
		c := c
		op := "MatMulAdd"
		if c.norm {
			op = "MatMulAddNorm"
		}
		cs = append(cs, Case{Name: fmt.Sprintf("%s(type=%s,rows=%d,cols=%d,n=%d)", op, c.typ, c.rows, c.cols, c.n),
			Threshold: matmulThreshold(c.typ), Weights: []gguf.Type{c.typ},
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				const eps = 1e-5
				w, deq, err := weight(b, r, c.typ, c.rows, c.cols)
				if err != nil {
					return nil, nil, err
				}
				nv := randVec(r, c.rows, 1)
				norm, err := b.LoadWeight("norm", gguf.TypeF32, 1, c.rows, f32bytes(nv))
				if err != nil {
					return nil, nil, err
				}
				x, acc := randVec(r, c.n*c.cols, 1), randVec(r, c.n*c.rows, 1)
				xb, _ := upload(b, x)
				dst, _ := upload(b, acc)
				tmp, _ := b.Alloc(c.n * c.rows)
				out, _ := b.Alloc(c.n * c.rows)
				if c.norm {
					err = engine.MatMulAddNorm(b, dst, tmp, w, xb, c.n, out, norm, eps)
				} else {
					err = engine.MatMulAdd(b, dst, tmp, w, xb, c.n)
				}
				if err != nil {
					return nil, nil, err
				}
				got, err := read(b, dst, c.n*c.rows)
				if err != nil {
					return nil, nil, err
				}
				want := matVecRef(deq, x, c.rows, c.cols, c.n)
				for i := range want {
					want[i] += float64(acc[i])
				}
				if !c.norm {
					return got, want, nil
				}
				normed, err := read(b, out, c.n*c.rows)
				for t := 0; t < c.n; t++ {
					row := want[t*c.rows : (t+1)*c.rows]
					var ss float64
					for _, v := range row {
						ss += v * v
					}
					scale := 1 / math.Sqrt(ss/float64(c.rows)+eps)
					for i, v := range row {
						want = append(want, v*scale*float64(nv[i]))
					}
				}
				return append(got, normed...), want, err
			}})
	}
	for _, c := range []struct {
		gate, up      gguf.Type
		rows, cols, n int
	}{{gguf.TypeQ4_0, gguf.TypeQ4_0, 300, 512, 1}, {gguf.TypeQ4_K, gguf.TypeQ4_K, 41, 512, 9}, {gguf.TypeQ4_K, gguf.TypeQ6_K, 40, 256, 1},
		{gguf.TypeQ8_0, gguf.TypeQ8_0, 70, 256, 1}, {gguf.TypeF16, gguf.TypeF16, 64, 172, 3}} {
		c := c
		cs = append(cs, Case{Name: fmt.Sprintf("MatMulSwiGLU(gate=%s,up=%s,rows=%d,cols=%d,n=%d)", c.gate, c.up, c.rows, c.cols, c.n),
			Threshold: matmulThreshold(c.up), Weights: []gguf.Type{c.gate, c.up},
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				gw, gdeq, err := weight(b, r, c.gate, c.rows, c.cols)
				if err != nil {
					return nil, nil, err
				}
				uw, udeq, err := weight(b, r, c.up, c.rows, c.cols)
				if err != nil {
					return nil, nil, err
				}
				x := randVec(r, c.n*c.cols, 2)
				xb, _ := upload(b, x)
				dst, _ := b.Alloc(c.n * c.rows)
				scratch, _ := b.Alloc(c.n * c.rows)
				if err := engine.MatMulSwiGLU(b, []engine.Buffer{dst, scratch}, []engine.Weight{gw, uw}, xb, c.n); err != nil {
					return nil, nil, err
				}
				got, err := read(b, dst, c.n*c.rows)
				g, u := matVecRef(gdeq, x, c.rows, c.cols, c.n), matVecRef(udeq, x, c.rows, c.cols, c.n)
				want := make([]float64, len(g))
				for i := range want {
					want[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
				}
				return got, want, err
			}})
	}
	// With a half-precision cache the reference rounds the rotated keys and the values as the cache does.
	for _, c := range []struct {
		heads, kvHeads, hd, dims, past, n int
		kv                                gguf.Type
	}{{8, 2, 64, 64, 5, 3, gguf.TypeF32}, {4, 4, 128, 64, 20, 1, gguf.TypeF32}, {4, 2, 64, 64, 30, 6, gguf.TypeF32}, {4, 2, 64, 64, 30, 6, gguf.TypeF16}} {
		suffix := ""
		if c.kv != gguf.TypeF32 {
			suffix = "," + engine.KVTypeName(c.kv)
		}
		cs = append(cs, Case{Name: fmt.Sprintf("RoPEStoreKV+Attention(heads=%d,kv=%d,headDim=%d,dims=%d,past=%d,n=%d%s)", c.heads, c.kvHeads, c.hd, c.dims, c.past, c.n, suffix),
			Threshold: 1e-10, KV: c.kv,
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				kvDim, total := c.kvHeads*c.hd, c.past+c.n
				pg, err := newPaged(b, r, [][2]int{{c.past, c.n}}, c.kvHeads, c.hd, c.kv)
				if err != nil {
					return nil, nil, err
				}
				const layer = 1
				p := engine.RopeParams{Dims: c.dims, Base: 10000, FreqScale: 1}
				all := pg.batch(false)
				pos := all.Pos
				q, keys, vals := randVec(r, total*c.heads*c.hd, 1), pg.keys[0], pg.vals[0]
				// The past tokens first, then the queried ones: the cache must hold what both calls stored.
				var qb engine.Buffer
				for _, part := range [][2]int{{0, c.past}, {c.past, total}} {
					if part[0] == part[1] {
						continue
					}
					kb := &engine.KVBatch{Pos: pos[part[0]:part[1]], Slot: all.Slot[part[0]:part[1]], Seq: all.Seq[part[0]:part[1]],
						Tables: all.Tables, Stride: all.Stride}
					qb, _ = upload(b, q[part[0]*c.heads*c.hd:part[1]*c.heads*c.hd])
					kbuf, _ := upload(b, keys[part[0]*kvDim:part[1]*kvDim])
					vbuf, _ := upload(b, vals[part[0]*kvDim:part[1]*kvDim])
					if err := engine.RoPEStoreKV(b, qb, kbuf, vbuf, pg.cache, layer, kb, c.heads, c.kvHeads, c.hd, p); err != nil {
						return nil, nil, err
					}
				}
				out, _ := b.Alloc(c.n * c.heads * c.hd)
				scale := float32(1 / math.Sqrt(float64(c.hd)))
				ap := engine.AttentionParams{Layer: layer, Heads: c.heads, KVHeads: c.kvHeads, HeadDim: c.hd, Scale: scale}
				if err := b.Attention(out, qb, pg.cache, pg.batch(true), ap); err != nil {
					return nil, nil, err
				}
				gq, err := read(b, qb, c.n*c.heads*c.hd)
				if err != nil {
					return nil, nil, err
				}
				gout, err := read(b, out, c.n*c.heads*c.hd)
				rq := ropeRef(q, pos, c.heads, c.hd, p)[c.past*c.heads*c.hd:]
				rk := ropeRef(keys, pos, c.kvHeads, c.hd, p)
				q32, k32 := make([]float32, len(rq)), make([]float32, len(rk))
				for i, v := range rq {
					q32[i] = float32(v)
				}
				for i, v := range rk {
					k32[i] = float32(v)
					if c.kv == gguf.TypeF16 {
						k32[i] = gguf.FP16ToFP32(gguf.FP32ToFP16(k32[i]))
					}
				}
				want, _ := attentionRef(q32, k32, pg.rvals[0], pos[c.past:], c.heads, c.kvHeads, c.hd, float64(scale))
				return append(gq, gout...), append(rq, want...), err
			}})
	}
	return cs
}
