package main

import (
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestQuantizeCommand converts the F32 synthetic model: the Q4_K_M mixture picks llama.cpp's types, and
// the Q8_0 copy's logits stay close to the original's.
func TestQuantizeCommand(t *testing.T) {
	src := testutil.Shared(t, "models/syn256-F32.gguf")
	dir := t.TempDir()
	km := filepath.Join(dir, "km.gguf")
	_, stderr, code := run(t, "quantize", src, km, "Q4_K_M", "-q")
	require.Zero(t, code, stderr)
	f, err := gguf.Open(km)
	require.NoError(t, err)
	defer f.Close()
	for name, want := range map[string]gguf.Type{"output.weight": gguf.TypeQ6_K, "blk.1.attn_v.weight": gguf.TypeQ6_K,
		"blk.0.attn_q.weight": gguf.TypeQ4_K, "blk.0.attn_norm.weight": gguf.TypeF32} {
		ti, ok := f.Tensor(name)
		require.True(t, ok, name)
		require.Equal(t, want, ti.Type, name)
	}
	ft, _ := f.Metadata.Int("general.file_type")
	require.EqualValues(t, 15, ft)

	q8 := filepath.Join(dir, "q8.gguf")
	_, stderr, code = run(t, "quantize", src, q8, "q8_0", "-q")
	require.Zero(t, code, stderr)
	logits := func(path string) []float32 {
		f, err := gguf.Open(path)
		require.NoError(t, err)
		defer f.Close()
		b := engine.NewCPU(2)
		defer b.Close()
		m, err := engine.Load(f, b)
		require.NoError(t, err)
		s, err := m.NewSession(32, 32)
		require.NoError(t, err)
		out, err := s.Eval([]int32{1, 100, 200, 300, 400}, true)
		require.NoError(t, err)
		return out
	}
	a, b := logits(src), logits(q8)
	var num, den float64
	for i := range a {
		d := float64(a[i] - b[i])
		num += d * d
		den += float64(a[i]) * float64(a[i])
	}
	require.Less(t, num/den, 1e-3, "Q8_0 copy's logits against the F32 original (NMSE)")

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"quantize", src, filepath.Join(dir, "x.gguf"), "Q7_X"}, 2, `unknown tensor type "Q7_X"`},
		{[]string{"quantize", src, src, "Q8_0"}, 2, "another file than the input"},
		{[]string{"quantize", filepath.Join(dir, "none.gguf"), filepath.Join(dir, "x.gguf"), "Q8_0"}, 1, "no such file"},
	} {
		_, stderr, code := run(t, c.args...)
		require.Equal(t, c.code, code, stderr)
		require.Contains(t, stderr, c.want)
	}
}

// Finding 7: quantize could write a file with none of the requested type and say nothing.
func TestQuantizeReportsFallbacks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.gguf")
	_, stderr, code := run(t, "quantize", stories(t), out, "Q6_K")
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "32 weight(s) stored as Q8_0 instead of Q6_K (rows of 64, not a multiple of its block of 256)")
	require.Contains(t, stderr, "warning: no weight could be stored as Q6_K")
	_, stderr, code = run(t, "quantize", stories(t), out, "Q8_0")
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "5 weight(s) stored as F16 instead of Q8_0 (rows of 172")
	require.NotContains(t, stderr, "warning:", "most weights are Q8_0")
}
