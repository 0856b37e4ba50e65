package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/npy"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// run executes the CLI in-process, returning stdout, stderr and the exit status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runStdin(t, "", args...)
}

// runStdin is run with stdin piped from the given text.
func runStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	err := executeRoot(root, args)
	code := 0
	if err != nil {
		errb.WriteString(err.Error())
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}

func synthTiny(t *testing.T, typ string, extra ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m-"+typ+".gguf")
	_, stderr, code := run(t, append([]string{"synth", "-q", "--type", typ, "-o", p}, extra...)...)
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "wrote "+p)
	return p
}

func TestSynthThenInspect(t *testing.T) {
	p := synthTiny(t, "Q4_K_M", "--layers", "3", "--kv-heads", "1")
	out, _, code := run(t, "inspect", p)
	require.Zero(t, code)
	for _, want := range []string{"architecture:         llama", "file type:            Q4_K_M", "blocks:               3",
		"4 / 1 (multi-query)", "Q6_K", "blk.2.ffn_down.weight", "bos 1 \"<s>\""} {
		require.Contains(t, out, want)
	}

	js, _, code := run(t, "inspect", p, "--json", "--metadata")
	require.Zero(t, code)
	var r struct {
		Parameters      uint64
		Hyperparameters gguf.LlamaConfig
		Tensors         []tensorRow
		SizeByType      []typeSummary `json:"size_by_type"`
		Metadata        map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(js), &r))
	require.Equal(t, 3, r.Hyperparameters.BlockCount)
	require.Equal(t, 1, r.Hyperparameters.HeadCountKV)
	require.Len(t, r.Tensors, 3+9*3)
	require.Equal(t, "llama", r.Metadata["general.architecture"])
	var sum uint64
	for _, s := range r.SizeByType {
		sum += s.Parameters
	}
	require.Equal(t, r.Parameters, sum)
}

func TestInspectDump(t *testing.T) {
	p := synthTiny(t, "Q8_0")
	out := filepath.Join(t.TempDir(), "q.npy")
	stdout, stderr, code := run(t, "inspect", p, "--tensor", "blk.1.attn_k.weight", "--dump", out)
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "wrote "+out)
	require.Empty(t, stdout, "stdout carries only data")
	fh, err := os.Open(out)
	require.NoError(t, err)
	defer fh.Close()
	shape, vals, err := npy.ReadFloat32(fh)
	require.NoError(t, err)
	require.Equal(t, []int{128, 256}, shape) // 2 KV heads of 64 rows each, 256 columns

	f, err := gguf.Open(p)
	require.NoError(t, err)
	defer f.Close()
	ti, _ := f.Tensor("blk.1.attn_k.weight")
	want := make([]float32, ti.Elements())
	require.NoError(t, gguf.Dequantize(ti.Type, f.TensorData(ti), want))
	require.Equal(t, want, vals)
}

func TestInspectSharedModels(t *testing.T) {
	dir := testutil.Shared(t, "models")
	models, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
	require.NotEmpty(t, models)
	for _, m := range models {
		out, stderr, code := run(t, "inspect", m)
		require.Zero(t, code, "%s: %s", m, stderr)
		require.Contains(t, out, "architecture:         llama", m)
	}
	out, _, _ := run(t, "inspect", filepath.Join(dir, "llama-2-tiny-random.gguf"))
	require.Contains(t, out, "embedding length:     8")
	require.Contains(t, out, "32000 tokens")
	require.Contains(t, out, "file type:            F16")
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.gguf")
	require.NoError(t, os.WriteFile(bad, []byte("GGUF\x01\x00\x00\x00 and more bytes here"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect"}, 2, "accepts 1 arg(s), received 0: usage: llamago inspect"},
		// F15: a wrong argument count is a usage error (it exited 1), with the usage line.
		{[]string{"quantize", "m.gguf", "q.gguf"}, 2, "accepts 3 arg(s), received 2: usage: llamago quantize IN.gguf OUT.gguf TYPE"},
		{[]string{"version", "extra"}, 2, "usage: llamago version"},
		{[]string{"inspect", filepath.Join(dir, "nope.gguf")}, 1, "no such file"},
		{[]string{"inspect", bad}, 1, "version 1 is not supported"},
		{[]string{"inspect", bad, "--dump", "x.npy"}, 2, "--dump needs the tensor to write"},
		{[]string{"synth"}, 2, "--output/-o is required"},
		{[]string{"synth", "-o", filepath.Join(dir, "x.gguf"), "--type", "Q7"}, 2, "unknown tensor type"},
		{[]string{"synth", "--layers", "many"}, 2, "invalid argument"},
		{[]string{"run", "-m", bad, "-p", "hi", "--kv-type", "q8_0"}, 2, `--kv-type: KV cache type "q8_0" must be f32 (exact; the default) or f16`},
	} {
		_, stderr, code := run(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, strings.Join(c.args, " "))
	}
	if p := filepath.Join(testutil.SharedDir(), "models/stories260K.gguf"); testutil.SharedDir() != "" {
		_, stderr, code := run(t, "inspect", p, "--tensor", "nope", "--dump", filepath.Join(dir, "n.npy"))
		require.Equal(t, 1, code)
		require.Contains(t, stderr, `has no tensor "nope"`)
	}
}

// TestVersionJSON: version --json holds what the text line says, for scripts and bug reports.
func TestVersionJSON(t *testing.T) {
	out, stderr, code := run(t, "version", "--json")
	require.Zero(t, code, stderr)
	var v versionInfo
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, version, v.Version)
	require.Contains(t, v.Backends, "cpu")
	require.Equal(t, cpu.Kernels(), v.Kernels)
	require.NotEmpty(t, v.Go)
	text, _, _ := run(t, "version")
	require.Contains(t, text, "cpu ("+v.Kernels+" kernels")
	if !gpuBuild {
		require.NotEmpty(t, v.GPU)
		require.Contains(t, text, v.GPU)
	}
	require.Equal(t, "0123456789ab-dirty", shortRevision("0123456789abcdef0123-dirty"))
	require.Equal(t, "0123456789ab", shortRevision("0123456789abcdef0123"))
}
