package engine

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// hostileBase is a valid tiny model's bytes (embd 64, 4 heads of 16, 2 KV heads, 2 layers, 300 tokens).
func hostileBase(t *testing.T) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Vocab: 300, Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 128, Seed: 3}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	return f
}

// TestLoadRefusesHostileModels: a model file whose hyperparameters or tensors cannot be right is refused at
// load with one short line — before anything is allocated from its counts, and never as a panic, an
// out-of-memory death or a 247 MB message (F1, F2, F3, F12 in the reliability probe).
func TestLoadRefusesHostileModels(t *testing.T) {
	base := hostileBase(t)
	setKV := func(kv map[string]any) func(*gguf.Metadata, []gguf.TensorInfo) []gguf.TensorInfo {
		return func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
			for k, v := range kv {
				md.Set(k, v)
			}
			return ts
		}
	}
	nanFactors := func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
		return append(ts, gguf.TensorInfo{Name: "rope_freqs.weight", Type: gguf.TypeF32, Dims: []uint64{8}})
	}
	cases := []struct {
		name string
		edit func(*gguf.Metadata, []gguf.TensorInfo) []gguf.TensorInfo
		fill func(f *gguf.File) // changes tensor bytes after parsing (nil: none)
		want string
	}{
		{"F1 negative rope dims", setKV(map[string]any{"llama.rope.dimension_count": int32(-2)}), nil, "llama.rope.dimension_count = -2 is out of range"},
		{"F2 NaN rope base", setKV(map[string]any{"llama.rope.freq_base": float32(math.NaN())}), nil, "llama.rope.freq_base = NaN"},
		{"F3 block count 1e6", setKV(map[string]any{"llama.block_count": uint32(1000000)}), nil, "llama.block_count = 1000000 is out of range"},
		{"F3 block count past the tensors", setKV(map[string]any{"llama.block_count": uint32(60000)}), nil, "llama.block_count = 60000 does not match the file: its tensors are for blocks 0 to 1 at most"},
		{"F12 eps zero", setKV(map[string]any{"llama.attention.layer_norm_rms_epsilon": float32(0)}), nil, "layer_norm_rms_epsilon = 0 is out of range"},
		{"F12 rope base negative", setKV(map[string]any{"llama.rope.freq_base": float32(-1)}), nil, "llama.rope.freq_base = -1"},
		{"F12 rope_freqs zero", nanFactors, nil, "rope_freqs.weight[0] = 0 is out of range"},
		{"F12 rope_freqs NaN", nanFactors, func(f *gguf.File) {
			ti, _ := f.Tensor("rope_freqs.weight")
			d := f.TensorData(ti)
			for i := 0; i < len(d); i += 4 {
				copy(d[i:], []byte{0, 0, 0xc0, 0x7f}) // NaN
			}
		}, "rope_freqs.weight[0] = NaN"},
		{"every shape wrong", setKV(map[string]any{"llama.feed_forward_length": uint32(256), "llama.vocab_size": uint32(299), "llama.attention.head_count_kv": uint32(1)}), nil, "and 4 more problems"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, gguf.Rewrite(&buf, base, c.edit))
			f, err := gguf.Parse(buf.Bytes())
			require.NoError(t, err)
			if c.fill != nil {
				c.fill(f)
			}
			b := NewCPU(1)
			defer b.Close()
			_, err = Load(f, b)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.Less(t, len(err.Error()), 1500, "the error stays short: %.300s…", err)
		})
	}
}

// TestRopeTableBounded: the CPU backend's RoPE table is rebuilt when the parameters change and grows only
// when positions run out — a base that never compares equal to itself (NaN) used to double it on every call
// until memory ran out (F2).
func TestRopeTableBounded(t *testing.T) {
	b := NewCPU(1)
	defer b.Close()
	q, err := b.Alloc(4 * 16)
	require.NoError(t, err)
	k, err := b.Alloc(2 * 16)
	require.NoError(t, err)
	for _, base := range []float64{math.NaN(), 10000} {
		p := RopeParams{Dims: 16, Base: base, FreqScale: 1}
		for pos := range int32(40) {
			require.NoError(t, b.RoPE(q, k, []int32{pos}, 4, 2, 16, p))
		}
		require.Equal(t, 256, b.ropeLen(), "base %v: the table grew past what 40 positions need", base)
	}
	require.Error(t, b.RoPE(q, k, []int32{0}, 4, 2, 16, RopeParams{Dims: -2, Base: 1e4, FreqScale: 1}))
	require.NoError(t, b.RoPE(q, k, []int32{300}, 4, 2, 16, RopeParams{Dims: 16, Base: 1e4, FreqScale: 1}))
	require.Equal(t, 512, b.ropeLen(), "running out of positions doubles the table")
}

// TestLoadMissingListIsCapped: a file with no block tensors at all and the largest allowed block count gets
// a count of the missing tensors and a few names, not hundreds of thousands (F3's 247 MB error line).
func TestLoadMissingListIsCapped(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, gguf.Rewrite(&buf, hostileBase(t), func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
		md.Set("llama.block_count", uint32(gguf.MaxBlockCount))
		var keep []gguf.TensorInfo
		for _, ti := range ts {
			if !strings.HasPrefix(ti.Name, "blk.") {
				keep = append(keep, ti)
			}
		}
		return keep
	}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	b := NewCPU(1)
	defer b.Close()
	_, err = Load(f, b)
	require.ErrorContains(t, err, "589824 tensors are missing: blk.0.attn_norm.weight")
	require.ErrorContains(t, err, "and 589792 more")
	require.Less(t, len(err.Error()), 1500)
}
