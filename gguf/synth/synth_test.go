package synth

import (
	"bytes"
	"crypto/sha256"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// F8, F12: values the loader refuses (or that do not fit the header's 32 bits) were written anyway — rope
// dim -2 as 4294967294, ctx 2^40 as 0, rope base NaN — and --layers 2^31 died of out-of-memory planning
// 17 billion tensors. Check refuses each with the flag, the value and the allowed range, before any output.
func TestCheckAppliesTheLoadersRules(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{RopeDim: -2}, "--rope-dim -2 must be even, from 2 to the head size 64"},
		{Options{RopeDim: 3}, "--rope-dim 3 must be even"},
		{Options{Ctx: 1 << 40}, "--ctx 1099511627776 is out of range (allowed: 1 to 2147483648)"},
		{Options{RopeBase: nan}, "--rope-base NaN is out of range (allowed: a finite number greater than 0)"},
		{Options{RopeBase: -1}, "--rope-base -1 is out of range"},
		{Options{RopeBase: 1e39}, "--rope-base 1e+39 is out of range"},
		{Options{RMSEps: nan}, "--rms-eps NaN is out of range"},
		{Options{RMSEps: 2}, "--rms-eps 2 is out of range (allowed: a finite number greater than 0 and at most 1)"},
		{Options{Layers: 1 << 31}, "--layers 2147483648 is out of range (allowed: 1 to 65536) (this shape would make a file of about 6.0 PiB)"},
		{Options{Vocab: 1 << 40}, "--vocab 1099511627776 is out of range (allowed: 1 to 16777216)"},
		{Options{Embd: 1 << 21}, "--embd 2097152 is out of range"},
		{Options{Heads: 1 << 15, Embd: 1 << 15}, "--heads 32768 is out of range"},
		{Options{FF: 1 << 25}, "--ff 33554432 is out of range"},
		{Options{Preset: "huge"}, `--preset: unknown preset "huge": choose one of tiny, llama-1b, llama2-7b, llama3-8b`},
		{Options{Type: "Q7"}, `--type: unknown tensor type "Q7"`},
		{Options{Vocab: 5}, "at least 260 tokens, asked for 5"},
	} {
		require.ErrorContains(t, Check(c.o), c.want, "%+v", c.o)
		require.ErrorContains(t, Write(&bytes.Buffer{}, c.o), strings.SplitN(c.want, " (", 2)[0], "%+v", c.o)
	}
	require.NoError(t, Check(Options{}))
	require.NoError(t, Check(Options{Preset: "llama3-8b", Type: "Q4_K_M"}))
	// The estimate is close to what Write makes.
	o := Options{Type: "Q8_0"}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, o))
	require.InDelta(t, float64(buf.Len()), EstimateBytes(o), 0.1*float64(buf.Len()))
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
