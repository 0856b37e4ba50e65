package engine

import (
	"fmt"
	"math"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// exactForward is an independent float64 LLaMA forward pass written from the paper, on weights dequantized
// with the reference dequantizers. It returns the logits of every position. It shares no code with the
// engine beyond gguf, so agreement means the engine computes the model the file describes.
// When probs is not nil it is called with every attention row (layer, head, query position, probabilities).
func exactForward(t testing.TB, f *gguf.File, tokens []int32, probs func(layer, head, pos int, row []float64)) [][]float64 {
	t.Helper()
	c, err := f.LlamaConfig()
	require.NoError(t, err)
	mat := func(name string) [][]float64 {
		ti, ok := f.Tensor(name)
		if !ok {
			return nil
		}
		cols, rows := int(ti.Dims[0]), 1
		if len(ti.Dims) > 1 {
			rows = int(ti.Dims[1])
		}
		flat := make([]float32, ti.Elements())
		require.NoError(t, gguf.Dequantize(ti.Type, f.TensorData(ti), flat))
		out := make([][]float64, rows)
		for r := range out {
			out[r] = make([]float64, cols)
			for i := range out[r] {
				out[r][i] = float64(flat[r*cols+i])
			}
		}
		return out
	}
	mv := func(w [][]float64, x []float64) []float64 {
		y := make([]float64, len(w))
		for r, row := range w {
			for i, v := range row {
				y[r] += v * x[i]
			}
		}
		return y
	}
	norm := func(x []float64, w []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		s := 1 / math.Sqrt(ss/float64(len(x))+float64(c.RMSEpsilon))
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] * s * w[i]
		}
		return y
	}
	var factors []float64
	if rf := mat("rope_freqs.weight"); rf != nil {
		factors = rf[0]
	}
	rope := func(x []float64, heads, pos int) {
		hd, d := c.HeadDim(), c.RopeDimensionCount
		for h := 0; h < heads; h++ {
			for i := 0; i < d/2; i++ {
				th := float64(pos) * float64(c.RopeFreqScale) * math.Pow(float64(c.RopeFreqBase), -2*float64(i)/float64(d))
				if factors != nil {
					th /= factors[i]
				}
				a, b := x[h*hd+2*i], x[h*hd+2*i+1]
				x[h*hd+2*i] = a*math.Cos(th) - b*math.Sin(th)
				x[h*hd+2*i+1] = a*math.Sin(th) + b*math.Cos(th)
			}
		}
	}
	emb, out := mat("token_embd.weight"), mat("output.weight")
	if out == nil {
		out = emb
	}
	hd, group := c.HeadDim(), c.HeadCount/c.HeadCountKV
	keys := make([][][]float64, c.BlockCount)
	vals := make([][][]float64, c.BlockCount)
	type layer struct{ an, wq, wk, wv, wo, fn, wg, wu, wd [][]float64 }
	layers := make([]layer, c.BlockCount)
	for l := range layers {
		p := fmt.Sprintf("blk.%d.", l)
		layers[l] = layer{mat(p + "attn_norm.weight"), mat(p + "attn_q.weight"), mat(p + "attn_k.weight"), mat(p + "attn_v.weight"),
			mat(p + "attn_output.weight"), mat(p + "ffn_norm.weight"), mat(p + "ffn_gate.weight"), mat(p + "ffn_up.weight"), mat(p + "ffn_down.weight")}
	}
	onorm := mat("output_norm.weight")[0]
	var logits [][]float64
	for pos, tok := range tokens {
		x := append([]float64(nil), emb[tok]...)
		for l, L := range layers {
			xb := norm(x, L.an[0])
			q, k, v := mv(L.wq, xb), mv(L.wk, xb), mv(L.wv, xb)
			rope(q, c.HeadCount, pos)
			rope(k, c.HeadCountKV, pos)
			keys[l] = append(keys[l], k)
			vals[l] = append(vals[l], v)
			att := make([]float64, c.HeadCount*hd)
			for h := 0; h < c.HeadCount; h++ {
				kh := (h / group) * hd
				sc := make([]float64, pos+1)
				mx := math.Inf(-1)
				for j := 0; j <= pos; j++ {
					for i := 0; i < hd; i++ {
						sc[j] += q[h*hd+i] * keys[l][j][kh+i]
					}
					sc[j] /= math.Sqrt(float64(hd))
					mx = math.Max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					sc[j] /= sum
					for i := 0; i < hd; i++ {
						att[h*hd+i] += sc[j] * vals[l][j][kh+i]
					}
				}
				if probs != nil {
					probs(l, h, pos, sc)
				}
			}
			o := mv(L.wo, att)
			for i := range x {
				x[i] += o[i]
			}
			xb = norm(x, L.fn[0])
			g, u := mv(L.wg, xb), mv(L.wu, xb)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := mv(L.wd, g)
			for i := range x {
				x[i] += d[i]
			}
		}
		logits = append(logits, mv(out, norm(x, onorm)))
	}
	return logits
}

// TestShapesAndTypesAgainstExact runs synthetic models of shapes and types the shared fixtures do not
// cover — multi-query attention, tied embeddings, partial RoPE, other RoPE bases, every weight type — and
// compares every position's logits with the independent float64 forward pass.
func TestShapesAndTypesAgainstExact(t *testing.T) {
	base := synth.Options{Embd: 256, Layers: 2, Heads: 4, KVHeads: 2, FF: 512, Vocab: 300, Ctx: 64, Seed: 3}
	cases := map[string]func(o *synth.Options){
		"gqa-f32":           func(o *synth.Options) {},
		"mqa":               func(o *synth.Options) { o.KVHeads = 1 },
		"mha":               func(o *synth.Options) { o.KVHeads = 4 },
		"tied-embeddings":   func(o *synth.Options) { o.TiedEmbed = true },
		"partial-rope":      func(o *synth.Options) { o.RopeDim = 32 },
		"rope-base-500000":  func(o *synth.Options) { o.RopeBase = 500000 },
		"llama3.1-rope":     func(o *synth.Options) { o.RopeBase, o.Llama31Rope = 500000, true },
		"odd-ff-and-heads8": func(o *synth.Options) { o.Heads, o.KVHeads, o.FF = 8, 2, 352 },
	}
	for _, typ := range []string{"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "Q4_K_M"} {
		typ := typ
		cases["type-"+typ] = func(o *synth.Options) { o.Type = typ }
	}
	tokens := []int32{1, 5, 77, 123, 299, 42, 7, 7, 200, 3, 150, 88, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			o := base
			mod(&o)
			f, m := synthModel(t, o)
			want := exactForward(t, f, tokens, nil)
			s, err := m.NewSession(32, 5) // batches of 5: exercises batch boundaries
			require.NoError(t, err)
			got, err := s.Eval(tokens, true)
			require.NoError(t, err)
			var st refStats
			for p := range tokens {
				st.add(got[p*o.Vocab:(p+1)*o.Vocab], want[p])
			}
			// Float paths land near 1e-13; Q4_0/Q8_0 round activations to 16 bits (cpu/quant.go), ~1e-9.
			require.Less(t, st.nmse(), 1e-8, "NMSE against the float64 forward pass")
			require.Equal(t, 1.0, st.agreement())
		})
	}
}

// TestIncrementalEqualsBatch: one token at a time through the KV cache gives the batch's logits, with the
// cache in float32 and in half precision.
func TestIncrementalEqualsBatch(t *testing.T) {
	for _, kv := range KVTypes() {
		t.Run(kv.String(), func(t *testing.T) { testIncrementalEqualsBatch(t, kv) })
	}
}

func testIncrementalEqualsBatch(t *testing.T, kv gguf.Type) {
	_, m := synthModelWith(t, synth.Options{Type: "Q4_K", Vocab: 300, Seed: 9}, 16, kv)
	tokens := []int32{1, 10, 20, 30, 40, 50, 60}
	s, err := m.NewSession(16, 16)
	require.NoError(t, err)
	all, err := s.Eval(tokens, true)
	require.NoError(t, err)
	s2, err := m.NewSession(16, 16)
	require.NoError(t, err)
	v := m.Config.VocabSize
	for i, tok := range tokens {
		last, err := s2.Eval([]int32{tok}, false)
		require.NoError(t, err)
		// The kernels for one token and for a batch add the same integer block sums in a different float
		// order (and Q4_K's scale and minimum terms cancel), so equal up to float rounding.
		e := nmse(last, all[i*v:(i+1)*v])
		t.Logf("position %d: NMSE %.2g", i, e)
		require.Less(t, e, 1e-8, "position %d", i) // the bound TestExact holds each path to against float64
	}
	require.Equal(t, len(tokens), s2.Pos())
	_, err = s2.Eval(make([]int32, 10), false)
	require.ErrorIs(t, err, ErrContextFull)
	require.ErrorContains(t, err, "use a larger --ctx")
}
