package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"

	"github.com/stretchr/testify/require"
)

// TestUnboundedInputsRefused: inputs read whole are capped with an error, not an out-of-memory death (F8),
// and a FIFO or device given as a model is refused instead of blocking in open (F7).
func TestUnboundedInputsRefused(t *testing.T) {
	_, stderr, code := run(t, "run", "-m", stories(t), "-f", "/dev/zero", "-n", "1")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "/dev/zero is larger than the 64 MiB llamago reads")
	_, stderr, code = run(t, "inspect", "/dev/null")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "is a character device, not a model file")
}

// TestAttentionRangesBounded: a --heads or --layers range is checked against the allowed numbers before it
// is expanded: "0-99999999999" died of out-of-memory building the list (F8); now it is a usage error naming
// the model's range.
func TestAttentionRangesBounded(t *testing.T) {
	for _, c := range []struct{ flag, value, want string }{
		{"--heads", "0-99999999999", "--heads: head 99999999999 does not exist: heads are numbered 0 to 7"},
		{"--layers", "0-99999999999", "--layers: layer 99999999999 does not exist: layers are numbered 0 to 4"},
		{"--heads", "0-1,40000", "--heads: head 40000 does not exist: heads are numbered 0 to 7"},
		{"--layers", "99999999999999999999", `"99999999999999999999" is out of range: layers are numbered 0 to`},
		{"--layers", "3-1", "ends before it starts"},
		{"--heads", "-1", "is not a number or a range like 0-3 (heads are numbered 0 to"},
	} {
		_, stderr, code := run(t, "attention", "-m", stories(t), "-p", "The cat", "-o", filepath.Join(t.TempDir(), "a"), c.flag, c.value, "-q")
		require.Equal(t, 2, code, "%s %s: %s", c.flag, c.value, stderr)
		require.Contains(t, stderr, c.want, "%s %s", c.flag, c.value)
	}
}

// TestSynthRefusesBeforeWriting: synth wrote files llamago refuses (--rope-dim -2, --ctx 2^40 truncated to
// 0, --rope-base nan), died of out-of-memory on --layers 2^31 and left an empty .synth-* file, and exited 1
// on an unknown preset (F8, F12, F15). Each is now a usage error naming the flag and the allowed range, with
// nothing left in the folder; a shape larger than the free disk space is refused with its size.
func TestSynthRefusesBeforeWriting(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--rope-dim", "-2"}, 2, "--rope-dim -2 must be even, from 2 to the head size 64"},
		{[]string{"--ctx", "1099511627776"}, 2, "--ctx 1099511627776 is out of range (allowed: 1 to 2147483648)"},
		{[]string{"--rope-base", "nan"}, 2, "--rope-base NaN is out of range"},
		{[]string{"--layers", "2147483648"}, 2, "--layers 2147483648 is out of range (allowed: 1 to 65536) (this shape would make a file of about 6.0 PiB)"},
		{[]string{"--vocab", "1099511627776"}, 2, "--vocab 1099511627776 is out of range"},
		{[]string{"--heads", "99999"}, 2, "--heads 99999 is out of range"},
		{[]string{"--preset", "huge"}, 2, `unknown preset "huge": choose one of tiny, llama-1b, llama2-7b, llama3-8b`},
		{[]string{"--vocab", "16777216", "--embd", "1048576"}, 1, "this model would need about 152.0 TiB, more than the"},
	} {
		dir := t.TempDir()
		_, stderr, code := run(t, append([]string{"synth", "-q", "-o", filepath.Join(dir, "s.gguf")}, c.args...)...)
		require.Equal(t, c.code, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, "%v", c.args)
		entries, _ := os.ReadDir(dir)
		require.Empty(t, entries, "%v left files behind", c.args)
	}
}

// TestSilentAcceptancesRefused: --capture-max-mb below 0 or NaN turned the capture limit off, and --seed
// below -1 meant "random", neither documented (F16). They are usage errors now; 0 stays "no limit".
func TestSilentAcceptancesRefused(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"attention", "-m", stories(t), "-p", "hi", "-o", filepath.Join(dir, "a"), "--capture-max-mb", "-1"},
		{"attention", "-m", stories(t), "-p", "hi", "-o", filepath.Join(dir, "a"), "--capture-max-mb", "nan"},
		{"run", "-m", stories(t), "-p", "hi", "-n", "1", "--capture-attn", filepath.Join(dir, "c"), "--capture-max-mb", "-5"},
	} {
		_, stderr, code := run(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "--capture-max-mb must be a number of MB from 0 (no limit)", "%v", args)
	}
	for _, args := range [][]string{{"run", "-p", "hi"}, {"chat"}} {
		_, stderr, code := run(t, append(args, "-m", stories(t), "-n", "1", "--seed", "-5")...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "--seed must be ≥ 0, or -1 for a random one", "%v", args)
	}
	_, stderr, code := run(t, "attention", "-m", stories(t), "-p", "hi", "-o", filepath.Join(dir, "z"), "--capture-max-mb", "0", "-q", "--influence=false")
	require.Zero(t, code, stderr)
}

// nanModel writes a tiny F32 model whose blk.0 query weights are NaN and which carries a NaN metadata
// value and a NaN rms epsilon when badConfig is set.
func nanModel(t *testing.T, badConfig bool) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Vocab: 300, Layers: 1, Heads: 4, KVHeads: 2, Seed: 2}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	ti, ok := f.Tensor("blk.0.attn_q.weight")
	require.True(t, ok)
	d := f.TensorData(ti)
	for i := 0; i < len(d); i += 4 {
		binary.LittleEndian.PutUint32(d[i:], math.Float32bits(float32(math.NaN())))
	}
	var out bytes.Buffer
	require.NoError(t, gguf.Rewrite(&out, f, func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
		md.Set("test.nan", float32(math.NaN()))
		md.Set("test.infs", []float32{1, float32(math.Inf(1))})
		if badConfig {
			md.Set("llama.attention.layer_norm_rms_epsilon", float32(math.NaN()))
		}
		return ts
	}))
	path := filepath.Join(t.TempDir(), "nan.gguf")
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
	return path
}

// TestNaNKeepsJSONOutputs: NaN in a model broke inspect --json exactly when one wants to look at the file,
// and attention wrote half a folder before failing on the page's JSON (F13).
func TestNaNKeepsJSONOutputs(t *testing.T) {
	m := nanModel(t, true)
	out, stderr, code := run(t, "inspect", m, "--json", "--metadata")
	require.Zero(t, code, stderr)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "NaN", r["metadata"].(map[string]any)["test.nan"])
	require.Equal(t, []any{1.0, "+Inf"}, r["metadata"].(map[string]any)["test.infs"])
	require.Contains(t, r["config_error"], "layer_norm_rms_epsilon = NaN")
	out, stderr, code = run(t, "inspect", m, "--tensor", "blk.0.attn_q.weight", "--json")
	require.Zero(t, code, stderr)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "NaN", r["min"])
	require.EqualValues(t, 256*256, r["non_finite"])

	dir := filepath.Join(t.TempDir(), "attn")
	_, stderr, code = run(t, "attention", "-m", nanModel(t, false), "-p", "hi there", "-o", dir)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "are not finite numbers (NaN or Inf)")
	require.NoDirExists(t, dir, "nothing written")
}

// TestOutputsNeverDestroyInputs: --dump, --npy and --cpuprofile onto the model (by name or link) replaced
// the model (F5); now each is refused as a usage error and the model stays intact.
func TestOutputsNeverDestroyInputs(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.gguf")
	src, err := os.ReadFile(stories(t))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(m, src, 0o644))
	require.NoError(t, os.Symlink("m.gguf", filepath.Join(dir, "link.npy")))
	for _, args := range [][]string{
		{"inspect", m, "--tensor", "output.weight", "--dump", m},
		{"logits", "-m", m, "-p", "hi", "--npy", filepath.Join(dir, "link.npy")},
		{"--cpuprofile", m, "run", "-m", m, "-p", "hi", "-n", "2"},
		{"quantize", m, filepath.Join(dir, "link.npy"), "Q8_0"},
	} {
		_, stderr, code := run(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "is the input", args)
		got, err := os.ReadFile(m)
		require.NoError(t, err)
		require.True(t, bytes.Equal(src, got), "%v changed the model", args)
	}
	// A profile is written whole, even for a command that fails, and leaves no temporary file.
	prof := filepath.Join(dir, "cpu.prof")
	_, _, code := run(t, "--cpuprofile", prof, "run", "-m", filepath.Join(dir, "none.gguf"), "-p", "hi")
	require.Equal(t, 1, code)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"m.gguf", "link.npy", "cpu.prof"}, names)
}

// TestPanicIsABugNotAUsageError: a panic exited 2, the status of a usage error (F15); it now exits
// exitBug with the stack and a request for a bug report.
func TestPanicIsABugNotAUsageError(t *testing.T) {
	var stderr bytes.Buffer
	code := func() (code int) {
		defer func() {
			if p := recover(); p != nil {
				code = reportBug(&stderr, p)
			}
		}()
		var s []int
		_ = s[len(os.Args)+5] // a real index-out-of-range panic
		return 0
	}()
	require.Equal(t, exitBug, code)
	require.NotEqual(t, 2, exitBug)
	require.Contains(t, stderr.String(), "internal error (a bug in llamago): runtime error: index out of range")
	require.Contains(t, stderr.String(), "please report it")
	require.Contains(t, stderr.String(), "harden_test.go", "the stack is included")
}

// TestQuantizeZeroDimension: a tensor with a zero dimension divided by zero in quantize (F6).
func TestQuantizeZeroDimension(t *testing.T) {
	f, err := gguf.Open(stories(t))
	require.NoError(t, err)
	defer f.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "zero.gguf")
	fh, err := os.Create(in)
	require.NoError(t, err)
	require.NoError(t, gguf.Rewrite(fh, f, func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
		for i := range ts {
			if ts[i].Name == "output_norm.weight" {
				ts[i].Dims = []uint64{0}
			}
		}
		return ts
	}))
	require.NoError(t, fh.Close())
	_, stderr, code := run(t, "quantize", in, filepath.Join(dir, "q.gguf"), "Q8_0")
	require.Zero(t, code, stderr)
	q, err := gguf.Open(filepath.Join(dir, "q.gguf"))
	require.NoError(t, err)
	defer q.Close()
	ti, ok := q.Tensor("output_norm.weight")
	require.True(t, ok)
	require.Equal(t, []uint64{0}, ti.Dims)
}

// TestStdoutErrorsFail: logits and bench ignored a failed stdout (> /dev/full exited 0) (F14).
func TestStdoutErrorsFail(t *testing.T) {
	for _, args := range [][]string{
		{"logits", "-m", stories(t), "-p", "hi"},
		{"bench", "-m", stories(t), "-p", "8", "-n", "2", "-r", "1"},
	} {
		cmd := newRootCmd()
		cmd.SetOut(failWriter{})
		cmd.SetErr(io.Discard)
		err := executeRoot(cmd, args)
		require.ErrorContains(t, err, "no space left on device", args)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }
