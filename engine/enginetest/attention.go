package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llamago/llamago/engine"
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
// for the first tokens, {2,1,256,1000,2} the largest head size it takes and many splits.
func attentionCases() []Case {
	var cs []Case
	for _, c := range []struct{ heads, kvHeads, hd, past, n int }{{4, 2, 64, 0, 7}, {8, 1, 32, 100, 1}, {8, 8, 128, 37, 5}, {32, 8, 128, 600, 1}, {4, 2, 64, 0, 40}, {2, 1, 256, 1000, 2}} {
		c := c
		cs = append(cs, Case{Name: fmt.Sprintf("Attention(heads=%d,kv=%d,headDim=%d,past=%d,n=%d)+capture", c.heads, c.kvHeads, c.hd, c.past, c.n),
			Threshold: 1e-10,
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				kvDim := c.kvHeads * c.hd
				total := c.past + c.n
				cache, err := b.NewKVCache(2, total+3, kvDim)
				if err != nil {
					return nil, nil, err
				}
				const layer = 1
				keys, vals := randVec(r, total*kvDim, 1), randVec(r, total*kvDim, 1)
				pos := make([]int32, total)
				for i := range pos {
					pos[i] = int32(i)
				}
				kb, _ := upload(b, keys)
				vb, _ := upload(b, vals)
				if err := b.StoreKV(cache, layer, kb, vb, pos); err != nil {
					return nil, nil, err
				}
				q := randVec(r, c.n*c.heads*c.hd, 1)
				qb, _ := upload(b, q)
				out, _ := b.Alloc(c.n * c.heads * c.hd)
				qpos := pos[c.past:]
				capture := make([][][]float32, c.heads)
				for h := range capture {
					capture[h] = make([][]float32, c.n)
					for t := range capture[h] {
						capture[h][t] = make([]float32, qpos[t]+1)
					}
				}
				scale := float32(1 / math.Sqrt(float64(c.hd)))
				p := engine.AttentionParams{Layer: layer, Heads: c.heads, KVHeads: c.kvHeads, HeadDim: c.hd, Scale: scale, Capture: capture}
				if err := b.Attention(out, qb, cache, qpos, p); err != nil {
					return nil, nil, err
				}
				got, err := read(b, out, c.n*c.heads*c.hd)
				if err != nil {
					return nil, nil, err
				}
				want, probs := attentionRef(q, keys, vals, qpos, c.heads, c.kvHeads, c.hd, float64(scale))
				for h := range capture {
					for t := range capture[h] {
						got = append(got, capture[h][t]...)
						want = append(want, probs[h][t]...)
					}
				}
				return got, want, nil
			}})
	}
	return cs
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
