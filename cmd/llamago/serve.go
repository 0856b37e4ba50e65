package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llamago/llamago/chat"
	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/server"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	modelFlags
	Host       string
	Port       int
	Parallel   int
	Queue      int
	KVBlocks   int
	StepTokens int
	APIKey     string
	CORS       []string
	Alias      string
	NoPrefix   bool
	Drain      time.Duration
	MaxBodyMB  float64
	AttnMax    int64
	LogJSON    bool
	Quiet      bool
	// ChatTemplateFile is a Jinja chat template used instead of the model's (--chat-template-file).
	ChatTemplateFile string
	chatTmpl         *chat.Template      // ChatTemplateFile compiled (by prepare)
	chatSource       string              // the chat template in use: model, file or chatml (set by load)
	terminal         bool                // the in-process server of llamago chat
	listenHook       func(addr net.Addr) // tests: the address actually bound
	stop             <-chan struct{}     // tests: stop as SIGTERM would
	force            <-chan struct{}     // tests: a second SIGTERM, which ends the drain at once
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [-m MODEL]",
		Short: "Serve a model over an OpenAI-compatible HTTP API",
		Long: `Serve loads a model and answers OpenAI-style requests: POST /v1/completions and /v1/chat/completions
(plain JSON, or "stream": true as server-sent events), GET /v1/models, POST /tokenize and /detokenize,
GET /health (503 while the model loads, then 200) and GET /metrics (Prometheus). POST /v1/attention
returns the attention a text gets, as JSON; the page at / chats with the model and draws that attention
(open http://127.0.0.1:8080/ in a browser: it needs no network, everything is built into llamago).

Requests are batched continuously: the --parallel active requests decode together in every forward
pass (each weight read once per step for all of them), long prompts are read in chunks between decoding
steps, and prompts that begin alike share their KV cache. Up to --queue more requests wait; past that the
server answers 503 with Retry-After. A client that disconnects cancels its request at once.

A request that leaves them out gets OpenAI's defaults: temperature 1, top_p 1, no top-k or min-p; at
most 16 new tokens for /v1/completions, and until the model ends its answer (or the context is full) for
/v1/chat/completions. Chat conversations are rendered with the model's own chat template (ChatML when
it has none, as in llama.cpp), or with --chat-template-file's for a model whose template is missing or
broken; tools reach the model through that template, and an answer in the template's tool-call form
comes back as tool_calls (finish_reason "tool_calls"), any other as text. Without -m, the built-in
stories260K model is served, to try the API.

The server listens on loopback (127.0.0.1) unless --host says otherwise. With an API key — prefer the
LLAMAGO_API_KEY environment variable, since --api-key shows in the process list — every /v1/* request
and /tokenize and /detokenize need "Authorization: Bearer KEY"; /health, /metrics and the page itself
stay open, and the page asks for the key once and keeps it in the browser.
SIGTERM or Ctrl-C stops taking requests, lets the ones in flight finish (at most --drain), then exits; a
second signal ends them at once (each stream gets an error event). While the model loads, a signal
waits for the load to end.`,
		Example: `  llamago serve -m model.gguf
  llamago serve -m model.gguf --parallel 8 --ctx 4096 --port 8080
  LLAMAGO_API_KEY=secret llamago serve -m model.gguf --host 0.0.0.0

  curl http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \
    -d '{"prompt": "Once upon a time", "max_tokens": 32, "temperature": 0}'
  curl -N http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"messages": [{"role": "user", "content": "Hello"}], "stream": true}'`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.APIKey == "" {
				o.APIKey = os.Getenv("LLAMAGO_API_KEY")
			}
			if err := o.validate(); err != nil { // before the default model's note
				return err
			}
			if err := o.useDefaultModel(o.noteWriter(cmd.ErrOrStderr())); err != nil {
				return err
			}
			return runServe(cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	allowDefaultModel(f)
	f.StringVar(&o.Host, "host", "127.0.0.1", "address to listen on (0.0.0.0: every interface — set an --api-key)")
	f.IntVar(&o.Port, "port", 8080, "port to listen on (0: any free port, printed on stderr)")
	f.IntVar(&o.Parallel, "parallel", 4, "requests generated at once (decoded together in every step)")
	f.IntVar(&o.Queue, "queue", 64, "requests that may wait for a place; more get 503 with Retry-After")
	f.IntVar(&o.KVBlocks, "kv-blocks", 0, "the KV cache in blocks of 32 positions (default: room for every parallel request's whole context)")
	f.IntVar(&o.StepTokens, "step-tokens", 0, "tokens one step may evaluate: every decoding request's next one, then prompt chunks up to this (default: --batch). Lower it to keep the pauses between streamed tokens short while new prompts arrive; raise it for a shorter time to first token")
	f.StringVar(&o.APIKey, "api-key", "", "require this key as a bearer token on /v1/*, /tokenize and /detokenize (default: $LLAMAGO_API_KEY)")
	f.StringSliceVar(&o.CORS, "cors", nil, "let web pages of these origins call the API from a browser, e.g. https://app.example.com (comma list; * for any)")
	f.StringVar(&o.Alias, "alias", "", "the model id clients see in /v1/models (default: the file's name)")
	f.BoolVar(&o.NoPrefix, "no-prefix-cache", false, "do not share KV blocks between requests whose prompts begin alike")
	f.DurationVar(&o.Drain, "drain", 60*time.Second, "on SIGTERM, how long requests in flight may take to finish (a second signal ends them now); keep it under a container's grace period")
	f.Float64Var(&o.MaxBodyMB, "max-body-mb", 4, "the largest request body accepted, in MB")
	f.Int64Var(&o.AttnMax, "attention-max-values", 4<<20, "the largest attention capture POST /v1/attention returns: tokens × layers × heads × tokens (larger: 413)")
	f.StringVar(&o.ChatTemplateFile, "chat-template-file", "", chatTemplateFileUsage)
	f.BoolVar(&o.LogJSON, "log-json", false, "log in JSON lines instead of text")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "log only warnings and errors")
	return cmd
}

const chatTemplateFileUsage = "render chat requests with this Jinja chat template instead of the model's tokenizer.chat_template (for a model whose template is missing or broken; bos_token and eos_token are still the model's)"

// noteWriter is where the built-in model's note goes: stderr, or nowhere with -q (warnings only) and
// --log-json (runServe logs it as a JSON line, so that every line of the log is JSON).
func (o *serveOptions) noteWriter(stderr io.Writer) io.Writer {
	if o.Quiet || o.LogJSON {
		return io.Discard
	}
	return stderr
}

func (o *serveOptions) validate() error {
	switch {
	case o.Port < 0 || o.Port > 65535:
		return usagef("--port must be in [0, 65535], got %d", o.Port)
	case o.Parallel < 1 || o.Parallel > 1024:
		return usagef("--parallel must be in [1, 1024], got %d", o.Parallel)
	case o.Queue < 1 || o.Queue > 1<<20:
		return usagef("--queue must be in [1, %d], got %d", 1<<20, o.Queue)
	case o.KVBlocks < 0:
		return usagef("--kv-blocks must be ≥ 0, got %d", o.KVBlocks)
	case o.StepTokens < 0 || o.StepTokens > 0 && o.StepTokens < o.Parallel:
		return usagef("--step-tokens must be 0 (--batch) or at least --parallel (%d: every decoding request's next token), got %d", o.Parallel, o.StepTokens)
	case o.Drain < 0:
		return usagef("--drain must be ≥ 0, got %s", o.Drain)
	case !(o.MaxBodyMB > 0 && o.MaxBodyMB <= 1024):
		return usagef("--max-body-mb must be in (0, 1024], got %g", o.MaxBodyMB)
	case o.AttnMax < 0:
		return usagef("--attention-max-values must be ≥ 0 (0: the default), got %d", o.AttnMax)
	}
	for _, origin := range o.CORS {
		if err := checkOrigin(origin); err != nil {
			return usagef("--cors %q: %v", origin, err)
		}
	}
	return nil
}

// checkOrigin accepts what a browser sends as Origin — scheme://host[:port], nothing after — or "*": a
// trailing slash or a path would never match, and the flag would seem to do nothing.
func checkOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	u, err := url.Parse(origin)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("an origin is scheme://host[:port], e.g. https://app.example.com (or * for any)")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("an origin has no path, query or user: %s://%s", u.Scheme, u.Host)
	}
	return nil
}

func runServe(stderr io.Writer, o serveOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := o.modelFlags.validate(); err != nil { // before listening: a bad flag or file never serves 503s
		return err
	}
	if err := o.prepare(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.Quiet {
		level = slog.LevelWarn
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if o.LogJSON {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	if o.LogJSON && o.name != "" { // the built-in model: the note the text log had on stderr
		log.Info("no -m given: using the built-in model (a tiny TinyStories LLaMA; see the README for real models)", "model", o.name)
	}
	if o.APIKey == "" && !isLoopback(o.Host) {
		log.Warn("listening beyond loopback without an API key: anyone who can reach this port can use the model (set --api-key or LLAMAGO_API_KEY)", "host", o.Host)
	}
	srv := server.New(server.Options{APIKey: o.APIKey, MaxBodyBytes: int64(o.MaxBodyMB * (1 << 20)),
		MaxAttentionValues: o.AttnMax, CORSOrigins: o.CORS, Logger: log})
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("cannot listen on %s:%d: %w (is another server using the port? try --port)", o.Host, o.Port, err)
	}
	if o.listenHook != nil {
		o.listenHook(ln.Addr())
	}
	hs := newHTTPServer(srv, handler)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	listening := []any{"addr", "http://" + ln.Addr().String(), "model", o.Model}
	if o.Port == 0 && !log.Enabled(context.Background(), slog.LevelInfo) {
		// -q hides this line, but a port chosen for the user is something they must be told.
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "listening on the port chosen (--port 0)", 0)
		r.Add(listening...)
		_ = handler.Handle(context.Background(), r)
	}
	log.Info("listening; loading the model (GET /health answers 503 until it is ready)", listening...)

	stop, force := o.stop, o.force
	if stop == nil {
		sig := make(chan os.Signal, 2)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		first, second := make(chan struct{}), make(chan struct{})
		go func() {
			<-sig
			close(first)
			<-sig // a second signal while draining: end now
			close(second)
		}()
		stop, force = first, second
	}

	type loaded struct {
		lm       *loadedModel
		m        *server.Model
		err      error
		panicked any // a panic while loading, raised again on the command's goroutine (exit status 70)
	}
	ready := make(chan loaded, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ready <- loaded{panicked: fmt.Sprintf("%v (loading the model)\n%s", v, debug.Stack())}
			}
		}()
		lm, m, err := o.load(log)
		ready <- loaded{lm, m, err, nil}
	}()
	var lm *loadedModel
	var model *server.Model
	select {
	case l := <-ready:
		if l.panicked != nil {
			hs.Close()
			panic(l.panicked)
		}
		if l.err != nil {
			hs.Close()
			return l.err
		}
		lm, model = l.lm, l.m
	case <-stop:
		hs.Close()
		if l := <-ready; l.err == nil && l.panicked == nil { // let the load finish so that its files close cleanly
			l.m.Scheduler.Close()
			l.lm.Close()
		}
		return errInterrupted
	case err := <-served:
		return err
	}
	defer lm.Close()
	defer model.Scheduler.Close()
	srv.SetModel(model)
	log.Info("ready", "model", model.Name, "load_s", fmt.Sprintf("%.2f", lm.loadTime.Seconds()), "backend", lm.backend.Name(),
		"parallel", o.Parallel, "ctx", model.Context, "kv_blocks", model.Scheduler.Stats().BlocksTotal,
		"kv_type", engine.KVTypeName(lm.model.KVType()), "chat_template", o.chatSource)

	select {
	case err := <-served:
		return err
	case <-stop:
	}
	log.Info("stopping: no new requests; waiting for those in flight (a second signal ends them now)", "drain", o.Drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), o.Drain)
	defer cancel()
	go func() {
		select {
		case <-force:
			log.Warn("a second signal: ending the requests in flight now")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("requests still running: ending them (each stream gets an error event)", "err", err)
		model.Scheduler.Close() // ends their streams with an error, which the handlers write
		// A moment for the handlers to write that error and return, then the connections close.
		end, cancelEnd := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelEnd()
		if hs.Shutdown(end) != nil {
			hs.Close()
		}
	}
	log.Info("stopped")
	return nil
}

// prepare compiles --chat-template-file, so that a bad one fails before the model loads.
func (o *serveOptions) prepare() (err error) {
	o.chatTmpl, err = chatTemplateFile(o.ChatTemplateFile)
	return err
}

// load opens the model and starts its scheduler.
func (o *serveOptions) load(log *slog.Logger) (*loadedModel, *server.Model, error) {
	o.kvFor = func(ctx int) int { // the KV pool NewRunner makes below, which the device must hold
		if o.KVBlocks > 0 {
			return o.KVBlocks * engine.KVBlockSize
		}
		return o.Parallel * ((ctx + engine.KVBlockSize - 1) / engine.KVBlockSize) * engine.KVBlockSize // whole blocks each, as NewRunner
	}
	lm, err := o.open()
	if err != nil {
		return nil, nil, err
	}
	r, err := lm.model.NewRunner(engine.RunnerOptions{Context: lm.ctx, Batch: o.Batch, Sequences: o.Parallel,
		Blocks: o.KVBlocks, PrefixCache: !o.NoPrefix})
	if err != nil {
		lm.Close()
		return nil, nil, err
	}
	name := o.Alias
	if name == "" {
		name = lm.name
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(o.Model), filepath.Ext(o.Model))
	}
	m := &server.Model{Name: name, Path: o.Model, Engine: lm.model, Context: lm.ctx, Backend: lm.backend.Name(),
		Scheduler: engine.NewScheduler(r, engine.SchedulerOptions{MaxQueue: o.Queue, StepTokens: o.StepTokens})}
	m.Chat, o.chatSource, err = chatRenderer(lm, o.chatTmpl, o.terminal, log)
	if err != nil {
		m.Scheduler.Close()
		lm.Close()
		return nil, nil, err
	}
	return lm, m, nil
}

// newHTTPServer is the http.Server that serve and chat run the API with: slow or idle clients are bounded,
// and the server's own errors go to the log.
func newHTTPServer(h http.Handler, log slog.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log, slog.LevelWarn)}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
