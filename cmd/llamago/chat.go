package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/server"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type chatOptions struct {
	modelFlags
	System    string
	MaxTokens int
	Sampler   engine.SamplerOptions
	Seed      int64
	// ChatTemplateFile is a Jinja chat template used instead of the model's (--chat-template-file).
	ChatTemplateFile string
	// ttyIn and ttyOut say that stdin and stdout are terminals (set by the command; tests may set them):
	// with stdout a terminal the chat shows a banner on stderr and a prompt on stdout.
	ttyIn, ttyOut bool
	interrupt     <-chan os.Signal            // tests: Ctrl-C as SIGINT delivers it
	sent          func(messages []chatTurn)   // tests: the conversation each request carries
	onDelta       func(turn int, text string) // tests: called after each piece of an answer is printed
	ended         func(turn int)              // tests: called once a message's turn is over
	loaded        func(m *server.Model)       // tests: the model the in-process server serves
}

func newChatCmd() *cobra.Command { return chatCommand(&chatOptions{}) }

// chatCommand is the chat command writing its flags into o (tests keep o's hooks).
func chatCommand(o *chatOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chat [-m MODEL]",
		Short: "Chat with a model in the terminal (the server's chat API, in-process)",
		Long: `Chat loads a model as 'llamago serve' does, serves its API on a private loopback port, and talks to its
/v1/chat/completions: each line you type is a user message, the answer is printed token by token as it
comes, and every request carries the whole conversation, so the model sees what was said before (the
server's prefix cache reuses what it has already read). The conversation is written out with the model's
chat template (tokenizer.chat_template), or ChatML when the model has none, or --chat-template-file's.

At the prompt:
  /reset   forget the conversation (the --system prompt stays)
  /help    list the commands
  /exit    quit (also /quit, Ctrl-D, or Ctrl-C twice at the prompt)

Ctrl-C while an answer is being written stops that answer (the server drops its work at once); what was
printed stays in the conversation as the model's answer, and the next message goes on from there. An answer
stopped before its first word is dropped together with its question.

With standard input piped, each line is one user message (empty lines are skipped) and standard output
carries only the answers, each ending with a newline (an answer may hold newlines of its own): a script can feed questions and read answers. The
banner, the prompt's notes and errors go to standard error. A message the server refuses — most often a
conversation grown longer than the context (--ctx) — is reported there and left out of the conversation,
and the chat goes on: /reset starts over. Piped, the chat ends with status 1 if a message got no answer.`,
		Example: `  llamago chat -m model.gguf
  llamago chat -m model.gguf --system "You are a terse assistant." --temp 0.7 --ctx 4096
  llamago chat          # the built-in stories260K: it tells tiny stories, whatever you ask

  # scripted: two messages, greedy, at most 64 tokens per answer; the answers on stdout
  printf 'Tell me about cats.\nAnd dogs?\n' | llamago chat -m model.gguf --temp 0 -n 64 > answers.txt`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.ttyIn = o.ttyIn || isTerminal(cmd.InOrStdin())
			o.ttyOut = o.ttyOut || isTerminal(cmd.OutOrStdout())
			return runChat(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), *o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	allowDefaultModel(f)
	f.StringVar(&o.System, "system", "", "a system message that begins the conversation (kept by /reset)")
	f.IntVarP(&o.MaxTokens, "max-tokens", "n", 1024, "most tokens per answer (-1: until the model ends its answer or the context is full; a model that never ends its answers, such as the built-in story model, would fill the context in one)")
	bindSampler(f, &o.Sampler)
	f.Lookup("temp").Usage = "temperature, in [0, 2] (0: greedy)"
	f.Float64Var(&o.Sampler.RepeatPenalty, "repeat-penalty", engine.DefaultSampler.RepeatPenalty, "penalize the last 64 tokens, in (0, 10] (1: off)")
	f.StringVar(&o.ChatTemplateFile, "chat-template-file", "", chatTemplateFileUsage)
	f.Int64VarP(&o.Seed, "seed", "s", -1, "random seed each answer starts from (-1: a random one per answer)")
	return cmd
}

// isTerminal reports whether r (a reader or writer) is a terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (o *chatOptions) validate() error {
	o.Sampler.RepeatLastN = engine.DefaultSampler.RepeatLastN
	if err := o.Sampler.Validate(); err != nil {
		return usageError{err}
	}
	switch { // the server's ranges, so that no message is refused for them
	case o.Sampler.Temp > 2:
		return usagef("--temp must be in [0, 2] (0 is greedy), got %g", o.Sampler.Temp)
	case o.Sampler.RepeatPenalty > 10:
		return usagef("--repeat-penalty must be in (0, 10] (1 is off), got %g", o.Sampler.RepeatPenalty)
	case o.MaxTokens == 0 || o.MaxTokens < -1:
		return usagef("-n/--max-tokens must be at least 1, or -1 (until the model ends its answer), got %d", o.MaxTokens)
	case o.Seed < -1:
		return usagef("--seed must be ≥ 0, or -1 for a random one per answer, got %d", o.Seed)
	}
	return nil
}

// chatTurn is one message of the conversation, as the API takes it.
type chatTurn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatSession is a running chat: the in-process server's URL, the conversation, and where it prints.
type chatSession struct {
	o              chatOptions
	stdout, stderr io.Writer
	intr           <-chan os.Signal
	client         *http.Client
	url            string
	ctx            int // the model's context in tokens
	history        []chatTurn
	turns          int   // messages sent (tests' onDelta numbers them from 1)
	warned         bool  // the note that the context is filling up was given for this conversation
	unanswered     int   // messages that got no answer (an error, reported on stderr)
	writeErr       error // the first failed write to stdout (a closed pipe): the chat ends
}

func runChat(stdin io.Reader, stdout, stderr io.Writer, o chatOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := o.useDefaultModel(stderr); err != nil {
		return err
	}
	// Warnings only (a model without a chat template, say), as the other commands' notes read.
	handler := noteHandler{w: stderr}
	log := slog.New(handler)
	// One sequence: a chat has one conversation; the prefix cache keeps what earlier turns read.
	so := serveOptions{modelFlags: o.modelFlags, Parallel: 1, Queue: 1, ChatTemplateFile: o.ChatTemplateFile, terminal: true}
	if err := so.prepare(); err != nil {
		return err
	}
	lm, model, err := so.load(log)
	if err != nil {
		return err
	}
	defer lm.Close()
	defer model.Scheduler.Close()
	lm.printNotes(stderr)
	if o.loaded != nil {
		o.loaded(model)
	}

	srv := server.New(server.Options{Logger: log})
	srv.SetModel(model)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("chat serves the model on a loopback port, and none could be opened: %w", err)
	}
	hs := newHTTPServer(srv, handler)
	go hs.Serve(ln)
	defer hs.Close()
	transport := &http.Transport{} // no proxy: the server is this process
	defer transport.CloseIdleConnections()

	intr := o.interrupt
	if intr == nil {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		defer signal.Stop(c)
		intr = c
	}
	c := &chatSession{o: o, stdout: stdout, stderr: stderr, intr: intr, client: &http.Client{Transport: transport},
		url: "http://" + ln.Addr().String() + "/v1/chat/completions", ctx: model.Context}
	c.reset()
	if o.ttyOut {
		fmt.Fprintf(stderr, "llamago chat: %s, a context of %d tokens. /help lists the commands; Ctrl-C stops an answer; /exit or Ctrl-D quits.\n",
			model.Name, model.Context)
	}
	return c.loop(stdin)
}

// noteHandler writes the server's warnings and errors as one "llamago: warning: ..." line each.
type noteHandler struct {
	w     io.Writer
	attrs []slog.Attr
}

func (h noteHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h noteHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	level := "warning"
	if r.Level >= slog.LevelError {
		level = "error"
	}
	fmt.Fprintf(&b, "llamago: %s: %s", level, r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h noteHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(slices.Clip(h.attrs), attrs...)
	return h
}

func (h noteHandler) WithGroup(string) slog.Handler { return h }

// reset starts a new conversation: the system message alone.
func (c *chatSession) reset() {
	c.history = c.history[:0]
	if c.o.System != "" {
		c.history = append(c.history, chatTurn{Role: "system", Content: c.o.System})
	}
	c.warned = false
}

const chatHelp = `Commands:
  /reset   forget the conversation (the --system prompt stays)
  /help    this list
  /exit    quit (also /quit, Ctrl-D, or Ctrl-C twice at the prompt)
Ctrl-C while an answer is being written stops it; what was written stays in the conversation.
`

// loop reads messages and commands until /exit, the end of the input or a second Ctrl-C at the prompt.
func (c *chatSession) loop(stdin io.Reader) error {
	lines := make(chan string)
	quit := make(chan struct{})
	defer close(quit)
	var readErr error
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdin)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				select {
				case lines <- line:
				case <-quit:
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					readErr = fmt.Errorf("reading standard input: %w", err)
				}
				return
			}
		}
	}()
	ctrlC := false // a Ctrl-C came at the prompt: another one quits
	for {
		if c.o.ttyOut {
			c.print("> ")
		}
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-c.intr:
			if c.o.ttyOut {
				c.print("\n") // the line the terminal echoed ^C on
			}
			if ctrlC {
				return errInterrupted
			}
			ctrlC = true
			fmt.Fprintln(c.stderr, "(Ctrl-C again, Ctrl-D or /exit quits)")
			continue
		}
		if !ok {
			if c.o.ttyOut && c.o.ttyIn {
				c.print("\n") // Ctrl-D left the cursor after the prompt
			}
			if readErr != nil {
				return readErr
			}
			return c.ended()
		}
		ctrlC = false
		line = strings.TrimRight(line, "\r\n")
		if c.o.ttyOut && !c.o.ttyIn {
			c.print(line + "\n") // a piped message, shown after its prompt so that the screen reads as a conversation
		}
		switch cmd, _, _ := strings.Cut(strings.TrimSpace(line), " "); {
		case cmd == "":
		case cmd == "/exit" || cmd == "/quit":
			return c.ended()
		case cmd == "/reset":
			c.reset()
			fmt.Fprintln(c.stderr, "(conversation cleared)")
		case cmd == "/help":
			fmt.Fprint(c.stderr, chatHelp)
		case strings.HasPrefix(cmd, "/"):
			fmt.Fprintf(c.stderr, "llamago: unknown command %s: /help lists the commands\n", cmd)
		default:
			c.turn(line)
		}
		if c.writeErr != nil {
			return c.writeErr
		}
	}
}

// ended is the chat's result when it ends normally: piped, an error if a message got no answer (a script
// reads the status).
func (c *chatSession) ended() error {
	if !c.o.ttyIn && c.unanswered > 0 {
		return fmt.Errorf("%d of the %d messages got no answer (reported above)", c.unanswered, c.turns)
	}
	return nil
}

func (c *chatSession) print(s string) {
	if c.writeErr == nil {
		_, c.writeErr = io.WriteString(c.stdout, s)
	}
}

// turn sends one user message with the conversation before it, prints the answer as it comes and keeps
// the exchange, or reports why there is none and leaves the message out.
func (c *chatSession) turn(text string) {
	c.history = append(c.history, chatTurn{Role: "user", Content: text})
	c.turns++
	if c.o.sent != nil {
		c.o.sent(slices.Clone(c.history))
	}
	res := c.stream()
	if c.o.ended != nil {
		defer c.o.ended(c.turns)
	}
	if res.text != "" && !strings.HasSuffix(res.text, "\n") || res.text == "" && res.err == nil {
		c.print("\n") // every answer is a line of its own, even an empty one
	}
	switch {
	case res.err != nil:
		c.history = c.history[:len(c.history)-1]
		c.unanswered++
		c.report(res.err)
	case res.interrupted && res.text == "":
		c.history = c.history[:len(c.history)-1]
		fmt.Fprintln(c.stderr, "(answer stopped before it began: the message was left out of the conversation)")
	case res.interrupted:
		c.history = append(c.history, chatTurn{Role: "assistant", Content: res.text})
		fmt.Fprintln(c.stderr, "(answer stopped: what was written stays in the conversation)")
	default:
		c.history = append(c.history, chatTurn{Role: "assistant", Content: res.text})
		c.noteContext(res.usage)
	}
}

// noteContext tells, once per conversation, that it fills most of the context, and when it is full.
func (c *chatSession) noteContext(u *chatUsage) {
	switch {
	case u == nil:
	case u.TotalTokens >= c.ctx:
		fmt.Fprintf(c.stderr, "llamago: the context of %d tokens is full: the answer was cut there; /reset starts a new conversation (or use a larger --ctx)\n", c.ctx)
		c.warned = true
	case !c.warned && 4*u.TotalTokens >= 3*c.ctx:
		fmt.Fprintf(c.stderr, "llamago: note: the conversation fills %d of the %d tokens of the context: /reset before it is full (or use a larger --ctx)\n", u.TotalTokens, c.ctx)
		c.warned = true
	}
}

// report prints why a message got no answer.
func (c *chatSession) report(err error) {
	var ae *chatAPIError
	if errors.As(err, &ae) && ae.Code == "context_length_exceeded" {
		fmt.Fprintf(c.stderr, "llamago: the conversation no longer fits in the context of %d tokens: %s\n"+
			"llamago: the message was left out; /reset starts a new conversation (or use a larger --ctx)\n", c.ctx, ae.Message)
		return
	}
	fmt.Fprintf(c.stderr, "llamago: no answer: %v\nllamago: the message was left out of the conversation; /reset starts over\n", err)
}

// chatRequest is the body chat sends to /v1/chat/completions.
type chatRequest struct {
	Messages      []chatTurn `json:"messages"`
	Stream        bool       `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens     *int    `json:"max_tokens,omitempty"`
	Temperature   float64 `json:"temperature"`
	TopP          float64 `json:"top_p"`
	TopK          int     `json:"top_k"`
	MinP          float64 `json:"min_p"`
	RepeatPenalty float64 `json:"repeat_penalty"`
	Seed          *int64  `json:"seed,omitempty"`
}

func (c *chatSession) request() chatRequest {
	s := c.o.Sampler
	r := chatRequest{Messages: c.history, Stream: true, Temperature: s.Temp, TopP: s.TopP, TopK: s.TopK, MinP: s.MinP,
		RepeatPenalty: s.RepeatPenalty}
	r.StreamOptions.IncludeUsage = true
	if c.o.MaxTokens > 0 {
		r.MaxTokens = &c.o.MaxTokens
	}
	if c.o.Seed >= 0 {
		r.Seed = &c.o.Seed
	}
	return r
}

// chatUsage is the usage object of the stream's last chunk.
type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// chatAPIError is an error the server answered, as its OpenAI-style body gives it.
type chatAPIError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Status  int    `json:"-"`
}

func (e *chatAPIError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("the server answered %d: %s", e.Status, e.Message)
	}
	return "the server stopped the answer: " + e.Message
}

// chatChunk is one server-sent event of a streamed chat completion (or the error event that ends one).
type chatChunk struct {
	Choices []struct {
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage    `json:"usage"`
	Error *chatAPIError `json:"error"`
}

// streamEvent is what fetch passes on: a piece of the answer, the usage, the end, or an error.
type streamEvent struct {
	text  string
	usage *chatUsage
	done  bool
	err   error
}

// turnResult is how an answer ended.
type turnResult struct {
	text        string
	usage       *chatUsage
	interrupted bool
	err         error
}

// stream sends the conversation and prints the answer as it comes. A Ctrl-C cancels the request, which
// closes its connection: the server cancels the sequence and frees its KV cache at its next step.
func (c *chatSession) stream() turnResult {
	body, err := json.Marshal(c.request())
	if err != nil {
		return turnResult{err: err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan streamEvent)
	go c.fetch(ctx, body, events)
	defer func() {
		cancel()
		for range events { // fetch ends once its request is cancelled
		}
	}()
	var res turnResult
	for {
		// A Ctrl-C counts before any piece already received: nothing more is printed after it.
		select {
		case <-c.intr:
			res.interrupted = true
			return res
		default:
		}
		select {
		case <-c.intr:
			res.interrupted = true
			return res
		case ev, ok := <-events:
			switch {
			case !ok:
				return res
			case ev.err != nil:
				res.err = ev.err
				return res
			case ev.done:
				return res
			case ev.usage != nil:
				res.usage = ev.usage
			case ev.text != "":
				c.print(ev.text)
				res.text += ev.text
				if c.o.onDelta != nil {
					c.o.onDelta(c.turns, ev.text)
				}
				if c.writeErr != nil {
					return res
				}
			}
		}
	}
}

// fetch posts the request and passes the stream's events on until [DONE], an error, or ctx's end.
func (c *chatSession) fetch(ctx context.Context, body []byte, events chan<- streamEvent) {
	defer close(events)
	send := func(ev streamEvent) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		send(streamEvent{err: err})
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		send(streamEvent{err: err})
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error *chatAPIError `json:"error"`
		}
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error == nil {
			e.Error = &chatAPIError{Message: resp.Status}
		}
		e.Error.Status = resp.StatusCode
		send(streamEvent{err: e.Error})
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // the blank line after each event
		}
		if data == "[DONE]" {
			send(streamEvent{done: true})
			return
		}
		var ch chatChunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			send(streamEvent{err: fmt.Errorf("the server sent an event that is not JSON: %w", err)})
			return
		}
		if ch.Error != nil {
			send(streamEvent{err: ch.Error})
			return
		}
		if ch.Usage != nil && !send(streamEvent{usage: ch.Usage}) {
			return
		}
		for _, choice := range ch.Choices {
			if t := choice.Delta.Content; t != nil && *t != "" && !send(streamEvent{text: *t}) {
				return
			}
		}
	}
	err = sc.Err()
	if err == nil {
		err = errors.New("the answer's stream ended before [DONE]")
	}
	send(streamEvent{err: err})
}
