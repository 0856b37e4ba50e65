package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCPUAttentionChecksItsInputs: the CPU backend's attention refuses, with an error rather than a panic
// or another head's values, a block table whose blocks a call would read lie outside the pool (here the
// run's first token sees 41 positions, two blocks, though its last sees one: the calls read as far as
// their furthest query), and heads that are not the cache's.
func TestCPUAttentionChecksItsInputs(t *testing.T) {
	b := NewCPU(1)
	defer b.Close()
	const bs, heads, hd = 32, 2, 16
	c, err := b.NewKVCache(1, 4, bs, 1, hd)
	require.NoError(t, err)
	q, err := b.Alloc(2 * heads * hd)
	require.NoError(t, err)
	out, err := b.Alloc(2 * heads * hd)
	require.NoError(t, err)
	p := AttentionParams{Heads: heads, KVHeads: 1, HeadDim: hd, Scale: 0.25}
	kb := &KVBatch{Pos: []int32{40, 3}, Slot: []int32{40, 3}, Seq: []int32{0, 0}, Tables: []int32{0, 9}, Stride: 2}
	require.ErrorContains(t, b.Attention(out, q, c, kb, p), "block 9 is outside the KV cache of 4 blocks")
	kb.Tables[1] = 1
	require.NoError(t, b.Attention(out, q, c, kb, p))
	p.HeadDim = 8
	require.ErrorContains(t, b.Attention(out, q, c, kb, p), "the KV cache holds 1 heads of 16")
	_, err = b.NewKVCache(1, 4, bs, 0, hd)
	require.Error(t, err)
}
