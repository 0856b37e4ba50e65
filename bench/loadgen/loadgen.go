package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// prompts are the fixed story openings; request i sends prompts[i % len(prompts)] with seed Seed+i.
var prompts = []string{
	"Once upon a time, in a small village at the edge of a forest,",
	"The old lighthouse keeper climbed the stairs one last time and",
	"On the first day of school, Mia found a tiny dragon in her backpack.",
	"The rain had not stopped for three days when the knock came at the door.",
	"Tom and his dog walked to the river to see",
	"Far beneath the sea, a little fish dreamed of",
	"The robot woke up in an empty library and",
	"Every night the moon told the owl a secret, and tonight",
}

// Config is one load run.
type Config struct {
	URL         string  // the server's base URL (http://127.0.0.1:8080)
	Model       string  // the "model" of each request; empty: the server's
	Requests    int     // requests per client level
	Clients     []int   // the concurrent clients of each level, run in turn
	MaxTokens   int     // max_tokens of each request
	Temperature float64 // 0: greedy, and every level's answers are checked against the first's
	IgnoreEOS   bool    // generate exactly MaxTokens (checked against the usage)
	Seed        int64   // request i has seed Seed+i
	Warmup      int     // requests sent one at a time before the levels, not measured
	Timeout     time.Duration
	AllowRemote bool
	Client      *http.Client // default: a client for this run (no proxy)
	Progress    io.Writer    // a line per level; nil: none
}

// Level is the outcome of one client level.
type Level struct {
	Clients      int      `json:"clients"`
	Requests     int      `json:"requests"`
	Completed    int      `json:"completed"` // requests that ended without error
	Tokens       int      `json:"tokens"`    // generated tokens of the completed requests
	WallSeconds  float64  `json:"wall_s"`
	TokensPerSec float64  `json:"tokens_per_second"`
	Speedup      *float64 `json:"speedup_vs_1_client"` // null when no 1-client level ran
	TTFTp50      float64  `json:"ttft_p50_ms"`
	TTFTp99      float64  `json:"ttft_p99_ms"`
	ITLp50       float64  `json:"itl_p50_ms"`
	ITLp99       float64  `json:"itl_p99_ms"`
	Errors       int      `json:"errors"`     // failed requests and answers that differ from another level's
	Mismatches   int      `json:"mismatches"` // of Errors: greedy answers unlike the same request's at another level
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// Report is a whole run.
type Report struct {
	URL         string    `json:"url"`
	Model       string    `json:"model,omitempty"`
	Requests    int       `json:"requests"`
	MaxTokens   int       `json:"max_tokens"`
	Temperature float64   `json:"temperature"`
	IgnoreEOS   bool      `json:"ignore_eos"`
	Checked     bool      `json:"answers_checked"` // greedy: request i's text compared across levels
	Start       time.Time `json:"start"`
	Levels      []Level   `json:"levels"`
}

// Errors is the number of errors over all levels.
func (r *Report) Errors() int {
	n := 0
	for _, l := range r.Levels {
		n += l.Errors
	}
	return n
}

// result is one request's measurements.
type result struct {
	index  int
	text   string
	tokens int             // from the usage, or the number of text chunks when the server gave none
	ttft   time.Duration   // send to the first chunk with text
	itls   []time.Duration // between consecutive chunks with text
	err    error
}

// checkURL refuses what this tool must not load: a URL that is not http(s), or a host beyond loopback
// unless allowed. Loopback is localhost or a loopback IP literal; other names are not resolved.
func checkURL(raw string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: need http:// or https://", raw)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("-url %q has no host", raw)
	}
	if !allowRemote && !isLoopback(host) {
		return nil, fmt.Errorf("-url %q is not on loopback: this tool loads a server hard, so it only targets 127.0.0.1, ::1 or localhost unless -allow-remote is given", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validate() error {
	switch {
	case c.Requests < 1:
		return fmt.Errorf("-requests must be at least 1, got %d", c.Requests)
	case len(c.Clients) == 0:
		return errors.New("-clients needs at least one level")
	case c.MaxTokens < 1:
		return fmt.Errorf("-max-tokens must be at least 1, got %d", c.MaxTokens)
	case !(c.Temperature >= 0 && c.Temperature <= 2):
		return fmt.Errorf("-temperature must be in [0, 2], got %g", c.Temperature)
	case c.Warmup < 0:
		return fmt.Errorf("-warmup must be ≥ 0, got %d", c.Warmup)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive, got %s", c.Timeout)
	}
	for _, n := range c.Clients {
		if n < 1 || n > 1024 {
			return fmt.Errorf("-clients: each level must be in [1, 1024], got %d", n)
		}
	}
	return nil
}

// Run sends the configured load and measures it. The error is for a run that could not be made (bad
// configuration, server not ready); failed requests are counted in the report instead. A run cut by the
// overall timeout reports the levels it measured and returns the timeout.
func Run(ctx context.Context, c Config) (*Report, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	base, err := checkURL(c.URL, c.AllowRemote)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	hc := c.Client
	if hc == nil {
		most := 0
		for _, n := range c.Clients {
			most = max(most, n)
		}
		// Proxy nil: the environment's proxy settings must not send loopback load elsewhere.
		tr := &http.Transport{Proxy: nil, MaxIdleConns: most, MaxIdleConnsPerHost: most, DisableCompression: true,
			IdleConnTimeout: 30 * time.Second}
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr}
	}
	g := &gen{c: c, hc: hc, endpoint: base.JoinPath("/v1/completions").String()}
	if err := g.health(ctx, base.JoinPath("/health").String()); err != nil {
		return nil, err
	}
	rep := &Report{URL: base.String(), Model: c.Model, Requests: c.Requests, MaxTokens: c.MaxTokens,
		Temperature: c.Temperature, IgnoreEOS: c.IgnoreEOS, Checked: c.Temperature == 0, Start: time.Now()}
	for i := range c.Warmup {
		if r := g.do(ctx, i); r.err != nil {
			return nil, fmt.Errorf("warm-up request %d: %w", i, r.err)
		}
	}
	ref := newChecker(c.Requests)
	var one *Level
	for _, n := range c.Clients {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "loadgen: %d clients, %d requests of %d tokens...\n", n, c.Requests, c.MaxTokens)
		}
		l := g.level(ctx, n, ref, rep.Checked)
		if n == 1 && one == nil {
			one = &l
		}
		rep.Levels = append(rep.Levels, l)
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "loadgen: %d clients: %.2f tokens/s, %d errors, %.1f s\n", n, l.TokensPerSec, l.Errors, l.WallSeconds)
		}
		if ctx.Err() != nil {
			return rep, fmt.Errorf("the overall -timeout of %s ran out during the %d-client level", c.Timeout, n)
		}
	}
	if one != nil && one.TokensPerSec > 0 {
		for i := range rep.Levels {
			s := rep.Levels[i].TokensPerSec / one.TokensPerSec
			rep.Levels[i].Speedup = &s
		}
	}
	return rep, nil
}

// gen sends requests.
type gen struct {
	c        Config
	hc       *http.Client
	endpoint string
}

// health checks once that the server answers /health with 200.
func (g *gen) health(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the server is not reachable: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s: the server is not ready (wait until /health is 200)", u, resp.Status)
	}
	return nil
}

// level sends c.Requests requests from n clients, each taking the next request index when it is free.
func (g *gen) level(ctx context.Context, n int, ref *checker, check bool) Level {
	results := make([]result, g.c.Requests)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(results) {
					return
				}
				results[i] = g.do(ctx, i)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	l := Level{Clients: n, Requests: len(results), WallSeconds: wall.Seconds()}
	var ttfts, itls []time.Duration
	fail := func(i int, err error) {
		l.Errors++
		if len(l.ErrorSamples) < 5 {
			l.ErrorSamples = append(l.ErrorSamples, fmt.Sprintf("request %d: %v", i, err))
		}
	}
	for i, r := range results {
		if r.err != nil {
			fail(i, r.err)
			continue
		}
		l.Completed++
		l.Tokens += r.tokens
		ttfts = append(ttfts, r.ttft)
		itls = append(itls, r.itls...)
		if g.c.IgnoreEOS && r.tokens != g.c.MaxTokens {
			fail(i, fmt.Errorf("generated %d tokens with ignore_eos, not max_tokens %d", r.tokens, g.c.MaxTokens))
		}
		if check {
			if err := ref.check(i, n, r.text); err != nil {
				l.Mismatches++
				fail(i, err)
			}
		}
	}
	if wall > 0 {
		l.TokensPerSec = float64(l.Tokens) / wall.Seconds()
	}
	t, it := millis(ttfts), millis(itls)
	l.TTFTp50, l.TTFTp99 = percentile(t, 50), percentile(t, 99)
	l.ITLp50, l.ITLp99 = percentile(it, 50), percentile(it, 99)
	return l
}

// do sends request i and reads its stream.
func (g *gen) do(ctx context.Context, i int) (r result) {
	r.index = i
	body := map[string]any{
		"prompt":         prompts[i%len(prompts)],
		"max_tokens":     g.c.MaxTokens,
		"temperature":    g.c.Temperature,
		"seed":           g.c.Seed + int64(i),
		"stream":         true,
		"stream_options": map[string]bool{"include_usage": true},
		"ignore_eos":     g.c.IgnoreEOS,
	}
	if g.c.Model != "" {
		body["model"] = g.c.Model
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.endpoint, bytes.NewReader(b))
	if err != nil {
		r.err = err
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	sent := time.Now()
	resp, err := g.hc.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		r.err = fmt.Errorf("status %s: %s", resp.Status, bytes.TrimSpace(msg))
		return r
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		r.err = fmt.Errorf("the answer is %q, not an event stream", ct)
		return r
	}
	var text strings.Builder
	var last time.Time
	chunks, usage := 0, -1
	err = readEvents(resp.Body, func(data []byte) error {
		now := time.Now()
		c, err := parseChunk(data)
		if err != nil {
			return err
		}
		if c.Usage != nil {
			usage = c.Usage.CompletionTokens
		}
		t := c.text()
		if t == "" {
			return nil
		}
		if chunks == 0 {
			r.ttft = now.Sub(sent)
		} else {
			r.itls = append(r.itls, now.Sub(last))
		}
		last = now
		chunks++
		text.WriteString(t)
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		r.err = err
		return r
	}
	if chunks == 0 {
		r.err = errors.New("the stream carried no text")
		return r
	}
	r.text, r.tokens = text.String(), chunks
	if usage >= 0 {
		r.tokens = usage
	}
	return r
}

// checker holds each request's first answer (greedy decoding: every level must give the same text).
type checker struct {
	mu    sync.Mutex
	texts []string
	from  []int // the level (clients) that gave texts[i]; 0: none yet
}

func newChecker(n int) *checker { return &checker{texts: make([]string, n), from: make([]int, n)} }

// check records request i's text from the level with the given clients, or compares it with the text
// recorded before.
func (c *checker) check(i, clients int, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.from[i] == 0 {
		c.texts[i], c.from[i] = text, clients
		return nil
	}
	if want := c.texts[i]; text != want {
		at := 0
		for at < min(len(text), len(want)) && text[at] == want[at] {
			at++
		}
		return fmt.Errorf("greedy answer differs from the %d-client level's at byte %d: %.40q vs %.40q",
			c.from[i], at, text[at:], want[at:])
	}
	return nil
}
