package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

func ropeCases() []Case {
	var cs []Case
	for _, c := range []struct {
		heads, kvHeads, hd, dims int
		base, scale              float64
		factors                  bool
	}{{8, 2, 64, 64, 10000, 1, false}, {4, 4, 128, 64, 500000, 0.25, false}, {32, 8, 128, 128, 500000, 1, true}} {
		c := c
		cs = append(cs, Case{Name: fmt.Sprintf("RoPE(heads=%d,kv=%d,headDim=%d,dims=%d,base=%g,scale=%g,factors=%v)", c.heads, c.kvHeads, c.hd, c.dims, c.base, c.scale, c.factors),
			Threshold: 1e-11,
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				pos := []int32{0, 1, 17, 1000, 4095}
				n := len(pos)
				p := engine.RopeParams{Dims: c.dims, Base: c.base, FreqScale: c.scale}
				if c.factors {
					for i := 0; i < c.dims/2; i++ {
						p.Factors = append(p.Factors, float32(1+float64(i%7)))
					}
				}
				q, k := randVec(r, n*c.heads*c.hd, 1), randVec(r, n*c.kvHeads*c.hd, 1)
				qb, _ := upload(b, q)
				kb, _ := upload(b, k)
				if err := b.RoPE(qb, kb, pos, c.heads, c.kvHeads, c.hd, p); err != nil {
					return nil, nil, err
				}
				gq, err := read(b, qb, len(q))
				if err != nil {
					return nil, nil, err
				}
				gk, err := read(b, kb, len(k))
				want := append(ropeRef(q, pos, c.heads, c.hd, p), ropeRef(k, pos, c.kvHeads, c.hd, p)...)
				return append(gq, gk...), want, err
			}})
	}
	return cs
}

// ropeRef rotates pairs (2i, 2i+1) of each head by pos·scale·base^(−2i/dims)/factor[i].
func ropeRef(x []float32, pos []int32, heads, hd int, p engine.RopeParams) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	for t, ps := range pos {
		for h := 0; h < heads; h++ {
			v := out[(t*heads+h)*hd:]
			for i := 0; i < p.Dims/2; i++ {
				th := float64(ps) * p.FreqScale * math.Pow(p.Base, -2*float64(i)/float64(p.Dims))
				if p.Factors != nil {
					th /= float64(p.Factors[i])
				}
				a, c := v[2*i], v[2*i+1]
				v[2*i], v[2*i+1] = a*math.Cos(th)-c*math.Sin(th), a*math.Sin(th)+c*math.Cos(th)
			}
		}
	}
	return out
}

// attentionCases: shapes of prompts and decoding; {4,2,64,0,40} gives the CUDA kernel an empty key split
// for the first tokens, {2,1,256,1000,2} the largest head size it takes and many splits. Sequences live in a
// paged cache, their blocks scattered over the pool; the cases with several sequences batch prompt chunks
// and decode tokens of sequences of different lengths, as a serving step does. Each shape runs with a
// float32 cache and with a half-precision one (",f16" in the name): the cache is given float32 keys and
// values, and the reference is the float64 answer for them rounded to half precision, as the cache must
// keep them (a cache that kept float32 would miss it by ~1e-8 NMSE).
func attentionCases() []Case {
	var cs []Case
	for _, c := range []struct {
		heads, kvHeads, hd int
		seqs               [][2]int // each sequence's positions before the batch and its tokens in it
	}{
		{4, 2, 64, [][2]int{{0, 7}}}, {8, 1, 32, [][2]int{{100, 1}}}, {8, 8, 128, [][2]int{{37, 5}}},
		{32, 8, 128, [][2]int{{600, 1}}}, {4, 2, 64, [][2]int{{0, 40}}}, {2, 1, 256, [][2]int{{1000, 2}}},
		{4, 2, 64, [][2]int{{5, 1}, {0, 9}, {70, 1}, {31, 3}}}, {8, 2, 128, [][2]int{{300, 1}, {1, 1}, {0, 33}}},
	} {
		for _, typ := range engine.KVTypes() {
			suffix := ""
			if typ != gguf.TypeF32 {
				suffix = "," + engine.KVTypeName(typ)
			}
			cs = append(cs, Case{Name: fmt.Sprintf("Attention(heads=%d,kv=%d,headDim=%d,seqs=%v%s)+capture", c.heads, c.kvHeads, c.hd, c.seqs, suffix),
				Threshold: 1e-10, KV: typ,
				Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
					const layer = 1
					pg, err := newPaged(b, r, c.seqs, c.kvHeads, c.hd, typ)
					if err != nil {
						return nil, nil, err
					}
					// Every position of every sequence is stored (the batch's own tokens too), then attended to.
					all := pg.batch(false)
					kb, _ := upload(b, pg.keysInBatchOrder(all))
					vb, _ := upload(b, pg.valsInBatchOrder(all))
					if err := b.StoreKV(pg.cache, layer, kb, vb, all.Slot); err != nil {
						return nil, nil, err
					}
					kvb := pg.batch(true)
					n := kvb.Len()
					q := randVec(r, n*c.heads*c.hd, 1)
					qb, _ := upload(b, q)
					out, _ := b.Alloc(n * c.heads * c.hd)
					capture := make([][][]float32, c.heads)
					for h := range capture {
						capture[h] = make([][]float32, n)
						for t := range capture[h] {
							capture[h][t] = make([]float32, kvb.Pos[t]+1)
						}
					}
					scale := float32(1 / math.Sqrt(float64(c.hd)))
					p := engine.AttentionParams{Layer: layer, Heads: c.heads, KVHeads: c.kvHeads, HeadDim: c.hd, Scale: scale, Capture: capture}
					if err := b.Attention(out, qb, pg.cache, kvb, p); err != nil {
						return nil, nil, err
					}
					got, err := read(b, out, n*c.heads*c.hd)
					if err != nil {
						return nil, nil, err
					}
					var want []float64
					probs := make([][][]float64, c.heads)
					for i, t0 := range pg.firstQuery(kvb) {
						tn := c.seqs[i][1]
						o, pr := attentionRef(q[t0*c.heads*c.hd:(t0+tn)*c.heads*c.hd], pg.rkeys[i], pg.rvals[i], kvb.Pos[t0:t0+tn], c.heads, c.kvHeads, c.hd, float64(scale))
						want = append(want, o...)
						for h := range probs {
							probs[h] = append(probs[h], pr[h]...)
						}
					}
					for h := range capture {
						for t := range capture[h] {
							got = append(got, capture[h][t]...)
							want = append(want, probs[h][t]...)
						}
					}
					return got, want, nil
				}})
		}
	}
	return cs
}

// paged is a paged cache holding random keys and values of several sequences, their blocks scattered over
// the pool (with spare blocks between them).
type paged struct {
	cache      engine.KVCache
	seqs       [][2]int    // positions before the batch, tokens in it
	tables     [][]int32   // each sequence's blocks
	keys, vals [][]float32 // each sequence's keys and values, [position][kvDim]: what the cache is given
	// rkeys and rvals are keys and vals as the cache keeps them (rounded to half precision for an f16
	// cache), for the references.
	rkeys, rvals [][]float32
	kvDim        int
}

func newPaged(b engine.Backend, r *rand.Rand, seqs [][2]int, kvHeads, hd int, typ gguf.Type) (*paged, error) {
	kvDim := kvHeads * hd
	pg := &paged{seqs: seqs, kvDim: kvDim}
	need := 0
	for _, s := range seqs {
		need += (s[0] + s[1] + engine.KVBlockSize - 1) / engine.KVBlockSize
	}
	blocks := r.Perm(2*need + 1)
	cache, err := b.NewKVCache(engine.KVSpec{Layers: 2, Blocks: len(blocks), BlockSize: engine.KVBlockSize, KVHeads: kvHeads, HeadDim: hd, Type: typ})
	if err != nil {
		return nil, err
	}
	pg.cache = cache
	for _, s := range seqs {
		total := s[0] + s[1]
		var t []int32
		for range (total + engine.KVBlockSize - 1) / engine.KVBlockSize {
			t = append(t, int32(blocks[0]))
			blocks = blocks[1:]
		}
		pg.tables = append(pg.tables, t)
		k, v := randVec(r, total*kvDim, 1), randVec(r, total*kvDim, 1)
		rk, rv := k, v
		if typ == gguf.TypeF16 {
			rk, rv = make([]float32, len(k)), make([]float32, len(v))
			for i := range k {
				rk[i], rv[i] = gguf.FP16ToFP32(gguf.FP32ToFP16(k[i])), gguf.FP16ToFP32(gguf.FP32ToFP16(v[i]))
			}
		}
		pg.keys, pg.vals = append(pg.keys, k), append(pg.vals, v)
		pg.rkeys, pg.rvals = append(pg.rkeys, rk), append(pg.rvals, rv)
	}
	return pg, nil
}

// batch places the sequences' tokens: only the batch's own (queries), or every position (all stored).
func (pg *paged) batch(queries bool) *engine.KVBatch {
	kb := &engine.KVBatch{}
	for _, t := range pg.tables {
		kb.Stride = max(kb.Stride, len(t))
	}
	for i, s := range pg.seqs {
		t := pg.tables[i]
		kb.Tables = append(kb.Tables, t...)
		for range kb.Stride - len(t) {
			kb.Tables = append(kb.Tables, -1)
		}
		from := 0
		if queries {
			from = s[0]
		}
		for p := from; p < s[0]+s[1]; p++ {
			kb.Pos = append(kb.Pos, int32(p))
			kb.Slot = append(kb.Slot, t[p/engine.KVBlockSize]*engine.KVBlockSize+int32(p%engine.KVBlockSize))
			kb.Seq = append(kb.Seq, int32(i))
		}
	}
	return kb
}

// firstQuery is the batch row of each sequence's first token.
func (pg *paged) firstQuery(kb *engine.KVBatch) []int {
	first := make([]int, len(pg.seqs))
	for t := kb.Len() - 1; t >= 0; t-- {
		first[kb.Seq[t]] = t
	}
	return first
}

func (pg *paged) keysInBatchOrder(kb *engine.KVBatch) []float32 { return pg.inBatchOrder(kb, pg.keys) }
func (pg *paged) valsInBatchOrder(kb *engine.KVBatch) []float32 { return pg.inBatchOrder(kb, pg.vals) }

func (pg *paged) inBatchOrder(kb *engine.KVBatch, src [][]float32) []float32 {
	var out []float32
	for t, p := range kb.Pos {
		out = append(out, src[kb.Seq[t]][int(p)*pg.kvDim:(int(p)+1)*pg.kvDim]...)
	}
	return out
}

// attentionRef is causal softmax attention in float64; it also returns the probabilities [head][query][key].
func attentionRef(q, keys, vals []float32, pos []int32, heads, kvHeads, hd int, scale float64) ([]float64, [][][]float64) {
	group := heads / kvHeads
	kvDim := kvHeads * hd
	out := make([]float64, len(q))
	probs := make([][][]float64, heads)
	for h := 0; h < heads; h++ {
		probs[h] = make([][]float64, len(pos))
		kh := (h / group) * hd
		for t, p := range pos {
			s := make([]float64, p+1)
			mx := math.Inf(-1)
			for j := range s {
				for i := 0; i < hd; i++ {
					s[j] += float64(q[(t*heads+h)*hd+i]) * float64(keys[j*kvDim+kh+i])
				}
				s[j] *= scale
				mx = math.Max(mx, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for j := range s {
				s[j] /= sum
				for i := 0; i < hd; i++ {
					out[(t*heads+h)*hd+i] += s[j] * float64(vals[j*kvDim+kh+i])
				}
			}
			probs[h][t] = s
		}
	}
	return out, probs
}
