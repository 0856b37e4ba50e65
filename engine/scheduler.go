package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueueFull is returned by Submit when the queue of waiting requests is full: try again later (a server
// answers 503 or 429).
var ErrQueueFull = errors.New("the request queue is full")

// ErrClosed is returned for requests submitted to, or still running in, a closed Scheduler.
var ErrClosed = errors.New("scheduler closed")

// SchedulerOptions size a Scheduler; zero values take the defaults given.
type SchedulerOptions struct {
	// MaxQueue is the number of requests that may wait for a place (default 64); beyond it Submit fails with
	// ErrQueueFull.
	MaxQueue int
	// StepTokens is the token budget of a step (default and at most the runner's Batch): every running
	// sequence's next token first, then chunks of the prompts being read, so that a long prompt does not stall
	// the sequences that are decoding.
	StepTokens int
}

// Request is one generation: a prompt and when to stop.
type Request struct {
	Prompt    []int32
	MaxTokens int            // stop after this many new tokens (≤ 0: until the context is full)
	Sampler   SamplerOptions // the zero value is greedy (a zero TopP or RepeatPenalty means off)
	IgnoreEOG bool           // keep going past end-of-generation tokens
	// Logprobs asks for the log-probability of every chosen token and of the TopLogprobs most likely
	// tokens at its position (at most MaxTopLogprobs), from the model's distribution (a log-softmax of the
	// logits, before the sampler's penalties, truncations and temperature).
	Logprobs    bool
	TopLogprobs int
}

// MaxTopLogprobs bounds Request.TopLogprobs.
const MaxTopLogprobs = 20

// Generated is one chosen token, with its log-probabilities when the request asked for them.
type Generated struct {
	ID      int32
	Logprob float32        // 0 unless Request.Logprobs
	Top     []TokenLogprob // the most likely tokens at this position, most likely first
}

// TokenLogprob is a token and its log-probability.
type TokenLogprob struct {
	ID      int32
	Logprob float32
}

// SeqStats are a request's counts and times.
type SeqStats struct {
	Finish       Finish // why it ended; "" when it failed or was cancelled (the stream's error says)
	PromptTokens int
	ReusedTokens int // prompt positions taken from the prefix cache (not computed)
	GenTokens    int
	Preemptions  int           // times its KV blocks were taken back for others (it was then recomputed)
	Queued       time.Duration // from Submit to its first step
	TTFT         time.Duration // from Submit to its first token
	Total        time.Duration // from Submit to its end
}

// Finish is why a generation ended.
type Finish string

const (
	FinishEOG         Finish = "eog"          // the model wrote an end-of-generation token
	FinishMaxTokens   Finish = "max_tokens"   // Request.MaxTokens new tokens
	FinishContextFull Finish = "context_full" // the context (RunnerOptions.Context, at most the KV pool) is full
	FinishStop        Finish = "stop"         // a stop string (set by callers that look for them: llamago's GenerateOptions.Stop)
)

// Scheduler serves generation requests on a Runner with continuous batching: every step holds the next
// token of every running sequence and chunks of the prompts being read, under a token budget. Waiting
// requests are admitted, first come first served, as sequences finish and KV blocks allow; when blocks run
// out the newest sequence is preempted (its blocks freed; it is recomputed when readmitted). Cancelling a
// request's context ends it at the next step and frees its blocks. Methods are safe for concurrent use.
type Scheduler struct {
	r *Runner
	o SchedulerOptions

	mu      sync.Mutex
	waiting []*request // preempted requests go back to the front
	running []*request // in admission order
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	chunks      []Chunk
	inStep      []*request
	logits      []float32
	blocksInUse int                     // the runner's, after the last step (read under mu by Stats)
	failed      atomic.Pointer[failure] // the internal error that stopped the loop (Failed)
	loopHolds   bool                    // the loop holds mu (set and read by the loop's goroutine only)
}

// failure is what stopped a scheduler's loop: the error and the stack where it happened.
type failure struct {
	err   error
	stack []byte
}

// Failed is the internal error that stopped the scheduler (a bug in a step: every request then ends with
// it and new ones are refused), with the stack where it happened; nil while it runs or after Close. A
// server's health check reports it, so that the process is restarted.
func (s *Scheduler) Failed() (stack []byte, err error) {
	if f := s.failed.Load(); f != nil { // without mu: a panic may have left it held
		return f.stack, f.err
	}
	return nil, nil
}

// request is a Request in the scheduler: its tokens so far (prompt, then generated) and its sequence.
type request struct {
	Request
	ctx      context.Context
	stop     func() bool
	seq      *Sequence
	sampler  *Sampler
	tokens   []int32
	out      *Stream
	stats    SeqStats
	start    time.Time
	admitted bool
}

// NewScheduler starts a scheduler on r; Close stops it.
func NewScheduler(r *Runner, o SchedulerOptions) *Scheduler {
	if o.MaxQueue <= 0 {
		o.MaxQueue = 64
	}
	if o.StepTokens <= 0 || o.StepTokens > r.o.Batch {
		o.StepTokens = r.o.Batch
	}
	s := &Scheduler{r: r, o: o, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.loop()
	return s
}

// Stream is the output of a request: its tokens as they are chosen, then its end. One goroutine reads it.
type Stream struct {
	mu     sync.Mutex
	tokens []Generated
	read   int
	ended  bool
	err    error
	stats  SeqStats
	notify chan struct{}
}

// Next waits for the request's next token; ok is false once it has ended (see Err).
func (st *Stream) Next() (id int32, ok bool) {
	g, ok := st.NextToken()
	return g.ID, ok
}

// NextToken is Next with the token's log-probabilities.
func (st *Stream) NextToken() (g Generated, ok bool) {
	for {
		st.mu.Lock()
		if st.read < len(st.tokens) {
			g = st.tokens[st.read]
			st.tokens[st.read] = Generated{} // read once: drop the reference
			st.read++
			st.mu.Unlock()
			return g, true
		}
		if st.ended {
			st.mu.Unlock()
			return Generated{}, false
		}
		st.mu.Unlock()
		<-st.notify
	}
}

// NextTokenTimeout is NextToken waiting at most d: when no token has come and the request has not ended
// by then, timedOut is true (and ok false); the stream is unchanged and may be read again. A server uses it
// to write a keep-alive while a request waits in the queue or reads a long prompt.
func (st *Stream) NextTokenTimeout(d time.Duration) (g Generated, ok, timedOut bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	expired := false
	for {
		st.mu.Lock()
		if st.read < len(st.tokens) {
			g = st.tokens[st.read]
			st.tokens[st.read] = Generated{}
			st.read++
			st.mu.Unlock()
			return g, true, false
		}
		if st.ended {
			st.mu.Unlock()
			return Generated{}, false, false
		}
		st.mu.Unlock()
		if expired { // looked once more after the timer fired: a token pushed just then is not missed
			return Generated{}, false, true
		}
		if timer == nil {
			timer = time.NewTimer(d)
		}
		select {
		case <-st.notify:
		case <-timer.C:
			expired = true
		}
	}
}

// Tokens iterates over the request's tokens as they come.
func (st *Stream) Tokens() iter.Seq[int32] {
	return func(yield func(int32) bool) {
		for {
			id, ok := st.Next()
			if !ok || !yield(id) {
				return
			}
		}
	}
}

// Err is why the request ended early (its context's error, ErrClosed, a failed step), or nil.
func (st *Stream) Err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Stats are the request's counts and times; final once Next has returned false.
func (st *Stream) Stats() SeqStats {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.stats
}

func (st *Stream) push(g Generated) {
	st.mu.Lock()
	if st.read == len(st.tokens) { // all read: start the buffer again instead of growing it
		st.tokens, st.read = st.tokens[:0], 0
	}
	st.tokens = append(st.tokens, g)
	st.mu.Unlock()
	st.signal()
}

func (st *Stream) end(stats SeqStats, err error) {
	st.mu.Lock()
	st.ended, st.err, st.stats = true, err, stats
	st.mu.Unlock()
	st.signal()
}

func (st *Stream) signal() {
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

// Submit queues a request. It fails at once when the prompt is empty or longer than the context, the
// sampler options are invalid, the queue is full (ErrQueueFull) or the scheduler is closed.
func (s *Scheduler) Submit(ctx context.Context, req Request) (*Stream, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c := s.r.o.Context
	switch {
	case len(req.Prompt) == 0:
		return nil, fmt.Errorf("the prompt is empty")
	case len(req.Prompt) >= c:
		return nil, fmt.Errorf("%w: the prompt has %d tokens and the context holds %d positions (the prompt and at least one new token)",
			ErrContextFull, len(req.Prompt), c)
	}
	req.Sampler = req.Sampler.withDefaults()
	if err := req.Sampler.Validate(); err != nil {
		return nil, err
	}
	if req.TopLogprobs < 0 || req.TopLogprobs > MaxTopLogprobs {
		return nil, fmt.Errorf("top logprobs must be in [0, %d], got %d", MaxTopLogprobs, req.TopLogprobs)
	}
	vocab := int32(s.r.m.Config.VocabSize)
	for _, id := range req.Prompt {
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("token id %d is outside the vocabulary of %d", id, vocab)
		}
	}
	q := &request{Request: req, ctx: ctx, tokens: append([]int32(nil), req.Prompt...), start: time.Now(),
		sampler: NewSampler(req.Sampler), out: &Stream{notify: make(chan struct{}, 1)}}
	q.stats.PromptTokens = len(req.Prompt)
	for _, id := range req.Prompt {
		q.sampler.Accept(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case len(s.waiting)+len(s.running) >= s.r.o.Sequences+s.o.MaxQueue:
		// Room is counted as the sequences that run plus the queue: a burst of Submits before the next step
		// moves any into free sequences must not find the queue full.
		return nil, fmt.Errorf("%w (%d requests wait, %d run)", ErrQueueFull, len(s.waiting), len(s.running))
	}
	s.waiting = append(s.waiting, q)
	q.stop = context.AfterFunc(ctx, s.signal)
	s.signal()
	return q.out, nil
}

// SchedulerStats is a snapshot of a scheduler's load.
type SchedulerStats struct {
	Waiting, Running         int
	BlocksInUse, BlocksTotal int
	SequencesMax, StepTokens int
}

// Stats returns the scheduler's load now.
func (s *Scheduler) Stats() SchedulerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SchedulerStats{Waiting: len(s.waiting), Running: len(s.running), BlocksInUse: s.blocksInUse,
		BlocksTotal: s.r.o.Blocks, SequencesMax: s.r.o.Sequences, StepTokens: s.o.StepTokens}
}

// Close ends every request (ErrClosed) and stops the scheduler.
func (s *Scheduler) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.signal()
	s.mu.Unlock()
	<-s.done
}

func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) loop() {
	defer close(s.done)
	defer func() {
		// A bug in a step must not leave every request waiting forever, nor take a server down: end them
		// all with an error and refuse new ones.
		if v := recover(); v != nil {
			err := fmt.Errorf("%w: internal error in a step: %v (a bug: please report it)", ErrClosed, v)
			s.failed.Store(&failure{err, debug.Stack()})
			if !s.loopHolds { // a panic under the lock (admitting, say) left it held by this goroutine
				s.mu.Lock()
			}
			s.closed = true
			for _, q := range append(s.waiting, s.running...) {
				s.finish(q, err)
			}
			s.waiting, s.running = nil, nil
			s.mu.Unlock()
		}
	}()
	for {
		s.mu.Lock()
		s.loopHolds = true
		if s.closed {
			for _, q := range append(s.waiting, s.running...) {
				s.finish(q, ErrClosed)
			}
			s.waiting, s.running = nil, nil
			s.loopHolds = false
			s.mu.Unlock()
			return
		}
		s.dropCancelled()
		s.admit()
		s.blocksInUse = s.r.BlocksInUse()
		idle := len(s.running) == 0
		s.loopHolds = false
		s.mu.Unlock()
		if idle {
			<-s.wake
			continue
		}
		s.step()
	}
}

// dropCancelled ends the requests whose context is done (mu held).
func (s *Scheduler) dropCancelled() {
	keep := func(list []*request) []*request {
		out := list[:0]
		for _, q := range list {
			if err := q.ctx.Err(); err != nil {
				s.finish(q, err)
				continue
			}
			out = append(out, q)
		}
		clear(list[len(out):])
		return out
	}
	s.waiting, s.running = keep(s.waiting), keep(s.running)
}

// admit moves waiting requests to running while there is room: a free sequence slot, and KV blocks for the
// request's tokens (after those the prefix cache gives) and one more (mu held).
func (s *Scheduler) admit() {
	promised := 0 // blocks the requests admitted in this pass will take in their first steps
	for len(s.waiting) > 0 && len(s.running) < s.r.o.Sequences {
		q := s.waiting[0]
		if q.seq == nil {
			q.seq = s.r.NewSequence()
		}
		q.seq.ReusePrefix(q.tokens)
		need := blocksFor(len(q.tokens)+1) - len(q.seq.blocks)
		if need+promised > s.r.pool.Available() {
			q.seq.Free()
			if len(s.running) == 0 { // it can never fit
				s.waiting = s.waiting[1:]
				s.finish(q, fmt.Errorf("%w: the request needs %d KV blocks, the pool has %d (raise --kv-blocks)",
					ErrNoKVBlocks, blocksFor(len(q.tokens)+1), s.r.o.Blocks))
				continue
			}
			return
		}
		if !q.admitted {
			q.admitted = true
			q.stats.Queued = time.Since(q.start)
			q.stats.ReusedTokens = q.seq.Reused()
		}
		promised += need
		s.waiting = s.waiting[1:]
		s.running = append(s.running, q)
	}
}

// step evaluates one batch: the pending token of every decoding sequence, then prompt chunks under the
// budget; it preempts the newest sequences while the KV blocks do not suffice.
func (s *Scheduler) step() {
	s.mu.Lock()
	running := append(s.inStep[:0], s.running...)
	s.mu.Unlock()
	var chunks []Chunk
	for {
		chunks = s.plan(running)
		need := 0
		for _, c := range chunks {
			need += blocksFor(c.Seq.Len()+len(c.Tokens)) - len(c.Seq.blocks)
		}
		if need <= s.r.pool.Available() || len(running) == 1 {
			break
		}
		victim := running[len(running)-1] // the newest
		running = running[:len(running)-1]
		s.preempt(victim)
	}
	s.inStep = running
	if len(chunks) == 0 {
		return
	}
	logits, err := s.r.Step(chunks, s.logits)
	if err != nil {
		s.mu.Lock()
		for _, c := range chunks {
			for i, q := range s.running {
				if q.seq == c.Seq {
					s.running = append(s.running[:i], s.running[i+1:]...)
					s.finish(q, err)
					break
				}
			}
		}
		s.mu.Unlock()
		return
	}
	s.logits = logits
	vocab := s.r.m.Config.VocabSize
	row := 0
	var ended []*request
	for i, c := range chunks {
		if c.Logits == NoLogits {
			continue
		}
		q := s.owner(running, i, chunks)
		lg := logits[row*vocab : (row+1)*vocab]
		row++
		var g Generated
		var lse float64
		if q.Logprobs || q.TopLogprobs > 0 {
			g.Top, lse = topLogprobs(lg, q.TopLogprobs)
		}
		id := q.sampler.Sample(lg)
		if q.Logprobs || q.TopLogprobs > 0 {
			g.Logprob = logprob(lg[id], lse) // the same float as the token's entry in g.Top
		}
		g.ID = id
		q.sampler.Accept(id)
		q.tokens = append(q.tokens, id)
		if q.stats.GenTokens == 0 {
			q.stats.TTFT = time.Since(q.start)
		}
		q.stats.GenTokens++
		q.out.push(g)
		switch {
		case !q.IgnoreEOG && s.r.m.Tokenizer.IsEOG(id):
			q.stats.Finish = FinishEOG
		case q.stats.GenTokens == q.MaxTokens:
			q.stats.Finish = FinishMaxTokens
		case len(q.tokens) >= s.r.o.Context:
			q.stats.Finish = FinishContextFull
		}
		if q.stats.Finish != "" {
			ended = append(ended, q)
		}
	}
	if len(ended) > 0 {
		s.mu.Lock()
		for _, q := range ended {
			for i, r := range s.running {
				if r == q {
					s.running = append(s.running[:i], s.running[i+1:]...)
					break
				}
			}
			s.finish(q, nil)
		}
		s.mu.Unlock()
	}
}

// owner is the request of chunk i.
func (s *Scheduler) owner(running []*request, i int, chunks []Chunk) *request {
	for _, q := range running {
		if q.seq == chunks[i].Seq {
			return q
		}
	}
	panic("scheduler: a chunk without its request")
}

// plan lays out a step for the running requests: decoding ones first (one token each), then prompt chunks.
func (s *Scheduler) plan(running []*request) []Chunk {
	chunks := s.chunks[:0]
	budget := s.o.StepTokens
	for _, q := range running {
		if pending := len(q.tokens) - q.seq.Len(); pending == 1 && budget > 0 {
			chunks = append(chunks, Chunk{Seq: q.seq, Tokens: q.tokens[q.seq.Len():], Logits: LastLogits})
			budget--
		}
	}
	for _, q := range running {
		pending := len(q.tokens) - q.seq.Len()
		if pending <= 1 || budget == 0 {
			continue
		}
		n := min(pending, budget)
		c := Chunk{Seq: q.seq, Tokens: q.tokens[q.seq.Len() : q.seq.Len()+n]}
		if n == pending {
			c.Logits = LastLogits
		}
		chunks = append(chunks, c)
		budget -= n
	}
	s.chunks = chunks
	return chunks
}

// preempt frees a running request's blocks and puts it back at the front of the queue.
func (s *Scheduler) preempt(q *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.running {
		if r == q {
			s.running = append(s.running[:i], s.running[i+1:]...)
			break
		}
	}
	q.seq.Free()
	q.stats.Preemptions++
	s.waiting = append([]*request{q}, s.waiting...)
}

// finish ends a request (mu held or not needed).
func (s *Scheduler) finish(q *request, err error) {
	if q.seq != nil {
		q.seq.Free()
	}
	if q.stop != nil {
		q.stop()
	}
	q.stats.Total = time.Since(q.start)
	q.out.end(q.stats, err)
}

// topLogprobs returns the k most likely tokens of logits with their log-probabilities (logprob), most likely
// first (ties: the lower id first), and the log-sum-exp of the logits.
func topLogprobs(logits []float32, k int) ([]TokenLogprob, float64) {
	maxv := float32(math.Inf(-1))
	for _, v := range logits {
		maxv = max(maxv, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - maxv))
	}
	l := float64(maxv) + math.Log(sum)
	if k <= 0 {
		return nil, l
	}
	top := make([]TokenLogprob, 0, k+1)
	for id, v := range logits { // insertion into a short sorted list: k ≤ MaxTopLogprobs
		if len(top) == k && v <= top[k-1].Logprob {
			continue
		}
		j := len(top)
		top = append(top, TokenLogprob{})
		for j > 0 && top[j-1].Logprob < v {
			top[j] = top[j-1]
			j--
		}
		top[j] = TokenLogprob{ID: int32(id), Logprob: v}
		top = top[:min(len(top), k)]
	}
	for i := range top {
		top[i].Logprob = logprob(top[i].Logprob, l)
	}
	return top, l
}

// logprob is a logit's log-probability given the log-sum-exp of its row: one rounding to float32, so that
// a token's value is the same wherever a response gives it.
func logprob(logit float32, lse float64) float32 { return float32(float64(logit) - lse) }
