package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/internal/stopstr"
)

// tokenOut is a generated token: its ids and log-probabilities, and where its text begins in the output.
type tokenOut struct {
	engine.Generated
	// start, end are its bytes in the generated text (the concatenation of the tokens' pieces): a token
	// that ends inside a character is released with the token that completes it, and one without text
	// (BOS in mid-stream) with the next text.
	start, end int
	offset     int // characters of the generated text before it (OpenAI's text_offset)
}

// genResult is how a generation ended.
type genResult struct {
	finish           string // "stop" (end-of-generation token or stop string) or "length"
	promptTokens     int
	completionTokens int
}

// generate runs p on m's scheduler. started is called once the request is queued (before the first token;
// not called when it is refused), emit with each piece of text that is final — text that may be the start
// of a stop string is held back until it is not — and the tokens that piece completes. A stop string ends
// the generation before it; neither it nor what follows is emitted. An error from emit (the client is
// gone) cancels the generation and is returned. ping, when not nil, is called whenever the server's
// Heartbeat has passed since started or the last emit or ping (while the request waits for a place, reads
// its prompt, or holds back text); its error is emit's.
func (s *Server) generate(ctx context.Context, m *Model, p genParams, started, ping func() error, emit func(text []byte, toks []tokenOut) error) (res genResult, err error) {
	res = genResult{promptTokens: len(p.prompt), finish: "length"}
	reqCtx := ctx // the request's (ctx becomes the generation's own below)
	begin := time.Now()
	var ttft time.Duration
	defer func() {
		if res.completionTokens > 0 {
			finish := res.finish
			switch {
			case err != nil && clientGone(reqCtx, err):
				finish = "client_gone"
			case err != nil:
				finish = "error: " + err.Error()
			}
			s.o.Logger.Info("generated", "request_id", requestID(reqCtx), "prompt_tokens", res.promptTokens, "tokens", res.completionTokens,
				"finish", finish, "ttft_ms", ttft.Milliseconds(), "total_ms", time.Since(begin).Milliseconds())
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a request that ends early (stop string, client gone) frees its sequence now
	st, err := m.Scheduler.Submit(ctx, engine.Request{Prompt: p.prompt, MaxTokens: p.maxTokens, Sampler: p.sampler,
		IgnoreEOG: p.ignoreEOS, Logprobs: p.logprobs, TopLogprobs: p.topLogprobs})
	if err != nil {
		return res, err
	}
	s.m.promptTokens.Add(float64(len(p.prompt)))
	if err := started(); err != nil {
		return res, err
	}
	wrote := time.Now() // the last write to the client: started, emit or ping
	if ping == nil || s.o.Heartbeat < 0 {
		ping = nil
	}
	// next waits for the next token, pinging the client while none comes (no goroutine: the wait times out).
	next := func() (engine.Generated, bool, error) {
		if ping == nil {
			g, ok := st.NextToken()
			return g, ok, nil
		}
		for {
			if wait := s.o.Heartbeat - time.Since(wrote); wait > 0 {
				if g, ok, timedOut := st.NextTokenTimeout(wait); !timedOut {
					return g, ok, nil
				}
				continue // the loop checks the time again: ping once it has passed
			}
			if err := ping(); err != nil {
				return engine.Generated{}, false, fmt.Errorf("%w: %v", errClientGone, err)
			}
			wrote = time.Now()
		}
	}
	tok := m.Engine.Tokenizer
	dec := tok.NewStream(false)
	stops := stopstr.New(p.stop)
	var (
		text    []byte
		sent    int
		raw     int // bytes of the tokens' pieces so far (text lags behind while a character is incomplete)
		pending []tokenOut
		piece   []byte
		counted int // text[:counted] holds chars characters (counted only grows: tokens come in order)
		chars   int
		last    time.Time
		lastID  int32 = -1
	)
	// release emits text[sent:upto] and the pending tokens that end by upto (all that begin before it when
	// cut: the generation stops there). Without text it emits nothing — the tokens wait for the next text —
	// unless the generation stops and they carry logprobs.
	release := func(upto int, cut bool) error {
		n := 0
		for n < len(pending) && (pending[n].end <= upto || cut && pending[n].start < upto) {
			n++
		}
		if upto == sent && (n == 0 || !cut || !p.logprobs) {
			if cut {
				pending = pending[:0]
			}
			return nil
		}
		for i := range pending[:n] {
			at := pending[i].start
			for at > counted && at < len(text) && !utf8.RuneStart(text[at]) {
				at-- // a token that begins inside a character: that character's offset
			}
			if at > counted {
				chars += utf8.RuneCount(text[counted:at])
				counted = at
			}
			pending[i].offset = chars
		}
		err := emit(text[sent:upto], pending[:n])
		wrote = time.Now()
		if err != nil {
			err = fmt.Errorf("%w: %v", errClientGone, err)
		}
		sent = upto
		pending = append(pending[:0], pending[n:]...)
		if cut {
			pending = pending[:0]
		}
		return err
	}
	for {
		g, ok, err := next()
		if err != nil {
			return res, err
		}
		if !ok {
			break
		}
		now := time.Now()
		if res.completionTokens == 0 {
			ttft = now.Sub(begin)
			s.m.ttft.Observe(ttft.Seconds())
		} else {
			s.m.itl.Observe(now.Sub(last).Seconds())
		}
		last, lastID = now, g.ID
		res.completionTokens++
		s.m.generatedTokens.Inc()
		if !p.ignoreEOS && tok.IsEOG(g.ID) {
			continue // the token that ends the generation: neither text nor logprobs (OpenAI lists no stop token)
		}
		piece = tok.AppendPiece(piece[:0], g.ID, false)
		text = append(text, dec.Push(g.ID)...)
		pending = append(pending, tokenOut{Generated: g, start: raw, end: raw + len(piece)})
		raw += len(piece)
		if i := stops.Find(text[sent:]); i >= 0 {
			res.finish = "stop"
			return res, release(sent+i, true)
		}
		if err := release(len(text)-stops.HoldBack(text[sent:]), false); err != nil {
			return res, err
		}
	}
	if err := st.Err(); err != nil {
		return res, err
	}
	text = append(text, dec.Flush()...)
	if i := stops.Find(text[sent:]); i >= 0 {
		res.finish = "stop"
		return res, release(sent+i, true)
	}
	if lastID >= 0 && !p.ignoreEOS && tok.IsEOG(lastID) {
		res.finish = "stop"
	}
	return res, release(len(text), true)
}

// usage is the OpenAI usage object.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (r genResult) usage() *usage {
	return &usage{PromptTokens: r.promptTokens, CompletionTokens: r.completionTokens, TotalTokens: r.promptTokens + r.completionTokens}
}

// sse writes server-sent events, each write bounded by the server's write timeout.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
}

func newSSE(w http.ResponseWriter, timeout time.Duration) *sse {
	return &sse{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (e *sse) start() error {
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold the events back
	e.w.WriteHeader(http.StatusOK)
	e.started = true
	return e.flush()
}

func (e *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.raw(b)
}

// ping writes an SSE comment line, which clients skip, to keep the connection busy.
func (e *sse) ping() error {
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	if _, err := io.WriteString(e.w, ": ping\n\n"); err != nil {
		return err
	}
	return e.flush()
}

func (e *sse) raw(b []byte) error {
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	return e.flush()
}

func (e *sse) flush() error {
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// fail ends a stream with an error event (the status line is gone), or answers it as usual before.
func (e *sse) fail(err error) {
	if !e.started {
		fail(e.w, err)
		return
	}
	// The status line said 200: the error event carries what the status would have been, and the
	// request is counted with it.
	status, apiErr, _ := errorFor(err)
	if sw, ok := e.w.(*statusWriter); ok {
		sw.status = status
	}
	e.send(map[string]apiError{"error": apiErr})
}

// tokenText is the text of a token as the API shows it (its bytes; invalid UTF-8 becomes U+FFFD in JSON).
func tokenBytes(m *Model, id int32) []byte { return m.Engine.Tokenizer.AppendPiece(nil, id, false) }

// byteList is a token's bytes as the JSON list of integers OpenAI gives (never null).
type byteList []byte

func (b byteList) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 2+4*len(b))
	out = append(out, '[')
	for i, c := range b {
		if i > 0 {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, "%d", c)
	}
	return append(out, ']'), nil
}

// errClientGone is a write to a client that failed: it stopped reading or went away.
var errClientGone = errors.New("the client went away")

// clientGone reports whether err ended a request because its client went away (its connection closed,
// or a write to it failed): there is nobody to answer.
func clientGone(ctx context.Context, err error) bool {
	return errors.Is(err, errClientGone) || ctx.Err() != nil && errors.Is(err, ctx.Err())
}
