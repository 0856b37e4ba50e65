package synth

import (
	"bytes"
	"crypto/sha256"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

func synthBytes(t *testing.T, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, o))
	return buf.Bytes()
}

func TestDeterministicBySeed(t *testing.T) {
	a := synthBytes(t, Options{Type: "Q4_0", Seed: 7, Workers: 3})
	b := synthBytes(t, Options{Type: "Q4_0", Seed: 7, Workers: 1})
	c := synthBytes(t, Options{Type: "Q4_0", Seed: 8})
	require.Equal(t, sha256.Sum256(a), sha256.Sum256(b), "same seed, different worker count")
	require.NotEqual(t, sha256.Sum256(a), sha256.Sum256(c), "different seeds")
}

func TestShapesAndTypes(t *testing.T) {
	raw := synthBytes(t, Options{Embd: 512, Layers: 3, Heads: 8, KVHeads: 1, FF: 1024, Vocab: 300, Type: "Q4_K_M"})
	f, err := gguf.Parse(raw)
	require.NoError(t, err)
	c, err := gguf.ReadLlamaConfig(&f.Metadata)
	require.NoError(t, err)
	require.Equal(t, 512, c.EmbeddingLength)
	require.Equal(t, 3, c.BlockCount)
	require.Equal(t, 1, c.HeadCountKV)
	require.Equal(t, 300, c.VocabSize)
	require.Equal(t, 15, c.FileType)
	k, _ := f.Tensor("blk.0.attn_k.weight")
	require.Equal(t, []uint64{512, 64}, k.Dims) // one KV head of size 512/8
	// Q4_K_M: Q6_K for attn_v/ffn_down of the layers llama.cpp's use_more_bits picks (of 3 layers: layer 2).
	for _, name := range []string{"blk.2.attn_v.weight", "blk.2.ffn_down.weight", "output.weight"} {
		ti, _ := f.Tensor(name)
		require.Equal(t, gguf.TypeQ6_K, ti.Type, name)
	}
	for _, name := range []string{"blk.1.attn_v.weight", "blk.0.attn_q.weight", "token_embd.weight"} {
		ti, _ := f.Tensor(name)
		require.Equal(t, gguf.TypeQ4_K, ti.Type, name)
	}
	n, _ := f.Tensor("blk.0.attn_norm.weight")
	require.Equal(t, gguf.TypeF32, n.Type)
	tok, err := gguf.ReadTokenizer(&f.Metadata)
	require.NoError(t, err)
	require.Len(t, tok.Tokens, 300)
	require.Equal(t, "<0x41>", tok.Tokens[3+0x41])
	seen := map[string]bool{}
	for _, p := range tok.Tokens {
		require.False(t, seen[p], "duplicate piece %q", p)
		seen[p] = true
	}
}

// TestWeightScale checks the weights have the intended spread, so forward passes are well-conditioned.
func TestWeightScale(t *testing.T) {
	f, err := gguf.Parse(synthBytes(t, Options{Type: "F32"}))
	require.NoError(t, err)
	for name, want := range map[string]float64{"token_embd.weight": 1, "blk.0.attn_q.weight": 1 / 16.0, "output.weight": 4 / 16.0} {
		ti, _ := f.Tensor(name)
		x := make([]float32, ti.Elements())
		require.NoError(t, gguf.Dequantize(ti.Type, f.TensorData(ti), x))
		var s, ss float64
		for _, v := range x {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		n := float64(len(x))
		std := math.Sqrt(ss/n - (s/n)*(s/n))
		require.InEpsilon(t, want, std, 0.03, name)
		require.InDelta(t, 0, s/n, 0.05*want, name)
	}
}

func TestTiedEmbeddings(t *testing.T) {
	f, err := gguf.Parse(synthBytes(t, Options{TiedEmbed: true}))
	require.NoError(t, err)
	_, hasOutput := f.Tensor("output.weight")
	require.False(t, hasOutput)
}

func TestFallbackAndErrors(t *testing.T) {
	var notes []string
	raw := synthBytes(t, Options{Embd: 64, Heads: 4, FF: 96, Type: "Q4_K", Warn: func(f string, a ...any) { notes = append(notes, f) }})
	f, err := gguf.Parse(raw)
	require.NoError(t, err)
	q, _ := f.Tensor("blk.0.attn_q.weight")
	require.Equal(t, gguf.TypeQ5_0, q.Type)
	require.NotEmpty(t, notes)

	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Preset: "huge"}, "unknown preset"},
		{Options{Embd: 100, Heads: 3}, "multiple of --heads"},
		{Options{Heads: 4, KVHeads: 3}, "multiple of --kv-heads"},
		{Options{Type: "Q9_9"}, "unknown tensor type"},
		{Options{Type: "IQ2_XXS"}, "cannot write"},
		{Options{Vocab: 100}, "at least 260 tokens"},
		{Options{Layers: -1}, "--layers must be positive"},
	} {
		require.ErrorContains(t, Write(&bytes.Buffer{}, c.o), c.want)
	}
}

func TestWriteFileLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	require.Error(t, WriteFile(out, Options{Type: "nope"}))
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "a failed synth must not leave files behind")
	require.NoError(t, WriteFile(out, Options{}))
	f, err := gguf.Open(out)
	require.NoError(t, err)
	f.Close()
}

func TestVocabFrom(t *testing.T) {
	src := testutil.Shared(t, "models/stories260K.gguf")
	f, err := gguf.Parse(synthBytes(t, Options{VocabFrom: src, Vocab: 512, Type: "Q8_0"}))
	require.NoError(t, err)
	tok, err := gguf.ReadTokenizer(&f.Metadata)
	require.NoError(t, err)
	sf, err := gguf.Open(src)
	require.NoError(t, err)
	defer sf.Close()
	want, _ := sf.Tokenizer()
	require.Equal(t, want.Tokens, tok.Tokens)
	require.Equal(t, want.Scores, tok.Scores)
	require.ErrorContains(t, Write(&bytes.Buffer{}, Options{VocabFrom: src, Vocab: 600}), "pass --vocab 512")
}
