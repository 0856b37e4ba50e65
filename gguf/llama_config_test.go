package gguf_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// tinyModel is a valid synthetic model (embd 64, 4 heads of 16, 2 KV heads, 2 layers, 300 tokens), parsed.
func tinyModel(t *testing.T) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Vocab: 300, Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 128, Seed: 1}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	return f
}

// withMetadata rewrites f with the writer, setting key to v (the project's writer, as a hostile file would be).
func withMetadata(t *testing.T, f *gguf.File, kv map[string]any) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, gguf.Rewrite(&buf, f, func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
		for k, v := range kv {
			md.Set(k, v)
		}
		return ts
	}))
	g, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	return g
}

// TestLlamaConfigRefusesHostileValues: every count and size is checked for sign, range and consistency, and
// every float for being finite and positive, with one short line that names the key, the value and the
// allowed range (F1 negative rope dims, F2 NaN rope base, F3 huge block count, F12 eps/base/scale/rope dim).
func TestLlamaConfigRefusesHostileValues(t *testing.T) {
	base := tinyModel(t)
	_, err := base.LlamaConfig()
	require.NoError(t, err)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name string
		kv   map[string]any
		want string
	}{
		{"F1 rope dims negative", map[string]any{"llama.rope.dimension_count": int32(-2)}, "llama.rope.dimension_count = -2 is out of range (allowed: an even number from 2 to the head size 16)"},
		{"F1 rope dims huge", map[string]any{"llama.rope.dimension_count": int64(-1 << 40)}, "llama.rope.dimension_count = -1099511627776"},
		{"F12 rope dims zero", map[string]any{"llama.rope.dimension_count": uint32(0)}, "llama.rope.dimension_count = 0"},
		{"rope dims odd", map[string]any{"llama.rope.dimension_count": uint32(7)}, "llama.rope.dimension_count = 7"},
		{"rope dims over head", map[string]any{"llama.rope.dimension_count": uint32(18)}, "llama.rope.dimension_count = 18"},
		{"F2 rope base NaN", map[string]any{"llama.rope.freq_base": nan}, "llama.rope.freq_base = NaN is out of range (allowed: a finite number greater than 0)"},
		{"F12 rope base Inf", map[string]any{"llama.rope.freq_base": inf}, "llama.rope.freq_base = +Inf"},
		{"F12 rope base zero", map[string]any{"llama.rope.freq_base": float32(0)}, "llama.rope.freq_base = 0 "},
		{"F12 rope base negative", map[string]any{"llama.rope.freq_base": float32(-1)}, "llama.rope.freq_base = -1 "},
		{"F12 rope scaling NaN", map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": nan}, "llama.rope.scaling.factor = NaN"},
		{"F12 rope scaling negative", map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": float32(-1)}, "llama.rope.scaling.factor = -1"},
		{"F12 scale_linear tiny", map[string]any{"llama.rope.scale_linear": float32(1e-40)}, "rope scaling = +Inf"},
		{"F12 eps NaN", map[string]any{"llama.attention.layer_norm_rms_epsilon": nan}, "llama.attention.layer_norm_rms_epsilon = NaN is out of range (allowed: a finite number greater than 0 and at most 1)"},
		{"F12 eps zero", map[string]any{"llama.attention.layer_norm_rms_epsilon": float32(0)}, "layer_norm_rms_epsilon = 0 "},
		{"F12 eps negative", map[string]any{"llama.attention.layer_norm_rms_epsilon": float32(-1)}, "layer_norm_rms_epsilon = -1 "},
		{"F12 eps huge", map[string]any{"llama.attention.layer_norm_rms_epsilon": float32(1e38)}, "layer_norm_rms_epsilon = 1e+38 "},
		{"F12 eps Inf", map[string]any{"llama.attention.layer_norm_rms_epsilon": inf}, "layer_norm_rms_epsilon = +Inf"},
		{"F3 block count 2^31", map[string]any{"llama.block_count": uint32(1 << 31)}, "llama.block_count = 2147483648 is out of range (allowed: 1 to 65536)"},
		{"F3 block count 1e8", map[string]any{"llama.block_count": uint32(100000000)}, "llama.block_count = 100000000"},
		{"block count zero", map[string]any{"llama.block_count": uint32(0)}, "llama.block_count = 0"},
		{"context negative", map[string]any{"llama.context_length": int32(-5)}, "llama.context_length = -5 is out of range (allowed: 1 to 2147483648)"},
		{"context 2^40", map[string]any{"llama.context_length": uint64(1 << 40)}, "llama.context_length = 1099511627776"},
		{"embd negative", map[string]any{"llama.embedding_length": int32(-64)}, "llama.embedding_length = -64"},
		{"embd huge", map[string]any{"llama.embedding_length": uint32(1 << 31)}, "llama.embedding_length = 2147483648 is out of range (allowed: 1 to 1048576)"},
		{"ff zero", map[string]any{"llama.feed_forward_length": uint32(0)}, "llama.feed_forward_length = 0"},
		{"heads negative", map[string]any{"llama.attention.head_count": int32(-8)}, "llama.attention.head_count = -8"},
		{"heads not dividing", map[string]any{"llama.attention.head_count": uint32(7)}, "llama.embedding_length = 64 is not a multiple of llama.attention.head_count = 7"},
		{"kv heads zero", map[string]any{"llama.attention.head_count_kv": uint32(0)}, "llama.attention.head_count_kv = 0 is out of range (allowed: 1 to 4)"},
		{"kv heads over heads", map[string]any{"llama.attention.head_count_kv": uint32(16)}, "llama.attention.head_count_kv = 16"},
		{"kv heads not dividing", map[string]any{"llama.attention.head_count_kv": uint32(3)}, "llama.attention.head_count = 4 is not a multiple of llama.attention.head_count_kv = 3"},
		{"vocab negative", map[string]any{"llama.vocab_size": int32(-1)}, "llama.vocab_size = -1 is out of range"},
		{"vocab 2^40", map[string]any{"llama.vocab_size": uint64(1 << 40)}, "llama.vocab_size = 1099511627776"},
		{"eps a string", map[string]any{"llama.attention.layer_norm_rms_epsilon": "small"}, `"llama.attention.layer_norm_rms_epsilon" has type string`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := withMetadata(t, base, c.kv)
			cfg, err := f.LlamaConfig()
			require.Error(t, err, "config accepted: %+v", cfg)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n", "the error is one line")
			require.Less(t, len(err.Error()), 300, "the error is short")
		})
	}
	// Several problems at once: still one line, each named.
	f := withMetadata(t, base, map[string]any{"llama.rope.freq_base": nan, "llama.attention.head_count_kv": uint32(3)})
	_, err = f.LlamaConfig()
	require.ErrorContains(t, err, "rope.freq_base = NaN")
	require.ErrorContains(t, err, "head_count_kv = 3")
	require.Equal(t, 1, len(strings.Split(err.Error(), "\n")))
}
