//go:build cuda || cudaemu

package cuda

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// tinyModel is a small synthetic model (300 tokens, 4 heads, 2 KV heads) of the given layers and seed.
func tinyModel(t *testing.T, layers int, seed uint64) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, synth.Options{Preset: "tiny", Vocab: 300, Layers: layers, Heads: 4, KVHeads: 2, Seed: seed}))
	f, err := gguf.Parse(buf.Bytes())
	require.NoError(t, err)
	return f
}

// TestRunnerSequences drives a Runner of three sequences on the GPU and on the CPU through the same steps
// and compares every logit row: steps that mix a prompt chunk with other sequences' decoded tokens, and a
// sequence that takes another's published prefix blocks (PrefixCache), so that two block tables of one
// batch list the same blocks. After the runner's allocations no step allocates device memory.
func TestRunnerSequences(t *testing.T) {
	f := tinyModel(t, 2, 7)
	b := openGPU(t)
	defer b.Close()
	opts := engine.RunnerOptions{Context: 128, Batch: 96, Sequences: 3, LogitRows: 96, PrefixCache: true}
	runner := func(be engine.Backend) *engine.Runner {
		m, err := engine.Load(f, be)
		require.NoError(t, err)
		r, err := m.NewRunner(opts)
		require.NoError(t, err)
		return r
	}
	gpu, cpu := runner(b), runner(engine.NewCPU(2))
	allocs := len(b.allocs)

	rng := rand.New(rand.NewSource(1))
	tokens := func(n int) []int32 {
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(1 + rng.Intn(299))
		}
		return v
	}
	prompt := tokens(70)
	promptC := append(append([]int32(nil), prompt[:66]...), tokens(9)...) // shares A's first two blocks
	type seqs struct{ a, b, c *engine.Sequence }
	g := seqs{gpu.NewSequence(), gpu.NewSequence(), gpu.NewSequence()}
	c := seqs{cpu.NewSequence(), cpu.NewSequence(), cpu.NewSequence()}
	// step builds the same chunks for both runners from (sequence picker, tokens, logits mode).
	type part struct {
		seq    func(s seqs) *engine.Sequence
		tokens []int32
		logits engine.LogitsMode
	}
	A := func(s seqs) *engine.Sequence { return s.a }
	B := func(s seqs) *engine.Sequence { return s.b }
	C := func(s seqs) *engine.Sequence { return s.c }

	step := func(name string, parts ...part) {
		var want, got []float32
		for _, side := range []struct {
			r   *engine.Runner
			s   seqs
			out *[]float32
		}{{cpu, c, &want}, {gpu, g, &got}} {
			var chunks []engine.Chunk
			for _, p := range parts {
				chunks = append(chunks, engine.Chunk{Seq: p.seq(side.s), Tokens: p.tokens, Logits: p.logits})
			}
			out, err := side.r.Step(chunks, nil)
			require.NoError(t, err, name)
			*side.out = out
		}
		require.Equal(t, len(want), len(got), name)
		var num, den float64
		for i := range want {
			d := float64(got[i]) - float64(want[i])
			num += d * d
			den += float64(want[i]) * float64(want[i])
		}
		t.Logf("%s: %d logit rows, NMSE GPU vs CPU %.3g", name, len(want)/300, num/den)
		require.Less(t, num/den, 1e-9, name)
	}

	step("prompt A + prompt B", part{A, prompt, engine.LastLogits}, part{B, tokens(5), engine.AllLogits})
	// C takes A's two published blocks and evaluates the rest of its prompt, batched with A and B decoding.
	require.Equal(t, 64, g.c.ReusePrefix(promptC))
	require.Equal(t, 64, c.c.ReusePrefix(promptC))
	step("decode A + decode B + prompt C after a shared prefix", part{A, tokens(1), engine.LastLogits},
		part{B, tokens(1), engine.LastLogits}, part{C, promptC[64:], engine.AllLogits})
	for i := range 3 {
		step("decode A, B, C", part{A, tokens(1), engine.LastLogits}, part{B, tokens(1), engine.LastLogits},
			part{C, tokens(1), engine.LastLogits})
		if i == 0 { // B leaves and starts again: its blocks go back to the pool, its next token is position 0
			g.b.Free()
			c.b.Free()
		}
	}
	require.Equal(t, allocs, len(b.allocs), "device allocations during steps")
}

// TestCloseGivesMemoryBack: sessions made and closed one after another, as a server answering attention
// requests makes them, give their device memory back (the driver's free memory returns to what it was), and
// closing one session leaves another, opened before it and sharing its scratch arrays, computing the same
// logits.
func TestCloseGivesMemoryBack(t *testing.T) {
	f := tinyModel(t, 2, 7)
	b := openGPU(t)
	defer b.Close()
	m, err := engine.Load(f, b)
	require.NoError(t, err)
	free0, _, err := b.drv.memInfo()
	require.NoError(t, err)
	prompt := []int32{5, 17, 3, 99, 42, 7}
	var want []float32
	for i := range 5 {
		s, err := m.NewSession(128, 16)
		require.NoError(t, err)
		got, err := s.Eval(prompt, false)
		require.NoError(t, err)
		if i == 0 {
			want = got
		}
		require.Equal(t, want, got)
		s.Close()
		free, _, err := b.drv.memInfo()
		require.NoError(t, err)
		require.Equal(t, free0, free, "free device memory after session %d was closed", i)
	}

	small, err := m.NewSession(64, 8) // its scratch arrays, at the start of its arena, are then replaced by
	require.NoError(t, err)
	big, err := m.NewSession(128, 16) // bigger ones: replacing them must not free the small session's arena
	require.NoError(t, err)
	got, err := small.Eval(prompt, false)
	require.NoError(t, err)
	require.Equal(t, want, got, "the smaller session after a bigger one replaced its scratch arrays")
	small.Close()
	big.Close()

	older, err := m.NewSession(128, 16) // reserves the scratch arrays in its arena
	require.NoError(t, err)
	newer, err := m.NewSession(64, 8) // its scratch needs are smaller: it uses the older session's arrays
	require.NoError(t, err)
	_, err = older.Eval(prompt[:2], false)
	require.NoError(t, err)
	older.Close()
	got, err = newer.Eval(prompt, false)
	require.NoError(t, err)
	require.Equal(t, want, got, "a session still open after another's Close")
	_, err = older.Eval(prompt, false)
	require.ErrorIs(t, err, engine.ErrClosed)
	newer.Close()
	free, _, err := b.drv.memInfo()
	require.NoError(t, err)
	require.Equal(t, free0, free)
}

// TestSplitAcrossGPUs: a model's layers on two (emulated) GPUs, then the CPU — as --device 0,1 with
// --gpu-layers does — give the logits of the CPU alone, prompt and decoding.
func TestSplitAcrossGPUs(t *testing.T) {
	t.Setenv("LLAMAGO_CUDA_EMU_DEVICES", "2")
	devs, err := Devices()
	if err != nil || len(devs) < 2 {
		t.Skipf("two GPUs needed: %d found (%v)", len(devs), err)
	}
	f := tinyModel(t, 3, 9)
	g0, err := New(0)
	require.NoError(t, err)
	defer g0.Close()
	g1, err := New(1)
	require.NoError(t, err)
	defer g1.Close()
	cpu := engine.NewCPU(2)
	defer cpu.Close()
	cfg, err := f.LlamaConfig()
	require.NoError(t, err)
	require.GreaterOrEqual(t, cfg.BlockCount, 3)
	alone, err := engine.Load(f, engine.NewCPU(2))
	require.NoError(t, err)
	prompt := []int32{5, 17, 3, 99, 42, 7, 11}
	eval := func(m *engine.Model) []float32 {
		s, err := m.NewSession(64, 8)
		require.NoError(t, err)
		defer s.Close()
		out, err := s.Eval(prompt, true)
		require.NoError(t, err)
		for _, tok := range []int32{8, 250, 1} {
			next, err := s.Eval([]int32{tok}, false)
			require.NoError(t, err)
			out = append(out, next...)
		}
		return out
	}
	want := eval(alone)
	for _, parts := range [][]engine.Part{
		{{Backend: g0, Layers: 1}, {Backend: g1, Layers: -1}},
		{{Backend: g1, Layers: 1}, {Backend: g0, Layers: 1}, {Backend: cpu, Layers: -1}},
	} {
		m, err := engine.LoadWith(f, engine.LoadOptions{Parts: parts})
		require.NoError(t, err)
		got := eval(m)
		require.Equal(t, len(want), len(got))
		var num, den float64
		for i := range want {
			d := float64(got[i]) - float64(want[i])
			num += d * d
			den += float64(want[i]) * float64(want[i])
		}
		require.Less(t, num/den, 1e-9, "%d parts", len(parts))
	}
}

// TestCloseWhileAnotherRuns: sessions made and closed while another session of the model evaluates (the
// server's attention requests beside its scheduler) do not disturb it: reserving and releasing a device
// arena waits for the other's forward pass, whose scratch arrays it may share.
func TestCloseWhileAnotherRuns(t *testing.T) {
	b := openGPU(t)
	defer b.Close()
	m, err := engine.Load(tinyModel(t, 2, 7), b)
	require.NoError(t, err)
	s, err := m.NewSession(128, 16)
	require.NoError(t, err)
	defer s.Close()
	prompt := []int32{5, 17, 3, 99, 42, 7}
	want, err := s.Eval(prompt, false)
	require.NoError(t, err)
	done := make(chan error)
	go func() {
		for range 30 {
			o, err := m.NewSession(256, 64)
			if err != nil {
				done <- err
				return
			}
			o.Close()
		}
		done <- nil
	}()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			require.NoError(t, err)
			require.Positive(t, i)
			return
		default:
		}
		s.Reset()
		got, err := s.Eval(prompt, false)
		require.NoError(t, err)
		require.Equal(t, want, got, "evaluation %d", i)
	}
}
