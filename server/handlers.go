package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// newID is a response id: the prefix and a number unique in this server's life.
func (s *Server) newID(prefix string) string {
	return fmt.Sprintf("%s-%x-%d", prefix, s.start.UnixNano()&0xffffffff, s.ids.Add(1))
}

// completion logprobs (the legacy /v1/completions shape).
type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float32            `json:"token_logprobs"`
	TopLogprobs   []map[string]float32 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

func (l *completionLogprobs) add(m *Model, toks []tokenOut) {
	for _, t := range toks {
		l.Tokens = append(l.Tokens, string(tokenBytes(m, t.ID)))
		l.TokenLogprobs = append(l.TokenLogprobs, t.Logprob)
		top := make(map[string]float32, len(t.Top))
		for _, c := range t.Top {
			top[string(tokenBytes(m, c.ID))] = c.Logprob
		}
		l.TopLogprobs = append(l.TopLogprobs, top)
		l.TextOffset = append(l.TextOffset, t.offset)
	}
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

// response is the body of both generation endpoints (C: their kind of choice).
type response[C any] struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []C    `json:"choices"`
	Usage   *usage `json:"usage,omitempty"`
}

// shape is how an endpoint makes its choices from generated text and tokens.
type shape[C any] struct {
	idPrefix, object, chunkObject string
	whole                         func(text string, toks []tokenOut, finish string) C // the plain answer
	piece                         func(text string, toks []tokenOut) C                // a streamed piece
	end                           func(finish string) C                               // the stream's last choice
	begin                         func() C                                            // sent before the first piece, or nil
	// collect, when set, holds a streamed answer back and sends it as one choice at the end, with the finish
	// reason it returns (tool calls are recognised in whole answers only).
	collect func(text string, toks []tokenOut, finish string) (C, string)
}

// answer runs a validated generation and answers it as one JSON body, or as server-sent events: the
// pieces as they are final, the finish reason, the usage when asked, then [DONE].
func answer[C any](s *Server, w http.ResponseWriter, r *http.Request, m *Model, p genParams, sh shape[C]) {
	resp := response[C]{ID: s.newID(sh.idPrefix), Object: sh.object, Created: time.Now().Unix(), Model: m.Name}
	if !p.stream {
		var text bytes.Buffer
		var toks []tokenOut
		res, err := s.generate(r.Context(), m, p, func() error { return nil }, nil, func(b []byte, t []tokenOut) error {
			text.Write(b)
			toks = append(toks, t...)
			return nil
		})
		if err != nil {
			s.failed(w, r, err)
			return
		}
		resp.Choices = []C{sh.whole(text.String(), toks, res.finish)}
		resp.Usage = res.usage()
		writeJSON(w, http.StatusOK, resp)
		return
	}
	resp.Object = sh.chunkObject
	ev := newSSE(w, s.o.WriteTimeout)
	send := func(c C) error {
		out := resp
		out.Choices = []C{c}
		return ev.send(out)
	}
	started := func() error {
		if err := ev.start(); err != nil || sh.begin == nil {
			return err
		}
		return send(sh.begin())
	}
	var held bytes.Buffer
	var heldToks []tokenOut
	res, err := s.generate(r.Context(), m, p, started, ev.ping, func(b []byte, toks []tokenOut) error {
		if sh.collect != nil {
			held.Write(b)
			heldToks = append(heldToks, toks...)
			return nil
		}
		return send(sh.piece(string(b), toks))
	})
	if err != nil {
		s.failedStream(ev, r, err)
		return
	}
	finish := res.finish
	if sh.collect != nil {
		var c C
		c, finish = sh.collect(held.String(), heldToks, finish)
		if send(c) != nil {
			return
		}
	}
	if send(sh.end(finish)) != nil {
		return
	}
	if p.usage {
		out := resp
		out.Choices, out.Usage = []C{}, res.usage()
		if ev.send(out) != nil {
			return
		}
	}
	ev.raw([]byte("[DONE]"))
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	m, req, release, ok := begin[completionRequest](s, w, r)
	if !ok {
		return
	}
	defer release()
	p, err := s.params(m, &req.samplingFields, req.MaxTokens, 16)
	if err == nil {
		switch {
		case req.Echo:
			err = badRequest("echo", "echo is not supported")
		case req.Suffix != nil && *req.Suffix != "":
			err = badRequest("suffix", "suffix is not supported")
		case req.BestOf != nil && *req.BestOf != 1:
			err = badRequest("best_of", "best_of must be 1")
		case req.Logprobs != nil:
			err = p.setLogprobs(true, *req.Logprobs, "logprobs")
		}
	}
	if err == nil {
		p.prompt, err = completionPrompt(m, req.Prompt)
	}
	if err != nil {
		fail(w, err)
		return
	}
	logprobs := func(toks []tokenOut) *completionLogprobs {
		if !p.logprobs {
			return nil
		}
		lp := &completionLogprobs{}
		lp.add(m, toks)
		return lp
	}
	release() // prepared: the scheduler's queue bounds the rest
	answer(s, w, r, m, p, shape[completionChoice]{idPrefix: "cmpl", object: "text_completion", chunkObject: "text_completion",
		whole: func(text string, toks []tokenOut, finish string) completionChoice {
			return completionChoice{Text: text, Logprobs: logprobs(toks), FinishReason: &finish}
		},
		piece: func(text string, toks []tokenOut) completionChoice {
			return completionChoice{Text: text, Logprobs: logprobs(toks)}
		},
		end: func(finish string) completionChoice { return completionChoice{FinishReason: &finish} },
	})
}

// chat shapes

type chatMessage struct {
	Role      string         `json:"role,omitempty"`
	Content   *string        `json:"content,omitempty"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

type chatTokenLogprob struct {
	Token   string   `json:"token"`
	Logprob float32  `json:"logprob"`
	Bytes   byteList `json:"bytes"`
}

type chatLogprob struct {
	chatTokenLogprob
	TopLogprobs []chatTokenLogprob `json:"top_logprobs"`
}

type chatLogprobs struct {
	Content []chatLogprob `json:"content"`
}

func (l *chatLogprobs) add(m *Model, toks []tokenOut) {
	for _, t := range toks {
		b := tokenBytes(m, t.ID)
		e := chatLogprob{chatTokenLogprob: chatTokenLogprob{Token: string(b), Logprob: t.Logprob, Bytes: b},
			TopLogprobs: make([]chatTokenLogprob, len(t.Top))}
		for i, c := range t.Top {
			cb := tokenBytes(m, c.ID)
			e.TopLogprobs[i] = chatTokenLogprob{Token: string(cb), Logprob: c.Logprob, Bytes: cb}
		}
		l.Content = append(l.Content, e)
	}
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      *chatMessage  `json:"message,omitempty"`
	Delta        *chatMessage  `json:"delta,omitempty"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	m, req, release, ok := begin[chatRequest](s, w, r)
	if !ok {
		return
	}
	defer release()
	maxTokens := req.MaxTokens
	if req.MaxCompletionTokens != nil {
		maxTokens = req.MaxCompletionTokens
	}
	p, err := s.params(m, &req.samplingFields, maxTokens, 0)
	if err == nil {
		top := 0
		if req.TopLogprobs != nil {
			top = *req.TopLogprobs
			if !req.Logprobs {
				err = badRequest("top_logprobs", "top_logprobs needs \"logprobs\": true")
			}
		}
		if err == nil {
			err = p.setLogprobs(req.Logprobs, top, "top_logprobs")
		}
	}
	if err == nil && req.ResponseFormat != nil && req.ResponseFormat.Type != "text" {
		err = badRequest("response_format", "response_format %q is not supported: llamago does not constrain output to JSON (only \"text\")", req.ResponseFormat.Type)
	}
	var names map[string]bool // the functions a tool call may name; nil: answers are text
	var prefill string        // the opening of the call the answer must be, where tool_choice forces one
	if err == nil {
		p.prompt, prefill, names, err = s.chatPrompt(m, req)
	}
	if err != nil {
		fail(w, err)
		return
	}
	logprobs := func(toks []tokenOut) *chatLogprobs {
		if !p.logprobs {
			return nil
		}
		lp := &chatLogprobs{Content: []chatLogprob{}}
		lp.add(m, toks)
		return lp
	}
	release() // prepared: the scheduler's queue bounds the rest
	// message is the answer as a message: its text, or the tool calls in it (finish reason "tool_calls").
	message := func(text, finish string) (chatMessage, string) {
		content, calls := parseToolCalls(prefill+text, names)
		if len(calls) == 0 { // the model's own words: the opening llamago wrote for it is not its answer
			return chatMessage{Content: &text}, finish
		}
		msg := chatMessage{ToolCalls: calls}
		if content != "" {
			msg.Content = &content
		}
		return msg, "tool_calls"
	}
	sh := shape[chatChoice]{idPrefix: "chatcmpl", object: "chat.completion", chunkObject: "chat.completion.chunk",
		whole: func(text string, toks []tokenOut, finish string) chatChoice {
			msg, finish := message(text, finish)
			msg.Role = "assistant"
			return chatChoice{Message: &msg, Logprobs: logprobs(toks), FinishReason: &finish}
		},
		piece: func(text string, toks []tokenOut) chatChoice {
			return chatChoice{Delta: &chatMessage{Content: &text}, Logprobs: logprobs(toks)}
		},
		end: func(finish string) chatChoice { return chatChoice{Delta: &chatMessage{}, FinishReason: &finish} },
		begin: func() chatChoice {
			empty := ""
			return chatChoice{Delta: &chatMessage{Role: "assistant", Content: &empty}}
		},
	}
	if len(names) > 0 { // a tool call is known only once the answer is whole: stream it as one piece
		sh.collect = func(text string, toks []tokenOut, finish string) (chatChoice, string) {
			msg, finish := message(text, finish)
			for i := range msg.ToolCalls {
				msg.ToolCalls[i].Index = &i
			}
			return chatChoice{Delta: &msg, Logprobs: logprobs(toks)}, finish
		}
	}
	answer(s, w, r, m, p, sh)
}

// chatPrompt renders and tokenizes a chat request's conversation, with the opening of the tool call that
// its tool_choice forces (prefill, also at the end of the prompt), and the function names a call may take
// (nil: answers are text).
func (s *Server) chatPrompt(m *Model, req *chatRequest) (prompt []int32, prefill string, names map[string]bool, err error) {
	choice, err := parseToolChoice(req.ToolChoice)
	if err != nil {
		return nil, "", nil, err
	}
	if choice.kind != "none" {
		names = toolNames(req.Tools)
	}
	switch {
	case choice.kind != "auto" && choice.kind != "none" && len(names) == 0:
		return nil, "", nil, badRequest("tool_choice", "tool_choice %s needs \"tools\" to choose from", req.ToolChoice)
	case choice.name != "" && !names[choice.name]:
		return nil, "", nil, badRequest("tool_choice", "tool_choice names the function %q, which is not among the request's tools", choice.name)
	}
	text, err := s.chatText(m, req.Messages, req.Tools)
	if err != nil {
		return nil, "", nil, err
	}
	if prefill, err = choice.prefill(text, names); err != nil {
		return nil, "", nil, err
	}
	prompt, err = encodePrompt(m, text+prefill, true)
	return prompt, prefill, names, err
}

// chatRoles are the message roles a conversation may hold: OpenAI's (function, its older tool result,
// included: clients still send it), and ipython, which Llama 3.1's template gives tool results. Any other (a misspelt "asistant") would reach the template, which renders or drops it
// as it pleases, so it is refused as OpenAI refuses it.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true,
	"function": true, "ipython": true}

// chatText checks a conversation and renders it through the model's chat template.
func (s *Server) chatText(m *Model, messages, tools json.RawMessage) (string, error) {
	messages = bytes.TrimSpace(messages)
	if len(messages) == 0 || messages[0] != '[' {
		return "", badRequest("messages", "messages must be a non-empty list of {\"role\": ..., \"content\": ...} objects")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(messages, &list); err != nil || len(list) == 0 {
		return "", badRequest("messages", "messages must be a non-empty list of {\"role\": ..., \"content\": ...} objects")
	}
	for i, raw := range list {
		var msg struct {
			Role         *string         `json:"role"`
			Content      json.RawMessage `json:"content"`
			ToolCalls    json.RawMessage `json:"tool_calls"`
			FunctionCall json.RawMessage `json:"function_call"` // OpenAI's older form of one tool call
		}
		if json.Unmarshal(raw, &msg) != nil || msg.Role == nil {
			return "", badRequest("messages", "messages[%d] must be an object with a \"role\"", i)
		}
		if !chatRoles[*msg.Role] {
			return "", badRequest("messages", "messages[%d].role is %q: it must be one of system, developer, user, assistant, tool (or function, OpenAI's older tool result, and ipython, Llama 3.1's)", i, *msg.Role)
		}
		var calls []json.RawMessage
		hasCalls := json.Unmarshal(msg.ToolCalls, &calls) == nil && len(calls) > 0 ||
			len(msg.FunctionCall) > 0 && msg.FunctionCall[0] == '{'
		if (len(msg.Content) == 0 || string(msg.Content) == "null") && (*msg.Role != "assistant" || !hasCalls) {
			return "", badRequest("messages", "messages[%d] (%s) has no \"content\" (only an assistant message with a non-empty \"tool_calls\" list, or a \"function_call\", may leave it out)", i, *msg.Role)
		}
	}
	if m.Chat == nil {
		return "", badRequest("messages", "this model has no chat template: use /v1/completions")
	}
	messages, err := flattenContent(messages)
	if err != nil {
		return "", err
	}
	text, err := m.Chat(messages, tools)
	if err != nil {
		return "", badRequest("messages", "the model's chat template refused the conversation: %v", err)
	}
	return text, nil
}

// failed answers a generation that failed before any output; a client that went away gets nothing.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r.Context(), err) {
		s.o.Logger.Info("client went away; its request was cancelled", "request_id", requestID(r.Context()), "path", r.URL.Path)
		markGone(w)
		return
	}
	fail(w, err)
}

func (s *Server) failedStream(ev *sse, r *http.Request, err error) {
	if clientGone(r.Context(), err) {
		s.o.Logger.Info("client went away; its request was cancelled", "request_id", requestID(r.Context()), "path", r.URL.Path)
		markGone(ev.w)
		return
	}
	ev.fail(err)
}

// tokenize and detokenize (llama.cpp's shapes)

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	type request struct {
		Content      *string `json:"content"`
		AddSpecial   bool    `json:"add_special"`
		ParseSpecial bool    `json:"parse_special"`
		WithPieces   bool    `json:"with_pieces"`
	}
	m, req, release, ok := begin[request](s, w, r)
	if !ok {
		return
	}
	defer release()
	if req.Content == nil {
		fail(w, badRequest("content", "content (the text to tokenize) is required"))
		return
	}
	if limit := max(m.Context*64, 256<<10); len(*req.Content) > limit {
		fail(w, &requestError{status: http.StatusRequestEntityTooLarge, param: "content", msg: fmt.Sprintf("content has %d bytes; /tokenize takes at most %d (64 per position of the context)", len(*req.Content), limit)})
		return
	}
	ids := m.Engine.Tokenizer.Encode(*req.Content, req.AddSpecial, req.ParseSpecial)
	if !req.WithPieces {
		if ids == nil {
			ids = []int32{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": ids})
		return
	}
	type piece struct {
		ID    int32  `json:"id"`
		Piece string `json:"piece"`
	}
	out := make([]piece, len(ids))
	for i, id := range ids {
		out[i] = piece{ID: id, Piece: string(m.Engine.Tokenizer.AppendPiece(nil, id, true))}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) {
	type request struct {
		Tokens []int64 `json:"tokens"`
	}
	m, req, release, ok := begin[request](s, w, r)
	if !ok {
		return
	}
	defer release()
	vocab := int64(m.Engine.Tokenizer.VocabSize())
	ids := make([]int32, len(req.Tokens))
	for i, id := range req.Tokens {
		if id < 0 || id >= vocab {
			fail(w, badRequest("tokens", "token id %d at index %d is outside the vocabulary of %d tokens", id, i, vocab))
			return
		}
		ids[i] = int32(id)
	}
	writeJSON(w, http.StatusOK, map[string]string{"content": m.Engine.Tokenizer.Decode(ids, false)})
}

// statusGone is the status recorded for a request whose client went away (nginx's 499; nobody reads it).
const statusGone = 499

func markGone(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.status = statusGone
	}
}

// flattenContent turns OpenAI's list-of-parts message content ([{"type": "text", "text": ...}, ...]) into
// the one string chat templates expect (text parts joined by newlines), keeping every message's keys in
// order; other kinds of parts are refused.
func flattenContent(messages json.RawMessage) (json.RawMessage, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(messages, &list); err != nil {
		return nil, err
	}
	changed := false
	for i, raw := range list {
		var probe struct {
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &probe) != nil || len(probe.Content) == 0 || probe.Content[0] != '[' {
			continue
		}
		var parts []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(probe.Content, &parts); err != nil {
			return nil, badRequest("messages", "messages[%d].content must be a string or a list of {\"type\": \"text\", \"text\": ...} parts", i)
		}
		var text []string
		for j, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return nil, badRequest("messages", "messages[%d].content[%d] is a %q part: this server takes text parts only", i, j, p.Type)
			}
			text = append(text, *p.Text)
		}
		flat, _ := json.Marshal(strings.Join(text, "\n"))
		out, err := replaceKey(raw, "content", flat)
		if err != nil {
			return nil, badRequest("messages", "messages[%d]: %v", i, err)
		}
		list[i], changed = out, true
	}
	if !changed {
		return messages, nil
	}
	return json.Marshal(list)
}

// replaceKey returns the JSON object obj with key's value replaced, the keys in their order.
func replaceKey(obj json.RawMessage, key string, value json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := []byte{'{'}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if k == key {
			v = value
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k)
		out = append(append(append(out, kb...), ':'), v...)
	}
	return append(out, '}'), nil
}

// readBody reads a body of about size bytes (at most MaxBodyBytes: http.MaxBytesReader) into a buffer
// of that size, so that reading does not double a large one.
func readBody(r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(size) + 1) // + 1: the read that finds the end
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// byteBudget bounds the bytes held by requests whose bodies are being read.
type byteBudget struct {
	mu         sync.Mutex
	used, size int64
}

// take reserves n bytes, or reports false when they would exceed the budget.
func (b *byteBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.size {
		return false
	}
	b.used += n
	return true
}

func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// begin starts a request on the model: it must be loaded, take a place among the requests being prepared
// (release gives it back) and carry a JSON body that decodes into T. ok is false when it was answered. The
// body is read before the place is taken: a client that sends it slowly holds a goroutine until the read
// timeout, not one of the few places every other request needs.
func begin[T any](s *Server, w http.ResponseWriter, r *http.Request) (m *Model, req *T, release func(), ok bool) {
	if m = s.ready(w); m == nil {
		return nil, nil, nil, false
	}
	// The bodies being read are bounded in bytes (bodyBudget), each counted at its Content-Length (the
	// most a body may have when it does not say): past the budget, 503 as for the places.
	size := s.o.MaxBodyBytes
	if r.ContentLength >= 0 {
		size = min(r.ContentLength, size)
	}
	if !s.bodies.take(size) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "server_error", "server_busy", "the server is busy reading other requests: retry after a second")
		return nil, nil, nil, false
	}
	body, err := readBody(r.Body, size)
	s.bodies.give(size)
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = badRequest("", "the request body could not be read: %v", err)
		}
		fail(w, err)
		return nil, nil, nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if release, ok = s.admitted(w); !ok {
		return nil, nil, nil, false
	}
	req = new(T)
	if err := decode(r, req); err != nil {
		release()
		fail(w, err)
		return nil, nil, nil, false
	}
	return m, req, release, true
}
