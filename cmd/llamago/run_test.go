package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/npy"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

func stories(t *testing.T) string { return testutil.Shared(t, "models/stories260K.gguf") }

func TestRunGreedyMatchesLlamaCpp(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join(testutil.Shared(t, "reference/greedy"), "stories260K__once_upon_a_time.llama-completion.txt"))
	require.NoError(t, err)
	out, stderr, code := run(t, "run", "-m", stories(t), "-p", "Once upon a time", "-n", "128", "--temp", "0", "--ignore-eos", "--no-display-prompt")
	require.Zero(t, code, stderr)
	require.Equal(t, strings.TrimRight(string(ref), "\n"), strings.TrimRight(out, "\n"))
	require.Contains(t, stderr, "prompt eval time")
	out, _, _ = run(t, "run", "-m", stories(t), "-p", "Once upon a time", "-n", "8", "--temp", "0")
	require.True(t, strings.HasPrefix(out, "Once upon a time, there was"), out)
	require.Contains(t, stderr, "tokens per second")
}

func TestRunJSONAndSeed(t *testing.T) {
	args := []string{"run", "-m", stories(t), "-p", "Once upon a time", "-n", "20", "--seed", "7", "--temp", "1", "--json"}
	gen := func(args ...string) runResult {
		out, stderr, code := run(t, args...)
		require.Zero(t, code, stderr)
		var r runResult
		require.NoError(t, json.Unmarshal([]byte(out), &r))
		return r
	}
	r := gen(args...)
	again := gen(args...)
	require.Equal(t, r.Tokens, again.Tokens, "same seed, same tokens")
	require.Equal(t, r.Text, again.Text)
	args[8] = "8" // another seed (deterministic: these two seeds give different draws at temperature 1)
	require.NotEqual(t, r.Tokens, gen(args...).Tokens)
	require.Equal(t, uint64(7), r.Seed)
	require.Len(t, r.Tokens, 20)
	require.Equal(t, []int32{1, 403, 407, 261, 378}, r.PromptTokens)
	require.NotEmpty(t, r.Text)
	require.Equal(t, numerics{Activations: 16, KVType: "f32"}, r.numerics, "the settings that change the numbers")
	r = gen(append(args, "--activations", "8", "-ctk", "f16")...)
	require.Equal(t, numerics{Activations: 8, KVType: "f16"}, r.numerics)
}

func TestTokenizeCommand(t *testing.T) {
	out, stderr, code := run(t, "tokenize", "-m", stories(t), "--json", "The cat sat on the mat")
	require.Zero(t, code, stderr)
	var r struct {
		IDs    []int32  `json:"ids"`
		Pieces []string `json:"pieces"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, []int32{1, 291, 280, 294, 262, 294, 353, 265, 284, 294}, r.IDs)
	require.Equal(t, "<s>", r.Pieces[0])
	require.Equal(t, " The", r.Pieces[1])
	out, _, _ = run(t, "tokenize", "-m", stories(t), "--no-bos", "--ids", "Hello")
	require.Equal(t, "[346, 306, 414]\n", out)
	out, _, _ = run(t, "tokenize", "-m", stories(t), "--special", "--no-bos", "--ids", "<s>Hello</s>")
	require.Equal(t, "[1, 346, 306, 414, 2]\n", out)
}

func TestLogitsCommand(t *testing.T) {
	npyPath := filepath.Join(t.TempDir(), "l.npy")
	_, stderr, code := run(t, "logits", "-m", stories(t), "-p", "The cat sat on the mat", "--npy", npyPath)
	require.Zero(t, code, stderr)
	f, err := os.Open(npyPath)
	require.NoError(t, err)
	defer f.Close()
	shape, vals, err := npy.ReadFloat32(f)
	require.NoError(t, err)
	require.Equal(t, []int{10, 512}, shape)

	out, _, code := run(t, "logits", "-m", stories(t), "-p", "The cat sat on the mat", "--json")
	require.Zero(t, code)
	var r struct {
		Tokens []int32     `json:"tokens"`
		Logits [][]float32 `json:"logits"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Logits, 10)
	require.Equal(t, vals[9*512:10*512], r.Logits[9])

	// Same logits as llama.cpp's reference, within float32 rounding.
	raw, err := os.ReadFile(filepath.Join(testutil.Shared(t, "reference/logits"), "stories260K__the_cat_sat_on_the_mat.json"))
	require.NoError(t, err)
	var ref struct {
		Tokens []int32     `json:"tokens"`
		Logits [][]float64 `json:"logits"`
	}
	require.NoError(t, json.Unmarshal(raw, &ref))
	require.Equal(t, ref.Tokens, r.Tokens)
	for p := range ref.Logits {
		for i, v := range ref.Logits[p] {
			require.InDelta(t, v, r.Logits[p][i], 1e-4)
		}
	}
	text, _, code := run(t, "logits", "-m", stories(t), "-p", "Once upon a time")
	require.Zero(t, code)
	require.Contains(t, text, `" Once"`)
}

func TestPerplexityAndKLD(t *testing.T) {
	story, err := os.ReadFile(filepath.Join(testutil.Shared(t, "reference/prompts"), "tinystories_paragraph.txt"))
	require.NoError(t, err)
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat(string(story)+"\n", 3)), 0o644))
	base := filepath.Join(dir, "base.kld")
	out, stderr, code := run(t, "perplexity", "-m", stories(t), "-f", text, "--ctx", "64", "--kl-divergence-base", base, "--json", "-q")
	require.Zero(t, code, stderr)
	var r pplResult
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	// A trained TinyStories model on a TinyStories paragraph: low perplexity.
	require.Greater(t, r.PPL, 1.0)
	require.Less(t, r.PPL, 10.0)
	require.Equal(t, r.Chunks*(64-1-32), r.Scored)
	require.Equal(t, numerics{Activations: 16, KVType: "f32"}, r.numerics)
	// The same model against its own base: zero KL divergence, same top token everywhere.
	out, _, code = run(t, "perplexity", "-m", stories(t), "-f", text, "--ctx", "64", "--kl-divergence-base", base, "--kl-divergence", "--json", "-q")
	require.Zero(t, code)
	var k pplResult
	require.NoError(t, json.Unmarshal([]byte(out), &k))
	require.InDelta(t, 0, k.MeanKL, 1e-6)
	require.Equal(t, 1.0, k.SameTop)
	require.InDelta(t, r.PPL, k.BasePPL, 1e-3)
	// A different context size is refused with the reason.
	_, stderr, code = run(t, "perplexity", "-m", stories(t), "-f", text, "--ctx", "32", "--kl-divergence-base", base, "--kl-divergence", "-q")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "was written with --ctx 64")
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	// A model whose architecture llamago does not run, and one with tensors missing.
	writeModel := func(name string, edit func(w *gguf.Writer)) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		require.NoError(t, err)
		defer f.Close()
		w := gguf.NewWriter(f)
		w.Metadata.Set("general.architecture", "llama")
		for k, v := range map[string]uint32{"context_length": 64, "embedding_length": 32, "block_count": 2, "feed_forward_length": 64, "attention.head_count": 4} {
			w.Metadata.Set("llama."+k, v)
		}
		w.Metadata.Set("llama.attention.layer_norm_rms_epsilon", float32(1e-5))
		w.Metadata.Set("tokenizer.ggml.model", "llama")
		w.Metadata.Set("tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "a"})
		w.Metadata.Set("tokenizer.ggml.bos_token_id", uint32(1))
		edit(w)
		require.NoError(t, w.Close())
		return p
	}
	qwen := writeModel("qwen.gguf", func(w *gguf.Writer) {
		w.Metadata.Set("general.architecture", "qwen2")
		for _, kv := range w.Metadata.KVs {
			if strings.HasPrefix(kv.Key, "llama.") {
				w.Metadata.Set("qwen2."+strings.TrimPrefix(kv.Key, "llama."), kv.Value)
			}
		}
	})
	partial := writeModel("partial.gguf", func(w *gguf.Writer) {
		require.NoError(t, w.AddTensor("output_norm.weight", gguf.TypeF32, 32))
		_, err := w.Write(make([]byte, 128))
		require.NoError(t, err)
	})
	// A model whose weights are in a type llamago has no kernels for (IQ2_XXS): one clear error, not a panic.
	iq2 := filepath.Join(dir, "iq2.gguf")
	{
		src, err := gguf.Open(stories(t))
		require.NoError(t, err)
		fh, err := os.Create(iq2)
		require.NoError(t, err)
		w := gguf.NewWriter(fh)
		for _, kv := range src.Metadata.KVs {
			w.Metadata.Set(kv.Key, kv.Value)
		}
		w.Metadata.Set("llama.embedding_length", uint32(256))
		w.Metadata.Set("llama.feed_forward_length", uint32(256))
		w.Metadata.Set("llama.block_count", uint32(1))
		w.Metadata.Set("llama.rope.dimension_count", uint32(32))
		for _, tt := range []struct {
			name string
			typ  gguf.Type
			dims []uint64
		}{{"token_embd.weight", gguf.TypeF32, []uint64{256, 512}}, {"output_norm.weight", gguf.TypeF32, []uint64{256}},
			{"blk.0.attn_norm.weight", gguf.TypeF32, []uint64{256}}, {"blk.0.ffn_norm.weight", gguf.TypeF32, []uint64{256}},
			{"blk.0.attn_q.weight", gguf.TypeIQ2_XXS, []uint64{256, 256}}, {"blk.0.attn_k.weight", gguf.TypeIQ2_XXS, []uint64{256, 128}},
			{"blk.0.attn_v.weight", gguf.TypeIQ2_XXS, []uint64{256, 128}}, {"blk.0.attn_output.weight", gguf.TypeIQ2_XXS, []uint64{256, 256}},
			{"blk.0.ffn_gate.weight", gguf.TypeIQ2_XXS, []uint64{256, 256}}, {"blk.0.ffn_up.weight", gguf.TypeIQ2_XXS, []uint64{256, 256}},
			{"blk.0.ffn_down.weight", gguf.TypeIQ2_XXS, []uint64{256, 256}}} {
			require.NoError(t, w.AddTensor(tt.name, tt.typ, tt.dims...))
		}
		for _, ti := range w.Tensors() {
			_, err := w.Write(make([]byte, ti.Size))
			require.NoError(t, err)
		}
		require.NoError(t, w.Close())
		require.NoError(t, fh.Close())
		src.Close()
	}
	long := strings.Repeat("Once upon a time ", 100)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"logits", "-p", "x"}, 2, "--model/-m is required"},
		{[]string{"run", "-m", filepath.Join(dir, "none.gguf"), "-p", "x"}, 1, "no such file"},
		{[]string{"run", "-m", qwen, "-p", "x"}, 1, `architecture "qwen2" is not supported (llamago runs: llama)`},
		{[]string{"run", "-m", partial, "-p", "x"}, 1, "tensors are missing: token_embd.weight, blk.0.attn_norm.weight"},
		{[]string{"run", "-m", iq2, "-p", "x"}, 1, "llamago cannot compute with IQ2_XXS weights yet"},
		{[]string{"run", "-m", stories(t), "-p", long, "--ctx", "64"}, 1, "longer than the context of 64: use a larger --ctx"},
		{[]string{"run", "-m", stories(t), "-p", "x", "--temp", "-1"}, 2, "temperature must be ≥ 0"},
		{[]string{"run", "-m", stories(t), "-p", "x", "--top-p", "2"}, 2, "top-p must be in (0, 1]"},
		{[]string{"run", "-m", stories(t), "-p", "x", "-n", "-2"}, 2, "-n must be ≥ 0"},
		{[]string{"run", "-m", stories(t), "-p", "x", "--ctx", "-5"}, 2, "--ctx must be positive"},
		{[]string{"run", "-m", stories(t), "-p", "x", "--backend", "tpu"}, 2, "--backend must be auto, cpu or cuda"},
		{[]string{"run", "-m", stories(t), "-p", "x", "-f", "y"}, 2, "not both"},
		{[]string{"perplexity", "-m", stories(t)}, 2, "--file/-f is required"},
		{[]string{"perplexity", "-m", stories(t), "-f", "x", "--kl-divergence"}, 2, "--kl-divergence needs --kl-divergence-base"},
	} {
		_, stderr, code := run(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, strings.Join(c.args, " "))
	}
	// The missing-tensor error names all of them at once.
	_, stderr, _ := run(t, "run", "-m", partial, "-p", "x")
	require.Contains(t, stderr, "blk.1.ffn_down.weight")
}

// TestRunContextFull stops cleanly when generation reaches the context size.
func TestRunContextFull(t *testing.T) {
	out, stderr, code := run(t, "run", "-m", stories(t), "-p", "Once upon a time", "-n", "-1", "--ctx", "16", "--temp", "0", "--ignore-eos")
	require.Zero(t, code, stderr)
	require.NotEmpty(t, out)
	require.Contains(t, stderr, "context of 16 tokens is full")
}

// TestRunStop: --stop (llama.cpp's -r) ends the output before the first stop string, streamed and in
// JSON, with stop_reason "stop"; the text is the server's for the same request (server.TestStop).
func TestRunStop(t *testing.T) {
	args := []string{"run", "-m", stories(t), "-p", "Once upon a time", "-n", "24", "--temp", "0", "--no-display-prompt", "-q"}
	out, stderr, code := run(t, append(args, "--stop", "Lily")...)
	require.Zero(t, code, stderr)
	require.Equal(t, ", there was a little girl named \n", out, "the text, then the newline run ends with")
	out, stderr, code = run(t, append(args, "-r", "named", "--stop", "little", "--json")...)
	require.Zero(t, code, stderr)
	var r runResult
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, ", there was a ", r.Text, "the first stop string in the text ends it")
	require.Equal(t, "stop", r.StopReason)
	// The tokens are those whose text the output holds: the stop " Lily" begins where the token " Lily" (id
	// 317 in stories260K) does, which is left out; with the stop "ily" that token's " L" is in the text, and
	// the token stays (as the server keeps tokens that begin before the cut).
	out, _, code = run(t, append(args, "--stop", " Lily", "--json")...)
	require.Zero(t, code)
	var cut runResult
	require.NoError(t, json.Unmarshal([]byte(out), &cut))
	require.True(t, strings.HasSuffix(cut.Text, " named"), cut.Text)
	out, _, code = run(t, append(args, "--json")...)
	require.Zero(t, code)
	var whole runResult
	require.NoError(t, json.Unmarshal([]byte(out), &whole))
	require.Equal(t, whole.Tokens[:len(cut.Tokens)], cut.Tokens)
	require.Equal(t, int32(317), whole.Tokens[len(cut.Tokens)], "the first token left out is the one the stop string begins")
	out, _, code = run(t, append(args, "--stop", "ily", "--json")...)
	require.Zero(t, code)
	var in runResult
	require.NoError(t, json.Unmarshal([]byte(out), &in))
	require.True(t, strings.HasSuffix(in.Text, " named L"), in.Text)
	require.Equal(t, whole.Tokens[:len(cut.Tokens)+1], in.Tokens)
	out, _, code = run(t, append(args, "--stop", "no such words")...)
	require.Zero(t, code)
	require.True(t, strings.HasPrefix(out, ", there was a little girl named Lily"), "a stop string never met holds nothing back: %q", out)
	_, stderr, code = run(t, append(args, "--stop", "")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--stop takes a non-empty string")
}
