// Package llamago runs LLaMA-family GGUF models from Go programs.
//
// Load a model once and generate from as many goroutines as you like: every generation is a sequence of the
// model's scheduler, which decodes the running sequences together (each weight read once per step for all of
// them), reads long prompts in chunks between decoding steps, shares the KV blocks of common prompt
// prefixes, and ends a generation as soon as its context is cancelled.
//
//	m, err := llamago.Load("model.gguf", llamago.Options{})
//	if err != nil { … }
//	defer m.Close()
//	for tok, err := range m.Generate(ctx, "Once upon a time", llamago.GenerateOptions{MaxTokens: 64}) {
//		if err != nil { … }
//		fmt.Print(tok.Text)
//	}
//
// The engine underneath (package engine) is exported too, for programs that need its pieces: the Runner
// (many sequences per forward pass over a paged KV cache), the Scheduler, Session (one sequence), the
// backends and attention capture.
package llamago

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/defaultmodel"
	"github.com/llamago/llamago/internal/stopstr"
)

// Errors a generation can end with, for errors.Is (they are the engine's).
var (
	ErrClosed      = engine.ErrClosed      // the model was closed
	ErrQueueFull   = engine.ErrQueueFull   // Parallel generations run and MaxQueue wait already
	ErrContextFull = engine.ErrContextFull // the prompt leaves no room in the context for a new token
)

// Options choose how a model is loaded and served. Zero values take the defaults given; negative values
// are refused.
type Options struct {
	Threads int // CPU threads (default: all cores)
	// Context is the positions one generation may hold, prompt included (default: the model's, at most
	// 4096). More than the model was trained with is allowed (text past it degrades); the KV cache for
	// Parallel full contexts is made when the model loads.
	Context  int
	Parallel int // generations decoded together (default 4); more wait in a queue
	MaxQueue int // generations that may wait beyond the Parallel running (default 64); then ErrQueueFull
	Batch    int // tokens one step evaluates, all generations together (default 512)
	// ActivationBits rounds the CPU's activations in quantized matrix products to 16 bits (0 or 16: logits
	// within ~1e-8 NMSE of exact) or 8, as llama.cpp does (its precision and its logits; faster prompts and
	// batches on CPUs with AVX-512 VNNI or AVX2). Ignored when Backend is set.
	ActivationBits int
	// KVType is what the KV cache keeps keys and values in: gguf.TypeF32 (the zero value: exact) or
	// gguf.TypeF16 (the same KVBlocks in half the bytes, and faster decoding of long contexts; each key and
	// value rounded to half precision, as llama.cpp's cache keeps them: a value beyond ±65504 becomes
	// infinite, as there). Load refuses a Backend that keeps f32 only (engine.SupportsKVType).
	KVType gguf.Type
	// KVBlocks is the size of the KV cache in blocks of engine.KVBlockSize positions (default: Parallel full
	// contexts). A smaller pool admits as many generations, preempting (and later recomputing) the newest
	// when blocks run out; a pool smaller than one Context also shortens the context to its size
	// (Stats.Finish says engine.FinishContextFull where a generation met it).
	KVBlocks int
	// KVMemory sizes the KV cache by bytes instead (all layers, keys and values), when KVBlocks is 0: for
	// example 1<<30 for a GiB, whatever Parallel and Context are. Model.Usage reports the blocks it holds.
	KVMemory int64
	// NoPrefixCache turns off the sharing of KV blocks between generations whose prompts begin alike.
	NoPrefixCache bool
	// Backend runs the model instead of a CPU backend of Threads threads (for example a CUDA backend, in a
	// program built with -tags cuda). Model.Close closes it.
	Backend engine.Backend
}

// Model is a loaded model with its scheduler. Its methods are safe for concurrent use; after Close,
// generations and Attention return ErrClosed (Tokenize, Detokenize and Usage still answer).
type Model struct {
	file    *gguf.File
	backend engine.Backend
	model   *engine.Model
	runner  *engine.Runner
	sched   *engine.Scheduler
	context int

	mu     sync.RWMutex // held for reading by calls that use the model, for writing by Close
	closed bool
	attnMu sync.Mutex
	attn   *engine.Session // Attention's, made on first use and reused
}

// BuiltinModel, given to Load as the path, loads the model built into llamago: stories260K, a 260K-parameter
// LLaMA trained on TinyStories (MIT; see internal/defaultmodel), which writes short children's stories.
const BuiltinModel = "builtin:" + defaultmodel.Name

// Load opens a GGUF file (memory-mapped: the weights are not copied on the CPU) and starts its scheduler.
func Load(path string, o Options) (*Model, error) {
	if path == BuiltinModel {
		p, err := defaultmodel.Path()
		if err != nil {
			return nil, err
		}
		path = p
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	b := o.Backend
	if b == nil {
		c := engine.NewCPU(o.Threads)
		if o.ActivationBits != 0 {
			if err := c.SetActivationBits(o.ActivationBits); err != nil {
				c.Close()
				f.Close()
				return nil, err
			}
		}
		b = c
	}
	m, err := engine.LoadWith(f, engine.LoadOptions{First: b, FirstLayers: -1, KVType: o.KVType})
	if err != nil {
		b.Close()
		f.Close()
		return nil, err
	}
	if o.Context <= 0 {
		o.Context = min(m.Config.ContextLength, 4096)
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	r, err := m.NewRunner(engine.RunnerOptions{Context: o.Context, Batch: o.Batch, Sequences: o.Parallel,
		Blocks: o.KVBlocks, KVMemory: o.KVMemory, PrefixCache: !o.NoPrefixCache})
	if err != nil {
		b.Close()
		f.Close()
		return nil, err
	}
	return &Model{file: f, backend: b, model: m, runner: r, context: o.Context,
		sched: engine.NewScheduler(r, engine.SchedulerOptions{MaxQueue: o.MaxQueue})}, nil
}

// check refuses values no model can use.
func (o Options) check() error {
	for _, v := range []struct {
		name string
		v    int
	}{{"Threads", o.Threads}, {"Context", o.Context}, {"Parallel", o.Parallel}, {"MaxQueue", o.MaxQueue},
		{"Batch", o.Batch}, {"KVBlocks", o.KVBlocks}, {"KVMemory", int(min(o.KVMemory, 1<<40))}} {
		if v.v < 0 {
			return fmt.Errorf("llamago.Options.%s must be ≥ 0 (0: the default), got %d", v.name, v.v)
		}
	}
	if o.Context == 1 || o.Context > gguf.MaxContextLength {
		return fmt.Errorf("llamago.Options.Context must be 0 (the model's) or 2 to %d positions (a prompt token and a new one), got %d", gguf.MaxContextLength, o.Context)
	}
	return nil
}

// Close ends every generation (with ErrClosed), waits for calls in progress, and releases the model. Calls
// that start later return ErrClosed. Close may be called from inside a loop over Generate.
func (m *Model) Close() error {
	if m == nil || m.sched == nil { // nothing was loaded
		return nil
	}
	m.sched.Close() // ends the streams, so that generations in progress return
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.runner.Close()
	if m.attn != nil {
		m.attn.Close()
	}
	return errors.Join(m.backend.Close(), m.file.Close())
}

// use holds the model open for a call; done releases it.
func (m *Model) use() (done func(), err error) {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, engine.ErrClosed
	}
	return m.mu.RUnlock, nil
}

// Engine is the engine's model, for programs that use the engine's pieces directly (sessions, capture).
func (m *Model) Engine() *engine.Model { return m.model }

// Tokenize returns the token ids of text, with the model's beginning-of-sequence token first where the
// model asks for one.
func (m *Model) Tokenize(text string) []int32 { return m.model.Tokenizer.Encode(text, true, false) }

// Detokenize returns the text of token ids (control tokens left out), decoded as one sequence: a word's
// leading space belongs to the sequence, so decoding tokens one at a time can drop it. To print a
// generation as it comes, use Generate's Token.Text.
func (m *Model) Detokenize(ids []int32) string { return m.model.Tokenizer.Decode(ids, false) }

// GenerateOptions control one generation. The zero value decodes greedily until an end-of-generation
// token or the end of the context (a model that never writes one — the built-in stories260K starts a new
// story instead — fills the context: set MaxTokens).
type GenerateOptions struct {
	MaxTokens     int     // stop after this many new tokens (0: until the context is full; < 0 refused)
	Temperature   float64 // 0: greedy (the most likely token, the lowest id on ties)
	TopK          int     // keep the k most likely tokens (0: all)
	TopP          float64 // keep the smallest set with this much probability (0 or 1: all)
	MinP          float64 // drop tokens below MinP × the top probability (0: none)
	RepeatPenalty float64 // on the last RepeatLastN tokens (0 or 1: off)
	RepeatLastN   int
	Seed          uint64 // the same seed and options give the same text
	IgnoreEOS     bool   // keep going past end-of-generation tokens
	// Stop ends the generation where its text holds one of these strings (not part of the text; Stats.Finish
	// engine.FinishStop). Text that may be the start of one is held back until it is not: it comes with a
	// later Token, or the final one of ID −1.
	Stop []string
	// Logprobs fills Token.Logprob, the chosen token's log-probability; TopLogprobs (at most
	// engine.MaxTopLogprobs) fills Token.Top with that many most likely tokens.
	Logprobs    bool
	TopLogprobs int
}

// Token is one generated token and the text it completes (empty while a multi-byte character is still
// incomplete, or, with GenerateOptions.Stop, while it may begin a stop string). At the end, text held back
// comes as a Token of ID −1.
type Token struct {
	ID      int32
	Text    string
	Logprob float32               // with GenerateOptions.Logprobs or TopLogprobs
	Top     []engine.TokenLogprob // with GenerateOptions.TopLogprobs: the most likely first
}

// Stats are a finished generation's counts and times.
type Stats = engine.SeqStats

// Generate starts a generation from prompt (text, tokenized with the model's beginning-of-sequence token)
// and yields its tokens as they are chosen. Stop iterating, or cancel ctx, to end it early; either frees its
// place at once. A failure (an empty prompt or one longer than the context, a full queue, a cancelled
// context, options out of range) is yielded as the last error. A nil ctx is context.Background().
func (m *Model) Generate(ctx context.Context, prompt string, o GenerateOptions) iter.Seq2[Token, error] {
	if prompt == "" {
		return func(yield func(Token, error) bool) { yield(Token{}, errors.New("the prompt is empty")) }
	}
	return m.GenerateTokens(ctx, m.Tokenize(prompt), o)
}

// GenerateTokens is Generate from token ids.
func (m *Model) GenerateTokens(ctx context.Context, prompt []int32, o GenerateOptions) iter.Seq2[Token, error] {
	if ctx == nil {
		ctx = context.Background()
	}
	return func(yield func(Token, error) bool) {
		st, cancel, err := m.submit(ctx, prompt, o)
		if err != nil {
			yield(Token{}, err)
			return
		}
		defer cancel()
		text := m.model.Tokenizer.NewStream(false)
		stops := stopstr.NewStream(o.Stop) // text that may begin a stop string waits there
		for {
			g, ok := st.NextToken()
			if !ok {
				break
			}
			// Tokens the engine made before the caller cancelled may wait in the stream: once ctx is done,
			// the caller gets its error next, not them (a fast model could otherwise finish the whole
			// answer before a cancel and end without one).
			if err := ctx.Err(); err != nil {
				yield(Token{}, err)
				return
			}
			piece, stopped := stops.Push(text.Push(g.ID))
			if !yield(Token{ID: g.ID, Text: piece, Logprob: g.Logprob, Top: g.Top}, nil) || stopped {
				return // a stop string ends the generation (cancel, deferred)
			}
		}
		rest, stopped := stops.Push(text.Flush())
		if !stopped {
			rest += stops.Flush()
		}
		if rest != "" && !yield(Token{ID: -1, Text: rest}, nil) {
			return
		}
		if err := st.Err(); err != nil {
			yield(Token{}, err)
		}
	}
}

// GenerateText runs a generation to its end and returns its text — what Generate's Token.Text values add
// up to, a leading space included — and stats. On an error (a cancelled or expired ctx, say) the text and
// stats so far come with it.
func (m *Model) GenerateText(ctx context.Context, prompt string, o GenerateOptions) (string, Stats, error) {
	if prompt == "" {
		return "", Stats{}, errors.New("the prompt is empty")
	}
	st, cancel, err := m.submit(ctx, m.Tokenize(prompt), o)
	if err != nil {
		return "", Stats{}, err
	}
	defer cancel()
	dec := m.model.Tokenizer.NewStream(false)
	stops := stopstr.NewStream(o.Stop)
	var text strings.Builder
	stopped := false
	for id := range st.Tokens() {
		if !stopped {
			var piece string
			piece, stopped = stops.Push(dec.Push(id))
			text.WriteString(piece)
			if stopped {
				cancel() // the rest of the stream ends at the next step
			}
		}
	}
	stats := st.Stats()
	if !stopped {
		var piece string
		piece, stopped = stops.Push(dec.Flush())
		text.WriteString(piece)
		if !stopped {
			text.WriteString(stops.Flush())
		}
	}
	if stopped {
		stats.Finish = engine.FinishStop
		return text.String(), stats, nil
	}
	return text.String(), stats, st.Err()
}

// submit queues a generation. The model is held open only for this: a generation's stream ends by itself
// when Close ends the scheduler, so a caller's loop over it may call Close.
func (m *Model) submit(ctx context.Context, prompt []int32, o GenerateOptions) (*engine.Stream, context.CancelFunc, error) {
	done, err := m.use()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	switch {
	case o.MaxTokens < 0:
		return nil, nil, fmt.Errorf("GenerateOptions.MaxTokens must be ≥ 0 (0: until the context is full), got %d", o.MaxTokens)
	case slices.Contains(o.Stop, ""):
		return nil, nil, errors.New("GenerateOptions.Stop holds an empty string")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	st, err := m.sched.Submit(ctx, engine.Request{Prompt: prompt, MaxTokens: o.MaxTokens, IgnoreEOG: o.IgnoreEOS,
		Logprobs: o.Logprobs, TopLogprobs: o.TopLogprobs,
		Sampler: engine.SamplerOptions{Temp: o.Temperature, TopK: o.TopK, TopP: o.TopP, MinP: o.MinP,
			RepeatPenalty: o.RepeatPenalty, RepeatLastN: o.RepeatLastN, Seed: o.Seed}})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return st, cancel, nil
}

// Usage reports the scheduler's load: generations waiting and running, KV blocks in use.
func (m *Model) Usage() engine.SchedulerStats { return m.sched.Stats() }

// Attention evaluates text and returns the tokens and the attention probabilities of the chosen layers and
// heads (nil or empty: all), Probs[l][h][q][k] for query position q and key k ≤ q, where l and h index the
// capture's Layers and Heads (the choice sorted, each once). It runs on a session of its own (one at a
// time), beside the generations.
func (m *Model) Attention(text string, layers, heads []int) ([]int32, *engine.AttentionCapture, error) {
	done, err := m.use()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	m.attnMu.Lock() // one capture at a time on the shared session
	defer m.attnMu.Unlock()
	if text == "" {
		return nil, nil, errors.New("the text is empty")
	}
	ids := m.Tokenize(text)
	if m.attn == nil {
		s, err := m.model.NewSession(m.context, 512)
		if err != nil {
			return nil, nil, err
		}
		m.attn = s
	}
	s := m.attn
	s.Reset()
	defer s.StopCapture()
	c, err := s.StartCapture(engine.CaptureSpec{Layers: layers, Heads: heads, MaxBytes: 1 << 30}, len(ids))
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.Eval(ids, false); err != nil {
		return nil, nil, err
	}
	return ids, c, nil
}
