package arch

import (
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

func TestBlockIndex(t *testing.T) {
	for name, want := range map[string]int{"blk.0.attn_q.weight": 0, "blk.31.ffn_down.weight": 31} {
		n, ok := BlockIndex(name)
		require.True(t, ok, name)
		require.Equal(t, want, n, name)
	}
	for _, name := range []string{"token_embd.weight", "blk.x.attn_q.weight", "blk..a", "blk.-1.a", "blk.3"} {
		_, ok := BlockIndex(name)
		require.False(t, ok, name)
	}
}

// TestLlamaTable: the table splits into the globals before the blocks, the blocks and the globals after, in
// llama.cpp's order, and its shapes follow the hyperparameters (grouped-query attention: K and V narrower).
func TestLlamaTable(t *testing.T) {
	a, ok := Lookup("llama")
	require.True(t, ok)
	require.Contains(t, Names(), "llama")
	key := func(ts []Tensor) (k []string) {
		for _, t := range ts {
			k = append(k, t.Key)
		}
		return k
	}
	require.Equal(t, []string{"token_embd.weight"}, key(a.Before()))
	require.Equal(t, []string{"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
		"ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}, key(a.Blocks()))
	require.Equal(t, []string{"output_norm.weight", "rope_freqs.weight", "output.weight"}, key(a.After()))
	c := &gguf.LlamaConfig{EmbeddingLength: 2048, HeadCount: 32, HeadCountKV: 4, FeedForwardLength: 5632, VocabSize: 32000, RopeDimensionCount: 64}
	shape := func(k string) [2]int { r, cl := a.Tensor(k).Shape(c); return [2]int{r, cl} }
	require.Equal(t, [2]int{256, 2048}, shape("attn_k.weight"))
	require.Equal(t, [2]int{2048, 5632}, shape("ffn_down.weight"))
	require.Equal(t, [2]int{1, 32}, shape("rope_freqs.weight"))
	require.Equal(t, "blk.7.attn_q.weight", a.Tensor("attn_q.weight").Name(7))
	require.Panics(t, func() { a.Tensor("nope") })
}
