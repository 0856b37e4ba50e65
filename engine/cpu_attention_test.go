package engine

import (
	"bytes"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
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
	c, err := b.NewKVCache(KVSpec{Layers: 1, Blocks: 4, BlockSize: bs, KVHeads: 1, HeadDim: hd})
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
	p.HeadDim, p.Layer = hd, 1
	require.ErrorContains(t, b.Attention(out, q, c, kb, p), "attention in layer 1 of a KV cache of 1 layers")
	_, err = b.NewKVCache(KVSpec{Layers: 1, Blocks: 4, BlockSize: bs, KVHeads: 0, HeadDim: hd})
	require.Error(t, err)
	_, err = b.NewKVCache(KVSpec{Layers: 1, Blocks: 4, BlockSize: bs, KVHeads: 1, HeadDim: hd, Type: gguf.TypeQ8_0})
	require.ErrorContains(t, err, "a KV cache of q8_0 is not supported on the CPU")
}

// f32Only is a CPU backend that says it keeps only float32 caches.
type f32Only struct{ *CPU }

func (f32Only) SupportsKVType(t gguf.Type) bool { return t == gguf.TypeF32 }

// TestLoadChecksKVType: a KV type no cache has, or one a backend of the model cannot keep, is refused when
// the model loads, before its weights are bound (a GPU's upload takes seconds), with what to use instead.
func TestLoadChecksKVType(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Vocab: 300, Layers: 2, Seed: 1}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	b := NewCPU(1)
	defer b.Close()
	_, err = LoadWith(f, LoadOptions{First: b, FirstLayers: -1, KVType: gguf.TypeQ8_0})
	require.ErrorContains(t, err, "a KV cache of q8_0 is not supported: f32 or f16")
	rest := f32Only{NewCPU(1)}
	defer rest.Close()
	_, err = LoadWith(f, LoadOptions{First: b, FirstLayers: 1, Rest: rest, KVType: gguf.TypeF16})
	require.ErrorContains(t, err, "the cpu backend keeps no KV cache of f16: run the model on the CPU, or with an f32 cache")
	// A backend that says nothing keeps float32 only.
	require.False(t, SupportsKVType(unfused{b}, gguf.TypeF16))
	require.True(t, SupportsKVType(unfused{b}, gguf.TypeF32))
	m, err := LoadWith(f, LoadOptions{First: b, FirstLayers: -1, KVType: gguf.TypeF16})
	require.NoError(t, err)
	require.Equal(t, gguf.TypeF16, m.KVType())
	r, err := m.NewRunner(RunnerOptions{Context: 64, Sequences: 2})
	require.NoError(t, err)
	kv, _ := r.Bytes()
	c := r.parts[0].cache.(*cpuKV)
	require.Nil(t, c.k)
	require.Equal(t, int64(2*len(c.k16)+2*len(c.v16)), kv, "Bytes counts what the cache holds: 2 bytes a value")
	require.Equal(t, 2*2*2*KVBlockSize*m.Config.HeadCountKV*m.Config.HeadDim(), len(c.k16), "2 sequences of 2 blocks, 2 layers")
}
