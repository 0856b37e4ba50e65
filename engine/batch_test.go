package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

// nmse is Σ(got−want)²/Σwant².
func nmse(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return num / den
}

// aloneRun is a sequence evaluated on its own: the logits after its prompt and after each greedy token.
type aloneRun struct {
	ids    []int32
	logits [][]float32
}

func runAlone(t *testing.T, m *Model, prompt []int32, gen int) aloneRun {
	t.Helper()
	s, err := m.NewSession(256, 64)
	require.NoError(t, err)
	var a aloneRun
	l, err := s.Eval(prompt, false)
	require.NoError(t, err)
	for range gen {
		a.logits = append(a.logits, l)
		id := Argmax(l)
		a.ids = append(a.ids, id)
		l, err = s.Eval([]int32{id}, false)
		require.NoError(t, err)
	}
	return a
}

func randPrompt(r *rand.Rand, n, vocab int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(1 + r.IntN(vocab-1))
	}
	return p
}

// TestBatchedMatchesAlone: every sequence of mixed steps — prompts of different lengths read in chunks
// while others decode, sequences joining late — gets the greedy tokens and the logits (1e-6 NMSE on a float
// model; 1e-4 on quantized ones with 8-bit activations, which every path rounds alike, but where the
// float rounding a batch changes can tip a value to the next 8-bit step, 1/127 of its block's maximum)
// it gets when run alone; with a half-precision KV cache too (a sequence's keys and values round the same
// way whatever it is batched with).
func TestBatchedMatchesAlone(t *testing.T) {
	// With AVX-512 VNNI Q4_0's one-row kernels at 8 bits fold as the tiles do, so an unpacked output matrix
	// keeps a sequence's logits exact too; the AVX2 ones sum each row across lanes first.
	vnni := strings.HasPrefix(cpu.Kernels(), "avx2+avx512vnni")
	for _, c := range []struct {
		typ   string
		bits  int
		vocab int  // 320: every matrix packs; 300: not the output matrix
		exact bool // every product goes through kernels that fold as the tiles do
		kv    gguf.Type
	}{{"F32", 16, 300, false, 0}, {"Q4_0", 16, 300, false, 0}, {"Q4_0", 16, 320, true, 0}, {"Q4_0", 8, 300, vnni, 0},
		{"Q8_0", 8, 320, true, 0}, {"Q8_0", 16, 320, true, 0}, {"Q4_K", 8, 300, false, 0}, {"Q4_K", 16, 320, true, 0},
		{"Q6_K", 8, 320, true, 0}, {"Q6_K", 16, 320, true, 0},
		{"F32", 16, 300, false, gguf.TypeF16}, {"Q4_0", 16, 320, true, gguf.TypeF16}, {"Q4_K", 8, 300, false, gguf.TypeF16}} {
		typ, vocab := c.typ, c.vocab
		t.Run(fmt.Sprintf("%s/bits=%d/vocab=%d/kv=%s", typ, c.bits, vocab, c.kv), func(t *testing.T) {
			_, m := synthModelWith(t, synth.Options{Type: typ, Vocab: vocab, Layers: 2, Heads: 4, KVHeads: 2, Seed: 11}, c.bits, c.kv)
			r := rand.New(rand.NewPCG(3, 4))
			lens := []int{3, 70, 1, 33, 100}
			const gen = 6
			var prompts [][]int32
			var alone []aloneRun
			for _, n := range lens {
				prompts = append(prompts, randPrompt(r, n, vocab))
				alone = append(alone, runAlone(t, m, prompts[len(prompts)-1], gen))
			}
			run, err := m.NewRunner(RunnerOptions{Context: 256, Batch: 48, Sequences: len(lens)})
			require.NoError(t, err)
			type state struct {
				seq    *Sequence
				tokens []int32
				logits [][]float32
			}
			st := make([]*state, len(lens))
			for step := 0; ; step++ {
				var chunks []Chunk
				var who []int
				budget := run.Options().Batch
				for i := range lens {
					if i >= 2 && step < 2*i { // later sequences join later
						continue
					}
					if st[i] == nil {
						st[i] = &state{seq: run.NewSequence(), tokens: append([]int32(nil), prompts[i]...)}
					}
					s := st[i]
					pending := len(s.tokens) - s.seq.Len()
					if len(s.logits) == gen || pending == 0 || budget == 0 {
						continue
					}
					n := min(pending, budget, 1+r.IntN(40)) // prompts in chunks of random sizes
					c := Chunk{Seq: s.seq, Tokens: s.tokens[s.seq.Len() : s.seq.Len()+n]}
					if n == pending {
						c.Logits = LastLogits
					}
					chunks, who = append(chunks, c), append(who, i)
					budget -= n
				}
				if len(chunks) == 0 {
					break
				}
				out, err := run.Step(chunks, nil)
				require.NoError(t, err)
				row := 0
				for k, c := range chunks {
					if c.Logits == NoLogits {
						continue
					}
					s := st[who[k]]
					l := append([]float32(nil), out[row*vocab:(row+1)*vocab]...)
					row++
					s.logits = append(s.logits, l)
					s.tokens = append(s.tokens, Argmax(l))
				}
			}
			for i, s := range st {
				require.Len(t, s.logits, gen, "sequence %d", i)
				require.Equal(t, alone[i].ids, s.tokens[len(prompts[i]):], "sequence %d: greedy tokens", i)
				if c.exact && packs(m) {
					// Every product of a packed matrix goes through kernels that fold as the tiles do (and,
					// at 8 bits with AVX-512 VNNI, so do Q4_0's one-token kernels on an unpacked output
					// matrix): exact.
					require.Equal(t, alone[i].logits, s.logits, "sequence %d: logits", i)
				}
				if typ == "F32" || c.bits == 8 {
					bound := 1e-6
					if c.bits == 8 {
						bound = 1e-4
					}
					for j := range s.logits {
						require.LessOrEqual(t, nmse(s.logits[j], alone[i].logits[j]), bound, "sequence %d, token %d", i, j)
					}
				}
			}
		})
	}
}

// TestPrefixSharing: a sequence whose prompt starts as an earlier one's takes its full blocks (no copy,
// counted once), computes only the rest, and gets the logits it gets alone; the first sequence, still
// decoding, is unaffected (a shared block is never written).
func TestPrefixSharing(t *testing.T) {
	_, m := synthModel(t, synth.Options{Type: "F32", Vocab: 300, Layers: 2, Heads: 4, KVHeads: 2, Seed: 12})
	r := rand.New(rand.NewPCG(5, 6))
	common := randPrompt(r, 2*KVBlockSize+10, 300)
	pa := append(append([]int32(nil), common...), randPrompt(r, 5, 300)...)
	pb := append(append([]int32(nil), common...), randPrompt(r, 20, 300)...)
	wantA, wantB := runAlone(t, m, pa, 4), runAlone(t, m, pb, 4)

	run, err := m.NewRunner(RunnerOptions{Context: 128, Batch: 128, Sequences: 2, PrefixCache: true})
	require.NoError(t, err)
	a, b := run.NewSequence(), run.NewSequence()
	la, err := run.Step([]Chunk{{Seq: a, Tokens: pa, Logits: LastLogits}}, nil)
	require.NoError(t, err)
	inUse := run.BlocksInUse()
	require.Equal(t, blocksFor(len(pa)), inUse)

	require.Equal(t, 2*KVBlockSize, b.ReusePrefix(pb), "whole blocks of the common prefix")
	require.Equal(t, inUse, run.BlocksInUse(), "shared blocks are counted once")
	lb, err := run.Step([]Chunk{{Seq: b, Tokens: pb[b.Len():], Logits: LastLogits}}, nil)
	require.NoError(t, err)
	require.Equal(t, inUse+blocksFor(len(pb))-2, run.BlocksInUse())
	require.LessOrEqual(t, nmse(lb, wantB.logits[0]), 1e-6)
	require.LessOrEqual(t, nmse(la, wantA.logits[0]), 1e-6)

	// Both decode together; then b ends and a goes on alone.
	ida, idb := Argmax(la), Argmax(lb)
	for i := 1; i < 4; i++ {
		chunks := []Chunk{{Seq: a, Tokens: []int32{ida}, Logits: LastLogits}}
		if i < 3 {
			chunks = append(chunks, Chunk{Seq: b, Tokens: []int32{idb}, Logits: LastLogits})
		} else {
			b.Free()
		}
		out, err := run.Step(chunks, nil)
		require.NoError(t, err)
		require.LessOrEqual(t, nmse(out[:300], wantA.logits[i]), 1e-6, "a, token %d", i)
		ida = Argmax(out[:300])
		if i < 3 {
			require.LessOrEqual(t, nmse(out[300:], wantB.logits[i]), 1e-6, "b, token %d", i)
			idb = Argmax(out[300:])
		}
	}
	a.Free()
	require.Zero(t, run.BlocksInUse())
	// A prompt that is entirely cached still computes its last token.
	c := run.NewSequence()
	require.Equal(t, 2*KVBlockSize, c.ReusePrefix(pa[:2*KVBlockSize+1]))
	require.Equal(t, KVBlockSize, run.NewSequence().ReusePrefix(pa[:2*KVBlockSize]))
}

// TestStepRefusals: a step that cannot run says why and changes nothing.
func TestStepRefusals(t *testing.T) {
	_, m := synthModel(t, synth.Options{Type: "F32", Vocab: 300, Layers: 1, Heads: 4, KVHeads: 2, Seed: 13})
	run, err := m.NewRunner(RunnerOptions{Context: 64, Batch: 32, Sequences: 2, Blocks: 2})
	require.NoError(t, err)
	a, b := run.NewSequence(), run.NewSequence()
	_, err = run.Step([]Chunk{{Seq: a, Tokens: make([]int32, 33)}}, nil)
	require.ErrorIs(t, err, ErrStep)
	_, err = run.Step([]Chunk{{Seq: a, Tokens: []int32{1}}, {Seq: a, Tokens: []int32{2}}}, nil)
	require.ErrorIs(t, err, ErrStep)
	_, err = run.Step([]Chunk{{Seq: a, Tokens: make([]int32, 32)}}, nil)
	require.NoError(t, err)
	_, err = run.Step([]Chunk{{Seq: a, Tokens: make([]int32, 32)}}, nil)
	require.NoError(t, err)
	_, err = run.Step([]Chunk{{Seq: a, Tokens: []int32{1}}}, nil)
	require.ErrorIs(t, err, ErrContextFull)
	_, err = run.Step([]Chunk{{Seq: b, Tokens: []int32{1}}}, nil)
	require.ErrorIs(t, err, ErrNoKVBlocks)
	require.Zero(t, b.Len())
	a.Free()
	_, err = run.Step([]Chunk{{Seq: b, Tokens: []int32{1}, Logits: LastLogits}}, nil)
	require.NoError(t, err)
}

// TestSchedulerMatchesAlone: concurrent greedy requests through the scheduler — more than run at once, a
// small step budget so prompts are read in chunks, and a KV pool small enough to force preemption — each
// get the tokens they get alone.
func TestSchedulerMatchesAlone(t *testing.T) {
	_, m := synthModel(t, synth.Options{Type: "F32", Vocab: 300, Layers: 2, Heads: 4, KVHeads: 2, Seed: 14})
	for _, blocks := range []int{0, 10} {
		t.Run(fmt.Sprintf("blocks=%d", blocks), func(t *testing.T) {
			run, err := m.NewRunner(RunnerOptions{Context: 256, Batch: 64, Sequences: 4, Blocks: blocks, PrefixCache: true})
			require.NoError(t, err)
			sch := NewScheduler(run, SchedulerOptions{StepTokens: 24})
			defer sch.Close()
			r := rand.New(rand.NewPCG(7, 8))
			const gen = 40
			var prompts, want [][]int32
			common := randPrompt(r, 40, 300)
			for i := range 7 {
				p := randPrompt(r, 1+r.IntN(60), 300)
				if i%2 == 0 {
					p = append(append([]int32(nil), common...), p...)
				}
				prompts = append(prompts, p)
				want = append(want, runAlone(t, m, p, gen).ids)
			}
			var streams []*Stream
			for _, p := range prompts {
				st, err := sch.Submit(context.Background(), Request{Prompt: p, MaxTokens: gen, IgnoreEOG: true})
				require.NoError(t, err)
				streams = append(streams, st)
			}
			preempted := 0
			for i, st := range streams {
				var got []int32
				for id := range st.Tokens() {
					got = append(got, id)
				}
				require.NoError(t, st.Err())
				require.Equal(t, want[i], got, "request %d", i)
				s := st.Stats()
				require.Equal(t, gen, s.GenTokens)
				require.Positive(t, s.TTFT)
				preempted += s.Preemptions
			}
			if blocks > 0 {
				require.Positive(t, preempted, "a pool of %d blocks should have forced a preemption", blocks)
			}
			require.Eventually(t, func() bool { return sch.Stats().BlocksInUse == 0 }, time.Second, time.Millisecond)
		})
	}
}

// TestSchedulerCancelAndRefuse: a cancelled request ends at once with its context's error and frees its
// blocks; bad requests and a full queue are refused with errors that say so; Close ends what is left.
func TestSchedulerCancelAndRefuse(t *testing.T) {
	_, m := synthModel(t, synth.Options{Type: "F32", Vocab: 300, Layers: 1, Heads: 4, KVHeads: 2, Seed: 15})
	run, err := m.NewRunner(RunnerOptions{Context: 4096, Batch: 64, Sequences: 1})
	require.NoError(t, err)
	sch := NewScheduler(run, SchedulerOptions{MaxQueue: 1})
	_, err = sch.Submit(context.Background(), Request{})
	require.ErrorContains(t, err, "empty")
	_, err = sch.Submit(context.Background(), Request{Prompt: make([]int32, 4096)})
	require.ErrorIs(t, err, ErrContextFull)
	_, err = sch.Submit(context.Background(), Request{Prompt: []int32{1, 300}})
	require.ErrorContains(t, err, "outside the vocabulary")
	_, err = sch.Submit(context.Background(), Request{Prompt: []int32{1}, Sampler: SamplerOptions{Temp: -1}})
	require.Error(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	long, err := sch.Submit(ctx, Request{Prompt: []int32{1, 2, 3}, IgnoreEOG: true})
	require.NoError(t, err)
	_, ok := long.Next()
	require.True(t, ok)
	queued, err := sch.Submit(context.Background(), Request{Prompt: []int32{4}, IgnoreEOG: true})
	require.NoError(t, err)
	_, err = sch.Submit(context.Background(), Request{Prompt: []int32{5}})
	require.ErrorIs(t, err, ErrQueueFull)
	cancel()
	for range long.Tokens() {
	}
	require.ErrorIs(t, long.Err(), context.Canceled)
	_, ok = queued.Next() // admitted once the cancelled one left
	require.True(t, ok)
	sch.Close()
	for range queued.Tokens() {
	}
	require.ErrorIs(t, queued.Err(), ErrClosed)
	require.Zero(t, run.BlocksInUse())
	_, err = sch.Submit(context.Background(), Request{Prompt: []int32{1}})
	require.True(t, errors.Is(err, ErrClosed))
}

// TestRunnerLimits: the context is capped by the pool (a sequence can never outgrow it), every running
// sequence gets a token in each step, and a failed pass gives back the blocks it took.
func TestRunnerLimits(t *testing.T) {
	_, m := synthModel(t, synth.Options{Type: "F32", Vocab: 300, Layers: 1, Heads: 4, KVHeads: 2, Seed: 16})
	run, err := m.NewRunner(RunnerOptions{Context: 4096, Batch: 2, Sequences: 3, Blocks: 2})
	require.NoError(t, err)
	require.Equal(t, 2*KVBlockSize, run.Options().Context)
	require.Equal(t, 3, run.Options().Batch)

	s := run.NewSequence()
	_, err = run.Step([]Chunk{{Seq: s, Tokens: []int32{1, 2, 999}}}, nil) // 999: outside the vocabulary
	require.ErrorContains(t, err, "outside the vocabulary")
	require.Zero(t, s.Len())
	require.Zero(t, run.BlocksInUse(), "the failed pass's block is given back")
}

// cpuPacks reports whether this CPU (or LLAMAGO_CPU's choice) has the packed kernels.
func cpuPacks(typ string) bool {
	t, err := gguf.ParseType(typ)
	if err != nil {
		return false
	}
	probe := cpu.Weight{Type: t, Rows: 16, Cols: 256}
	probe.Data = make([]byte, 16*probe.RowBytes())
	return probe.Pack()
}

// packs reports whether m's first layer's matrices were packed at load (cpu.Weight.Pack).
func packs(m *Model) bool {
	w, ok := m.layers[0].wq.(*cpuWeight)
	return ok && w.w.Packed != nil
}

// mappedSynth writes a synthetic model to a file and opens it mapped, as the CLI does.
func mappedSynth(t *testing.T, o synth.Options) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, synth.Write(&buf, o))
	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	f, err := gguf.Open(path)
	require.NoError(t, err)
	return f
}

// TestPackMapped: packing a model mapped from a file (whose pages ReleasePages then drops; small matrices
// lie within one page) gives the logits of the same model parsed into memory, and the precision can still
// change after loading (the packed rows have kernels at both).
func TestPackMapped(t *testing.T) {
	for _, o := range []synth.Options{
		{Type: "Q4_0", Vocab: 320, Embd: 64, FF: 128, Layers: 2, Heads: 4, KVHeads: 2, Seed: 11},
		{Type: "Q4_K", Vocab: 320, Layers: 2, Heads: 4, KVHeads: 2, Seed: 12},
		{Type: "Q6_K", Vocab: 320, Layers: 2, Heads: 4, KVHeads: 2, Seed: 13},
	} {
		f := mappedSynth(t, o)
		b := NewCPU(2)
		require.NoError(t, b.SetActivationBits(8))
		m, err := Load(f, b)
		require.NoError(t, err)
		_, inMemory := synthModelBits(t, o, 8)
		tokens := []int32{1, 40, 41, 42, 100, 7}
		require.Equal(t, modelLogits(t, inMemory, tokens), modelLogits(t, m, tokens), o.Type)
		require.Equal(t, cpuPacks(o.Type) && gguf.MapsFiles, packs(m), o.Type)
		require.NoError(t, b.SetActivationBits(16))
		_, at16 := synthModelBits(t, o, 16)
		require.Equal(t, modelLogits(t, at16, tokens), modelLogits(t, m, tokens), "%s switched to 16 bits", o.Type)
		b.Close()
		require.NoError(t, f.Close())
	}

	// llamago's default precision: Q4_0 packs at 16 bits too; switched to 8 after loading, the model gives
	// what one loaded at 8 gives.
	o := synth.Options{Type: "Q4_0", Vocab: 320, Layers: 2, Heads: 4, KVHeads: 2, Seed: 14}
	f := mappedSynth(t, o)
	defer f.Close()
	b := NewCPU(2)
	defer b.Close()
	m, err := Load(f, b)
	require.NoError(t, err)
	tokens := []int32{1, 40, 41, 42, 100, 7}
	_, at16 := synthModelBits(t, o, 16)
	require.Equal(t, modelLogits(t, at16, tokens), modelLogits(t, m, tokens), "16 bits")
	require.NoError(t, b.SetActivationBits(8))
	_, at8 := synthModelBits(t, o, 8)
	require.Equal(t, modelLogits(t, at8, tokens), modelLogits(t, m, tokens), "switched to 8 bits")
}

// TestPackAtLoad: at either precision, the CPU backend packs the Q4_0, Q8_0, Q4_K and Q6_K matrices its
// kernels take (all of a model's layers, the output too where its rows allow) and leaves the token table
// as it is. The packed rows are checked against the file's by the cpu tests.
func TestPackAtLoad(t *testing.T) {
	if !cpuPacks("Q4_0") {
		t.Skip("this CPU has no packed kernels (they need AVX2)")
	}
	if !gguf.MapsFiles {
		t.Skip("model files are read into memory here, so the CPU backend does not pack")
	}
	for _, c := range []struct {
		typ  string
		bits int
	}{{"Q4_0", 16}, {"Q4_0", 8}, {"Q8_0", 16}, {"Q8_0", 8}, {"Q4_K", 16}, {"Q4_K", 8}, {"Q6_K", 16}, {"Q6_K", 8}} {
		typ, bits := c.typ, c.bits
		_, m := synthModelBits(t, synth.Options{Type: typ, Vocab: 320, Layers: 2, Heads: 4, KVHeads: 2, Seed: 11}, bits)
		for l, lw := range m.layers {
			for name, w := range map[string]Weight{"wq": lw.wq, "wk": lw.wk, "wv": lw.wv, "wo": lw.wo, "wGate": lw.wGate, "wUp": lw.wUp, "wDown": lw.wDown} {
				require.NotNil(t, wt(w).w.Packed, "%s layer %d %s at %d bits", typ, l, name, bits)
			}
		}
		require.Nil(t, wt(m.tokEmbd).w.Packed, "token table")
		if !m.TiedEmbed {
			require.NotNil(t, wt(m.output).w.Packed, "%s output at %d bits", typ, bits)
		}
	}
}

// TestSchedulerRoomAndFinish: room is the sequences plus the queue, even for a burst of Submits before any
// step has admitted one; each generation says why it ended.
func TestSchedulerRoomAndFinish(t *testing.T) {
	_, m := synthModel(t, synth.Options{Type: "F32", Vocab: 300, Layers: 1, Heads: 4, KVHeads: 2, Seed: 15})
	run, err := m.NewRunner(RunnerOptions{Context: 64, Batch: 64, Sequences: 2})
	require.NoError(t, err)
	sch := NewScheduler(run, SchedulerOptions{MaxQueue: 2})
	defer sch.Close()
	var streams []*Stream
	for i := range 4 { // two to run and two to wait, submitted at once
		st, err := sch.Submit(context.Background(), Request{Prompt: []int32{1, int32(2 + i)}, MaxTokens: 3, IgnoreEOG: true})
		require.NoError(t, err, "request %d of a burst that fits", i)
		streams = append(streams, st)
	}
	_, err = sch.Submit(context.Background(), Request{Prompt: []int32{1}})
	require.ErrorIs(t, err, ErrQueueFull)
	for _, st := range streams {
		for range st.Tokens() {
		}
		require.NoError(t, st.Err())
		require.Equal(t, FinishMaxTokens, st.Stats().Finish)
	}
	full, err := sch.Submit(context.Background(), Request{Prompt: make([]int32, 60), IgnoreEOG: true})
	require.NoError(t, err)
	for range full.Tokens() {
	}
	require.Equal(t, FinishContextFull, full.Stats().Finish)
	require.Equal(t, 4, full.Stats().GenTokens)
}
