// Package server is llamago's OpenAI-compatible HTTP API: /v1/completions and /v1/chat/completions (plain
// JSON or server-sent events), /v1/models, /tokenize and /detokenize, /health and Prometheus /metrics;
// llamago's own /v1/attention (captured attention as JSON) and, at /, a web page to chat with the model and
// see its attention.
//
// Every request is a sequence of the engine's Scheduler, so all active requests decode in the same forward
// pass (continuous batching); a client that goes away cancels its sequence, which frees its KV blocks at the
// next step. The server answers /health with 503 until SetModel is called, so that it can listen while the
// model loads.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llamago/llamago/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"
)

// Model is what the server serves: a loaded model and the scheduler that runs its requests.
type Model struct {
	// Name is the model id of /v1/models; requests may name it, its file name, or nothing.
	Name      string
	Path      string // the model's file, for the aliases a request may use
	Engine    *engine.Model
	Scheduler *engine.Scheduler
	Context   int // positions one request may hold, prompt included
	// Chat renders a conversation (the request's "messages" and "tools" as received, key order kept) into
	// the prompt text; its error is the client's (HTTP 400). Nil: /v1/chat/completions answers 400.
	Chat    func(messages, tools json.RawMessage) (string, error)
	Created time.Time
	// Backend names what computes (the engine backend's name: "cpu", "cuda:0 NVIDIA H100 …"), for /health.
	Backend string

	attn attentionSession // POST /v1/attention's, made on first use
}

// Options configure a Server; zero values take the defaults given.
type Options struct {
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/*, /tokenize and /detokenize.
	APIKey string
	// MaxBodyBytes bounds a request body (default 4 MiB); larger ones get 413.
	MaxBodyBytes int64
	// WriteTimeout bounds each write of a streamed response (default 30 s): a client that stops reading is
	// dropped and its request cancelled.
	WriteTimeout time.Duration
	// Heartbeat is how long a streamed response may go without a write before the server sends an SSE
	// comment (": ping"), which clients ignore, so that proxies that cut idle connections (nginx after
	// 60 s) keep a request that waits in the queue or reads a long prompt (default 15 s; < 0: never).
	Heartbeat time.Duration
	// MaxStop is the most stop strings a request may give (default 16).
	MaxStop int
	// MaxAttentionValues bounds what POST /v1/attention captures and returns: tokens × layers × heads ×
	// tokens (default 4Mi); larger requests get 413.
	MaxAttentionValues int64
	// CORSOrigins lets web pages of these origins ("https://app.example.com", or "*" for any) call the API
	// from a browser: preflight requests are answered and responses carry Access-Control-Allow-Origin.
	// Empty (the default): no CORS headers, so only the server's own page (same origin) can.
	CORSOrigins []string
	Logger      *slog.Logger // default: discard
	// Registry receives the server's metrics (default: a new registry; /metrics serves it).
	Registry *prometheus.Registry
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	o       Options
	model   atomic.Pointer[Model]
	keyHash [32]byte
	mux     *http.ServeMux
	handler http.Handler // mux, behind CORS where CORSOrigins asks
	m       *metrics
	ids     atomic.Uint64
	start   time.Time
	// prep bounds the requests being decoded, rendered and tokenized at once (work before the
	// scheduler's queue, which bounds the rest): past it, 503.
	prep chan struct{}
	// failedOnce logs the scheduler's failure (its stack) once, the first time /health finds it.
	failedOnce sync.Once
	// bodies bounds the request bodies being read (read before a request takes a place in prep):
	// bodyBudgetBodies bodies of the largest size.
	bodies byteBudget
}

// bodyBudgetBodies is how many bodies of the largest size (MaxBodyBytes) may be read at once: many more
// small ones (64 MiB with the CLI's 4 MiB limit).
const bodyBudgetBodies = 16

// New returns a server without a model: /health answers 503 and the API "loading" until SetModel.
func New(o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.MaxStop <= 0 {
		o.MaxStop = 16
	}
	if o.MaxAttentionValues <= 0 {
		o.MaxAttentionValues = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	s := &Server{o: o, mux: http.NewServeMux(), start: time.Now(), prep: make(chan struct{}, max(8, 2*runtime.GOMAXPROCS(0)))}
	s.bodies.size = bodyBudgetBodies * o.MaxBodyBytes
	if o.APIKey != "" {
		s.keyHash = sha256.Sum256([]byte(o.APIKey))
	}
	s.m = newMetrics(o.Registry, s)
	s.route("GET /health", false, s.health)
	s.route("GET /metrics", false, s.m.handler(o.Registry).ServeHTTP)
	s.route("GET /v1/models", true, s.models)
	s.route("GET /v1/models/{id...}", true, s.modelByID)
	s.route("POST /v1/completions", true, s.completions)
	s.route("POST /v1/chat/completions", true, s.chatCompletions)
	s.route("POST /tokenize", true, s.tokenize)
	s.route("POST /detokenize", true, s.detokenize)
	s.route("POST /v1/attention", true, s.attention)
	// The page and its assets carry no data: they are served without the key, and the page asks for it.
	s.route("GET /{$}", false, s.page)
	s.route("GET /ui/{file}", false, s.asset)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found_error", "", fmt.Sprintf("no route %s %s: the API has /v1/completions, /v1/chat/completions, /v1/models, /v1/attention, /tokenize, /detokenize, /health and /metrics; the web page is at /", r.Method, r.URL.Path))
	})
	s.handler = s.mux
	if len(o.CORSOrigins) > 0 {
		s.handler = cors.New(cors.Options{
			AllowedOrigins: o.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"*"}, // the OpenAI SDKs send headers of their own (x-stainless-*, openai-organization); credentials stay off
			MaxAge:         600,
		}).Handler(s.mux)
	}
	return s
}

// SetModel makes the server ready with m.
func (s *Server) SetModel(m *Model) {
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	s.model.Store(m)
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route registers a handler with the server's common handling: the request counter by endpoint and
// status, recovery from a panic (500, the server stays up), the body limit, and the API key where asked.
func (s *Server) route(pattern string, auth bool, h http.HandlerFunc) {
	endpoint := pattern[strings.IndexByte(pattern, ' ')+1:]
	for _, wild := range []string{"{id...}", "{$}", "{file}"} {
		endpoint = strings.TrimSuffix(endpoint, wild)
	}
	method, path, _ := strings.Cut(pattern, " ")
	if !strings.Contains(path, "{") && path != "/" {
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", fmt.Sprintf("%s takes %s, not %s", path, method, r.Method))
			s.m.requests.WithLabelValues(endpoint, "405").Inc()
		})
	}
	api := strings.HasPrefix(endpoint, "/v1/") || endpoint == "/tokenize" || endpoint == "/detokenize" // logged a line each
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		id := s.newID("req")
		sw.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		defer func() {
			if v := recover(); v != nil {
				s.o.Logger.Error("panic serving a request: please report it as a bug", "request_id", id, "endpoint", endpoint, "panic", v)
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "server_error", "", "internal error (a bug: please report it)")
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.m.requests.WithLabelValues(endpoint, fmt.Sprint(status)).Inc()
			s.m.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
			if status >= 500 {
				s.reportFailure()
			}
			if status >= 400 && sw.code != "" {
				s.m.errors.WithLabelValues(sw.code).Inc()
			}
			if api { // one line a request of the API: refusals (401, 413, 503 …) included
				attrs := []any{"request_id", id, "method", r.Method, "endpoint", endpoint, "status", status,
					"ms", time.Since(start).Milliseconds()}
				if sw.code != "" {
					attrs = append(attrs, "code", sw.code)
				}
				s.o.Logger.Info("request", attrs...)
			}
		}()
		if auth && !s.authorized(r) {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="llamago"`)
			writeError(sw, http.StatusUnauthorized, "authentication_error", "invalid_api_key", "a valid API key is required: send the header \"Authorization: Bearer KEY\" with the key the server was started with (--api-key or LLAMAGO_API_KEY)")
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.o.MaxBodyBytes)
		h(sw, r)
	})
}

// requestIDKey carries a request's id (X-Request-Id) in its context, for the log lines about it.
type requestIDKey struct{}

// requestID is the id route gave the request of ctx ("" outside one).
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// authorized checks the bearer token in constant time (hashes of equal length are compared).
func (s *Server) authorized(r *http.Request) bool {
	if s.o.APIKey == "" {
		return true
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // the scheme is case-insensitive (RFC 7235)
		return false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(h[:], s.keyHash[:]) == 1
}

// reportFailure returns the error that stopped the model's scheduler (a bug in a step), logging it with its
// stack the first time it is seen (by /health or by a request answered 5xx); nil while it runs.
func (s *Server) reportFailure() error {
	m := s.model.Load()
	if m == nil {
		return nil
	}
	stack, err := m.Scheduler.Failed()
	if err != nil {
		s.failedOnce.Do(func() {
			s.o.Logger.Error("the scheduler stopped on an internal error: /health fails from now on; please report it as a bug",
				"err", err, "stack", string(stack))
		})
	}
	return err
}

// ready returns the model, or answers 503 while it loads.
func (s *Server) ready(w http.ResponseWriter) *Model {
	m := s.model.Load()
	if m == nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "server_error", "model_loading", "the model is still loading: try again shortly (GET /health answers 200 when it is ready)")
	}
	return m
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	m := s.model.Load()
	if m == nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
		return
	}
	if err := s.reportFailure(); err != nil {
		// A bug stopped the scheduler: every request would get 503 from now on. Failing the health check
		// lets an orchestrator restart the process instead of keeping it in service.
		writeJSON(w, http.StatusInternalServerError, map[string]string{"status": "failed", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "backend": m.Backend})
}

type modelCard struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// llamago's own: what a client may want to size its requests by
	Context int `json:"context_length"`
}

func (m *Model) card() modelCard {
	return modelCard{ID: m.Name, Object: "model", Created: m.Created.Unix(), OwnedBy: "llamago", Context: m.Context}
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	m := s.ready(w)
	if m == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []modelCard{m.card()}})
}

func (s *Server) modelByID(w http.ResponseWriter, r *http.Request) {
	m := s.ready(w)
	if m == nil {
		return
	}
	if !m.named(r.PathValue("id")) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("the model %q does not exist: this server serves %q", r.PathValue("id"), m.Name))
		return
	}
	writeJSON(w, http.StatusOK, m.card())
}

// named reports whether a request's "model" names this model: empty, its id, or its file's name with or
// without the extension.
func (m *Model) named(name string) bool {
	if name == "" || name == m.Name {
		return true
	}
	base := filepath.Base(m.Path)
	return m.Path != "" && (name == base || name == strings.TrimSuffix(base, filepath.Ext(base)))
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	code   string // the error code written (writeError), for the request's log line
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, write deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiError is an OpenAI-style error body.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	e := apiError{Message: msg, Type: typ}
	if code != "" {
		e.Code = &code
	}
	writeAPIError(w, status, e)
}

// writeAPIError writes an OpenAI-style error and records its code (else its type) for the request's log
// line and the errors counter.
func writeAPIError(w http.ResponseWriter, status int, e apiError) {
	if sw, ok := w.(*statusWriter); ok && sw.code == "" {
		sw.code = e.Type
		if e.Code != nil {
			sw.code = *e.Code
		}
	}
	writeJSON(w, status, map[string]apiError{"error": e})
}

// requestError is a client's mistake: status and message (and the parameter at fault).
type requestError struct {
	status int
	code   string
	param  string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(param, format string, a ...any) error {
	return &requestError{status: http.StatusBadRequest, param: param, msg: fmt.Sprintf(format, a...)}
}

// fail answers err: a requestError as itself, engine refusals with their statuses, anything else 500.
func fail(w http.ResponseWriter, err error) {
	status, e, retry := errorFor(err)
	if retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	writeAPIError(w, status, e)
}

// errorFor is how err is answered: its status, its OpenAI-style error, and Retry-After's value (or "").
func errorFor(err error) (status int, e apiError, retryAfter string) {
	mk := func(typ, code, msg string) apiError {
		e := apiError{Message: msg, Type: typ}
		if code != "" {
			e.Code = &code
		}
		return e
	}
	var re *requestError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &re):
		e := apiError{Message: re.msg, Type: "invalid_request_error"}
		if re.param != "" {
			e.Param = &re.param
		}
		if re.code != "" {
			e.Code = &re.code
		}
		return re.status, e, ""
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, mk("invalid_request_error", "request_too_large", fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)), ""
	case errors.Is(err, engine.ErrQueueFull):
		return http.StatusServiceUnavailable, mk("server_error", "queue_full", "the server is busy (its queue of waiting requests is full): retry after a second"), "1"
	case errors.Is(err, engine.ErrContextFull), errors.Is(err, engine.ErrNoKVBlocks):
		return http.StatusBadRequest, mk("invalid_request_error", "context_length_exceeded", err.Error()), ""
	case errors.Is(err, engine.ErrClosed):
		return http.StatusServiceUnavailable, mk("server_error", "shutting_down", "the server is shutting down"), "5"
	default:
		return http.StatusInternalServerError, mk("server_error", "", err.Error()), ""
	}
}

// jsonWriteTimeout bounds the write of a whole JSON answer: a client that does not read it is dropped.
const jsonWriteTimeout = 30 * time.Second

func writeJSON(w http.ResponseWriter, status int, v any) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(jsonWriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// admitted takes a place among the requests being prepared, or answers 503; release gives it back.
func (s *Server) admitted(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case s.prep <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-s.prep }) }, true
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "server_error", "server_busy", "the server is busy preparing other requests: retry after a second")
		return nil, false
	}
}
