package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamago/llamago/internal/npy"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// The findings of ../shared/reviews/newcomer.md about the CLI, each as a test that failed before.

// promptTokens runs 'run --json -n 1' and returns the prompt's token ids.
func promptTokens(t *testing.T, stdin string, args ...string) []int32 {
	t.Helper()
	out, stderr, code := runStdin(t, stdin, append([]string{"run", "--json", "-n", "1", "--temp", "0"}, args...)...)
	require.Zero(t, code, stderr)
	var r runResult
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return r.PromptTokens
}

var onceUponATime = []int32{1, 403, 407, 261, 378} // stories260K's tokens for "Once upon a time", BOS first

// Finding 3: a piped prompt was ignored (the story came from BOS alone); -f - was "no such file".
func TestPromptFromStdin(t *testing.T) {
	m := stories(t)
	require.Equal(t, onceUponATime, promptTokens(t, "Once upon a time\n", "-m", m))
	require.Equal(t, onceUponATime, promptTokens(t, "Once upon a time\n", "-m", m, "-f", "-"))
	out, stderr, code := runStdin(t, "The cat\n", "tokenize", "-m", m, "--ids")
	require.Zero(t, code, stderr)
	require.Equal(t, "[1, 291, 280, 294]\n", out)
	// -p wins over stdin; an empty prompt is an error, not a story from BOS.
	require.Equal(t, onceUponATime, promptTokens(t, "ignored", "-m", m, "-p", "Once upon a time"))
	for _, args := range [][]string{{"run", "-m", m}, {"run", "-m", m, "-p", ""}, {"attention", "-m", m, "-o", t.TempDir()}, {"tokenize", "-m", m}} {
		_, stderr, code := runStdin(t, "", args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "the prompt is empty")
	}
}

// Finding 6: -f kept the trailing newline (an extra token 13), unlike llama.cpp's -f.
func TestPromptFileDropsOneNewline(t *testing.T) {
	m := stories(t)
	p := filepath.Join(t.TempDir(), "p.txt")
	require.NoError(t, os.WriteFile(p, []byte("Once upon a time\n"), 0o644))
	require.Equal(t, onceUponATime, promptTokens(t, "", "-m", m, "-f", p))
	require.NoError(t, os.WriteFile(p, []byte("Once upon a time\n\n"), 0o644))
	require.Len(t, promptTokens(t, "", "-m", m, "-f", p), len(onceUponATime)+1, "only one newline is dropped")
}

// Finding 8: llama.cpp habits gave misleading errors ("invalid argument "gl" for "-n"", unknown shorthand s).
func TestLlamaCppFlags(t *testing.T) {
	m := stories(t)
	gen := func(args ...string) runResult {
		out, stderr, code := run(t, append([]string{"run", "-m", m, "-p", "Once upon a time", "-n", "8", "--temp", "1", "--json"}, args...)...)
		require.Zero(t, code, "%v: %s", args, stderr)
		var r runResult
		require.NoError(t, json.Unmarshal([]byte(out), &r))
		return r
	}
	require.Equal(t, gen("--seed", "42").Tokens, gen("-s", "42").Tokens)
	require.Equal(t, uint64(42), gen("-s", "42").Seed)
	for _, ngl := range [][]string{{"-ngl", "99"}, {"-ngl=0"}, {"--n-gpu-layers", "99"}, {"-c", "64"}, {"--ctx-size", "64"}, {"-t", "1"}, {"-no-cnv"}} {
		require.Len(t, gen(ngl...).Tokens, 8, "%v", ngl)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-m", m, "-cnv"}, "-cnv is a llama.cpp flag: llamago's conversation mode is a command of its own: llamago chat"},
		{[]string{"run", "-m", m, "-i"}, "-i is a llama.cpp flag"},
		{[]string{"run", "-hf", "some/repo"}, "downloads nothing"},
		{[]string{"run", "model.gguf", "-p", "hi"}, `"model.gguf" looks like a model file: give it with -m`},
		{[]string{"run", "-m", m, "Once upon"}, `give the prompt with -p (llamago run -p "Once upon")`},
		{[]string{"attention", "-m", m, "The cat", "-o", "x"}, "give the prompt with -p"},
		{[]string{"run", "-m", m, "-p", "x", "-ngl", "gl"}, `invalid argument "gl" for "--gpu-layers"`},
		{[]string{"run", "-m", m, "-p", "x", "-ctk", "f16", "-ctv", "f32"}, "-ctk f16 and -ctv f32: llamago keeps keys and values in one type, --kv-type"},
		{[]string{"run", "-m", m, "-p", "x", "--cache-type-k=q8_0"}, `--kv-type: KV cache type "q8_0" must be f32`},
	} {
		_, stderr, code := run(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, "%v", c.args)
	}
	// -p's text is left alone even when it looks like a flag.
	out, stderr, code := run(t, "tokenize", "-m", m, "--no-bos", "--json", "-p", "-cnv")
	require.Zero(t, code, stderr)
	require.Contains(t, out, `"-`)
	// llama-tokenize takes -p.
	out, stderr, code = run(t, "tokenize", "-m", m, "--ids", "-p", "The cat")
	require.Zero(t, code, stderr)
	require.Equal(t, "[1, 291, 280, 294]\n", out)
}

// llama.cpp's KV cache type flags become --kv-type when keys and values (and a --kv-type given too) agree.
func TestFixArgsKVType(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"run", "-ctk", "f16", "-ctv", "f16"}, []string{"run", "--kv-type", "f16", "--kv-type", "f16"}},
		{[]string{"bench", "--cache-type-k=F16", "--cache-type-v", "f16"}, []string{"bench", "--kv-type", "F16", "--kv-type", "f16"}},
		{[]string{"run", "-p", "-ctk", "-ctv", "f32"}, []string{"run", "-p", "-ctk", "--kv-type", "f32"}},
		{[]string{"run", "-ctk"}, []string{"run", "--kv-type"}},
		{[]string{"run", "--kv-type=f16", "-ctv", "f16"}, []string{"run", "--kv-type", "f16", "--kv-type", "f16"}},
		// Repeated, the last one counts (as pflag takes it): a script's override of its base flags.
		{[]string{"run", "--kv-type", "f32", "--kv-type", "f16"}, []string{"run", "--kv-type", "f32", "--kv-type", "f16"}},
		{[]string{"run", "-ctk", "f16", "-ctk", "f32", "-ctv", "f32"}, []string{"run", "--kv-type", "f16", "--kv-type", "f32", "--kv-type", "f32"}},
	} {
		got, err := fixArgs(c.in, anyCommand)
		require.NoError(t, err, "%v", c.in)
		require.Equal(t, c.want, got, "%v", c.in)
	}
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"run", "-ctv=f32", "-ctk", "f16"}, "-ctk f16 and -ctv f32: llamago keeps keys and values in one type"},
		{[]string{"run", "-ctk", "f16", "--kv-type", "f32"}, "-ctk f16 and --kv-type f32"},
		{[]string{"run", "--kv-type", "f32", "--cache-type-v=f16"}, "--cache-type-v f16 and --kv-type f32"},
	} {
		_, err := fixArgs(c.in, anyCommand)
		require.ErrorContains(t, err, c.want, "%v", c.in)
	}
	got, err := fixArgs([]string{"x", "-ctk", "f16"}, command{name: "x", own: func(n string) bool { return n == "-ctk" }, has: anyCommand.has, takesValue: anyCommand.takesValue})
	require.NoError(t, err)
	require.Equal(t, []string{"x", "-ctk", "f16"}, got, "a command's own -ctk is left alone")
}

// llama-server's habits: -np and -a are serve's --parallel and --alias; -cb, --jinja, --metrics and -fa
// (with or without on/off/auto) ask for what llamago does anyway; a llama.cpp flag whose counterpart the
// command lacks is refused by the name the user typed.
func TestFixArgsServerHabits(t *testing.T) {
	serveFlags := map[string]bool{"parallel": true, "alias": true, "kv-type": true, "gpu-layers": true}
	serve := command{name: "serve", own: func(string) bool { return false }, has: func(l string) bool { return serveFlags[l] },
		takesValue: func(n string) bool { return n == "--parallel" || n == "--alias" || n == "-p" }}
	got, err := fixArgs([]string{"serve", "-np", "4", "-cb", "--jinja", "--metrics", "-a", "tiny", "-fa", "on", "--cont-batching", "--flash-attn=auto", "-fa", "-p", "x"}, serve)
	require.NoError(t, err)
	require.Equal(t, []string{"serve", "--parallel", "4", "--alias", "tiny", "-p", "x"}, got)
	tokenize := command{name: "tokenize", own: func(string) bool { return false }, has: func(string) bool { return false }, takesValue: anyCommand.takesValue}
	_, err = fixArgs([]string{"tokenize", "-ngl", "99"}, tokenize)
	require.ErrorContains(t, err, "-ngl (llamago's --gpu-layers) is not a flag of tokenize")
	_, err = fixArgs([]string{"tokenize", "-ctk", "f16"}, tokenize)
	require.ErrorContains(t, err, "-ctk (llamago's --kv-type) is not a flag of tokenize")
	got, err = fixArgs([]string{"tokenize", "--kv-type", "f16"}, tokenize)
	require.NoError(t, err, "llamago's own spelling is pflag's to refuse")
	require.Equal(t, []string{"tokenize", "--kv-type", "f16"}, got)
	got, err = fixArgs([]string{"bench", "-fa", "0,1", "-p", "8"}, serve)
	require.NoError(t, err)
	require.Equal(t, []string{"bench", "-p", "8"}, got, "llama-bench's -fa 0,1")
}

// The values of a command's flags pass untouched, whatever they look like (a stop string "-i", a system
// message "-fa"): through the real command table.
func TestFixArgsKeepsValues(t *testing.T) {
	root := newRootCmd()
	for _, c := range []struct{ in, want []string }{
		{[]string{"run", "-r", "-i", "--stop", "-a", "-p", "-cnv"}, []string{"run", "--stop", "-i", "--stop", "-a", "-p", "-cnv"}},
		{[]string{"chat", "--system", "-fa", "-n", "4"}, []string{"chat", "--system", "-fa", "-n", "4"}},
		{[]string{"bench", "-r", "3", "-fa", "1"}, []string{"bench", "-r", "3"}},
		{[]string{"run", "--no-bos", "-ngl", "99"}, []string{"run", "--no-bos", "--gpu-layers", "99"}},
	} {
		got, err := llamagoArgs(root, c.in)
		require.NoError(t, err, "%v", c.in)
		require.Equal(t, c.want, got, "%v", c.in)
	}
}

// Findings 1 and the issue: run and attention work without -m, from any folder, and say so on stderr.
func TestRunWithoutModelOutsideCheckout(t *testing.T) {
	refPath := filepath.Join(testutil.SharedDir(), "reference/greedy/stories260K__once_upon_a_time.llama-completion.txt")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Chdir(t.TempDir())
	out, stderr, code := run(t, "run", "-p", "Once upon a time", "-n", "24", "--temp", "0", "--no-display-prompt")
	require.Zero(t, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, "built-in stories260K"), stderr)
	require.True(t, strings.HasPrefix(out, ", there was a little girl"), out)
	if ref, err := os.ReadFile(refPath); err == nil {
		// llama.cpp's greedy text from the same model file: ours is its first 24 tokens.
		require.True(t, strings.HasPrefix(string(ref), strings.TrimSuffix(out, "\n")), "%q is not a prefix of %q", out, ref)
	} else {
		t.Logf("llama.cpp's reference text not found (%v): checked only the opening words", err)
	}
	_, stderr, code = run(t, "attention", "-p", "The cat sat on the mat", "-o", "attn", "-q")
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "built-in stories260K")
	require.FileExists(t, filepath.Join("attn", "index.html"))
	require.Contains(t, stderr, "open attn/index.html in a browser")
}

// Finding 13: devices --json printed plain text.
func TestDevicesJSON(t *testing.T) {
	out, stderr, code := run(t, "devices", "--json")
	require.Zero(t, code, stderr)
	var v []any
	require.NoError(t, json.Unmarshal([]byte(out), &v), "stdout must be JSON: %q", out)
}

// Finding 17: the wrong kind of file gave a message about a missing metadata key, a folder "mmap: no such device".
func TestWrongKindOfFile(t *testing.T) {
	vocab := testutil.Shared(t, "vocab")
	for _, c := range []struct {
		model, want string
	}{
		{filepath.Join(vocab, "ggml-vocab-gpt-2.gguf"), `architecture "gpt2" is not supported (llamago runs: llama)`},
		{filepath.Join(vocab, "ggml-vocab-llama-spm.gguf"), "vocabulary-only file"},
		{t.TempDir(), "is a folder: give the GGUF file in it"},
	} {
		_, stderr, code := run(t, "run", "-m", c.model, "-p", "x")
		require.NotZero(t, code)
		require.Contains(t, stderr, c.want)
	}
}

// Findings 14, 16, 20: help and messages that said the wrong thing or too little.
func TestHelpAndInspectWording(t *testing.T) {
	out, _, code := run(t, "--version")
	require.Zero(t, code)
	require.True(t, strings.HasPrefix(out, "llamago "), out)
	out, _, _ = run(t, "perplexity", "--help")
	require.Contains(t, out, "default 512, as llama-perplexity")
	require.NotContains(t, out, "at most 4096")
	if !gpuBuild {
		out, _, _ = run(t, "run", "--help")
		require.NotContains(t, out, "--unfused", "GPU developer flags are hidden on the CPU build")
	}
	out, _, code = run(t, "inspect", stories(t), "--no-tensors")
	require.Zero(t, code)
	require.Regexp(t, `chat template:\s+none`, out)
	require.NotContains(t, out, "default / default")
}

// Finding 19: -n 0 (llama.cpp: evaluate the prompt only) was refused.
func TestRunPromptOnly(t *testing.T) {
	out, stderr, code := run(t, "run", "-m", stories(t), "-p", "Once upon a time", "-n", "0", "--json")
	require.Zero(t, code, stderr)
	var r runResult
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Empty(t, r.Tokens)
	require.Equal(t, onceUponATime, r.PromptTokens)
}

// Findings 16 and 20: inspect said "file type: unknown" for an F32 file without the key, and logits
// printed bare logits without a header or probabilities.
func TestInspectFileTypeAndLogitsHeader(t *testing.T) {
	out, _, code := run(t, "inspect", stories(t), "--no-tensors")
	require.Zero(t, code)
	require.Regexp(t, `file type:\s+not set \(most weights are F32\)`, out)
	out, _, code = run(t, "logits", "-m", stories(t), "-p", "The cat", "--top", "2")
	require.Zero(t, code)
	require.Contains(t, out, "most likely next tokens: logit (probability)")
	require.Regexp(t, `" Once" 17\.\d+ \(0\.78\d\)`, out, "BOS is followed by \" Once\" with p ≈ 0.78")
}

// Finding 19: --ctx past the trained context and --gpu-layers on the CPU build were silent.
func TestLoadNotes(t *testing.T) {
	_, stderr, code := run(t, "run", "-m", stories(t), "-p", "Once", "-n", "1", "--ctx", "4096", "-q")
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "note: --ctx 4096 is more than the 2048 positions the model was trained with")
	if !gpuBuild {
		_, stderr, code = run(t, "run", "-m", stories(t), "-p", "Once", "-n", "1", "-ngl", "99", "-q")
		require.Zero(t, code, stderr)
		require.Contains(t, stderr, "note: --gpu-layers/-ngl has no effect")
		_, stderr, code = run(t, "run", "-m", stories(t), "-p", "Once", "-n", "1", "-mg", "1", "-ts", "3,1", "-q")
		require.Zero(t, code, stderr)
		require.Contains(t, stderr, "note: --device/-mg, --tensor-split/-ts have no effect")
		_, stderr, _ = run(t, "run", "-m", stories(t), "-p", "Once", "-n", "1", "-q")
		require.NotContains(t, stderr, "no effect", "the defaults ask for no GPU")
	}
}

// Finding 20: synth --heads 3 added an error about a --rope-dim the user never set, and type errors
// listed 17 types llamago cannot write.
func TestSynthAndTypeErrors(t *testing.T) {
	_, stderr, code := run(t, "synth", "--heads", "3", "-o", filepath.Join(t.TempDir(), "x.gguf"))
	require.NotZero(t, code)
	require.Contains(t, stderr, "--embd 256 must be a multiple of --heads 3")
	require.NotContains(t, stderr, "--rope-dim")
	_, stderr, _ = run(t, "synth", "--type", "Q7", "-o", filepath.Join(t.TempDir(), "x.gguf"))
	require.Contains(t, stderr, `unknown tensor type "Q7": model weights can be written as F32, F16, Q4_0`)
	require.NotContains(t, stderr, "IQ2_XXS")
	require.NotContains(t, stderr, "MXFP4")
}

// Finding 16: --tensor NAME without --dump was an error instead of showing the tensor.
func TestInspectOneTensor(t *testing.T) {
	npyPath := filepath.Join(t.TempDir(), "q.npy")
	_, stderr, code := run(t, "inspect", stories(t), "--tensor", "blk.0.attn_q.weight", "--dump", npyPath)
	require.Zero(t, code, stderr)
	fh, err := os.Open(npyPath)
	require.NoError(t, err)
	_, vals, err := npy.ReadFloat32(fh)
	fh.Close()
	require.NoError(t, err)
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		sum += float64(v)
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	out, stderr, code := run(t, "inspect", stories(t), "--tensor", "blk.0.attn_q.weight", "--json")
	require.Zero(t, code, stderr)
	var st tensorStats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "F32", st.Type)
	require.Equal(t, []uint64{64, 64}, st.Shape)
	require.InDelta(t, sum/float64(len(vals)), float64(st.Mean), 1e-9)
	require.Equal(t, lo, float64(st.Min))
	require.Equal(t, hi, float64(st.Max))
	out, _, code = run(t, "inspect", stories(t), "--tensor", "blk.0.attn_q.weight")
	require.Zero(t, code)
	require.Contains(t, out, "blk.0.attn_q.weight: F32 [64 64]")
}
