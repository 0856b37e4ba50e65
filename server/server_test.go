package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/defaultmodel"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// testServer serves the built-in stories260K model on loopback.
type testServer struct {
	*httptest.Server
	srv   *Server
	model *Model
	key   string
}

type serverConfig struct {
	parallel, queue, ctx int
	key                  string
	chat                 func(messages, tools json.RawMessage) (string, error)
	noModel              bool
	maxBody              int64 // request body limit (default 64 KiB)
	heartbeat            time.Duration
	eos                  int // the model's end-of-sequence token, when not its own (1: BOS, which it generates)
	kvBlocks             int
	cors                 []string
	log                  *lockedBuilder // the server's log (text), when set
}

func newTestServer(t testing.TB, c serverConfig) *testServer {
	t.Helper()
	if c.parallel == 0 {
		c.parallel = 4
	}
	if c.ctx == 0 {
		c.ctx = 512
	}
	path, err := defaultmodel.Path()
	require.NoError(t, err)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	if c.eos != 0 {
		f.Metadata.Set("tokenizer.ggml.eos_token_id", uint32(c.eos))
	}
	b := engine.NewCPU(2)
	em, err := engine.Load(f, b)
	require.NoError(t, err)
	r, err := em.NewRunner(engine.RunnerOptions{Context: c.ctx, Sequences: c.parallel, PrefixCache: true, Blocks: c.kvBlocks})
	require.NoError(t, err)
	sch := engine.NewScheduler(r, engine.SchedulerOptions{MaxQueue: c.queue})
	m := &Model{Name: "stories", Path: path, Engine: em, Scheduler: sch, Context: c.ctx, Chat: c.chat}
	if c.maxBody == 0 {
		c.maxBody = 64 << 10
	}
	o := Options{APIKey: c.key, MaxBodyBytes: c.maxBody, Heartbeat: c.heartbeat, CORSOrigins: c.cors}
	if c.log != nil {
		o.Logger = slog.New(slog.NewTextHandler(c.log, nil))
	}
	srv := New(o)
	if !c.noModel {
		srv.SetModel(m)
	}
	ts := &testServer{Server: httptest.NewServer(srv), srv: srv, model: m, key: c.key}
	t.Cleanup(func() {
		ts.Close()
		sch.Close()
		b.Close()
		f.Close()
	})
	return ts
}

// post sends a JSON body and returns the status, the decoded body and the response's headers.
func (ts *testServer) post(t *testing.T, path string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	resp := ts.do(t, path, body)
	defer resp.Body.Close()
	var out map[string]any
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out), "body: %s", b)
	return resp.StatusCode, out, resp.Header
}

func (ts *testServer) do(t *testing.T, path string, body any) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case nil:
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = strings.NewReader(string(j))
	}
	method := http.MethodPost
	if rd == nil {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if ts.key != "" {
		req.Header.Set("Authorization", "Bearer "+ts.key)
	}
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	return resp
}

// events reads a server-sent event stream: the JSON of every data line up to [DONE] (which must come).
func events(t *testing.T, resp *http.Response) []map[string]any {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		require.True(t, ok, "not an SSE data line: %q", line)
		if data == "[DONE]" {
			return out
		}
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(data), &ev), data)
		out = append(out, ev)
	}
	t.Fatalf("the stream ended without [DONE]: %v", sc.Err())
	return nil
}

func choice(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	cs, ok := body["choices"].([]any)
	require.True(t, ok, "choices: %v", body)
	require.Len(t, cs, 1)
	return cs[0].(map[string]any)
}

const greedyText = ", there was a little girl named Lily. She loved to play outside in the p" // 24 tokens after "Once upon a time"

func TestCompletionPlainAndStreamed(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	status, body, _ := ts.post(t, "/v1/completions", map[string]any{"model": "stories", "prompt": "Once upon a time", "max_tokens": 24, "temperature": 0})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "text_completion", body["object"])
	require.Equal(t, "stories", body["model"])
	require.NotEmpty(t, body["id"])
	c := choice(t, body)
	require.Equal(t, greedyText, c["text"])
	require.Equal(t, "length", c["finish_reason"])
	require.Nil(t, c["logprobs"])
	u := body["usage"].(map[string]any)
	require.EqualValues(t, 5, u["prompt_tokens"]) // BOS and 4 tokens
	require.EqualValues(t, 24, u["completion_tokens"])
	require.EqualValues(t, 29, u["total_tokens"])

	evs := events(t, ts.do(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0,
		"stream": true, "stream_options": map[string]any{"include_usage": true}}))
	var text strings.Builder
	for i, ev := range evs[:len(evs)-2] {
		c := choice(t, ev)
		require.Nil(t, c["finish_reason"], "event %d", i)
		text.WriteString(c["text"].(string))
	}
	fin := choice(t, evs[len(evs)-2])
	require.Equal(t, "length", fin["finish_reason"])
	require.Equal(t, greedyText, text.String(), "streamed text equals the plain one")
	last := evs[len(evs)-1]
	require.Empty(t, last["choices"])
	require.EqualValues(t, 24, last["usage"].(map[string]any)["completion_tokens"])
}

// TestStopStrings: a stop string spread over several tokens (" g", "ir", "l") ends the text before it, in
// plain and streamed answers, and nothing of it is streamed.
func TestStopStrings(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	req := map[string]any{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "stop": []string{"xyz", " girl"}}
	_, body, _ := ts.post(t, "/v1/completions", req)
	c := choice(t, body)
	require.Equal(t, ", there was a little", c["text"])
	require.Equal(t, "stop", c["finish_reason"])
	require.EqualValues(t, 8, body["usage"].(map[string]any)["completion_tokens"], "up to the token that completes the stop string")

	req["stream"] = true
	var text strings.Builder
	for _, ev := range events(t, ts.do(t, "/v1/completions", req)) {
		text.WriteString(choice(t, ev)["text"].(string))
	}
	require.Equal(t, ", there was a little", text.String())

	_, body, _ = ts.post(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "stop": "Lily"})
	require.Equal(t, ", there was a little girl named ", choice(t, body)["text"])
}

// TestLogprobs: the chosen token's log-probability is the top one's under greedy decoding (the same float:
// they differed in the last digits when one came through a float32 log-sum-exp), the top list is sorted and
// as long as asked, in both shapes.
func TestLogprobs(t *testing.T) {
	ts := newTestServer(t, serverConfig{chat: plainChat})
	_, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 6, "temperature": 0, "logprobs": 3})
	lp := choice(t, body)["logprobs"].(map[string]any)
	toks, lps, tops, offs := lp["tokens"].([]any), lp["token_logprobs"].([]any), lp["top_logprobs"].([]any), lp["text_offset"].([]any)
	require.Len(t, toks, 6)
	require.Len(t, lps, 6)
	require.Len(t, tops, 6)
	require.Len(t, offs, 6)
	var joined strings.Builder
	for i := range toks {
		joined.WriteString(toks[i].(string))
		top := tops[i].(map[string]any)
		require.Len(t, top, 3)
		best := -1e9
		for _, v := range top {
			best = max(best, v.(float64))
		}
		require.Equal(t, best, lps[i].(float64), "greedy takes the most likely token, and its value is the same float in both fields")
		require.LessOrEqual(t, lps[i].(float64), 0.0)
	}
	require.Equal(t, choice(t, body)["text"], joined.String())

	_, body, _ = ts.post(t, "/v1/chat/completions", map[string]any{"messages": []any{map[string]any{"role": "user", "content": "Once upon a time"}},
		"max_tokens": 4, "temperature": 0, "logprobs": true, "top_logprobs": 2})
	content := choice(t, body)["logprobs"].(map[string]any)["content"].([]any)
	require.Len(t, content, 4)
	for _, e := range content {
		e := e.(map[string]any)
		top := e["top_logprobs"].([]any)
		require.Len(t, top, 2)
		t0, t1 := top[0].(map[string]any), top[1].(map[string]any)
		require.GreaterOrEqual(t, t0["logprob"].(float64), t1["logprob"].(float64))
		require.Equal(t, t0["logprob"].(float64), e["logprob"].(float64))
		require.Equal(t, t0["token"], e["token"])
		require.Len(t, e["bytes"].([]any), len(e["token"].(string)))
	}
}

// plainChat is a stand-in chat template for the tests: the last user message as the prompt.
func plainChat(messages, tools json.RawMessage) (string, error) {
	var list []struct{ Role, Content string }
	if err := json.Unmarshal(messages, &list); err != nil {
		return "", err
	}
	if list[len(list)-1].Role != "user" {
		return "", fmt.Errorf("the last message must be the user's")
	}
	return list[len(list)-1].Content, nil
}

func TestChatPlainAndStreamed(t *testing.T) {
	ts := newTestServer(t, serverConfig{chat: plainChat})
	req := map[string]any{"model": "stories", "messages": []any{map[string]any{"role": "user", "content": "Once upon a time"}}, "max_tokens": 24, "temperature": 0}
	status, body, _ := ts.post(t, "/v1/chat/completions", req)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "chat.completion", body["object"])
	c := choice(t, body)
	msg := c["message"].(map[string]any)
	require.Equal(t, "assistant", msg["role"])
	require.Equal(t, greedyText, msg["content"])
	require.Equal(t, "length", c["finish_reason"])

	req["stream"] = true
	evs := events(t, ts.do(t, "/v1/chat/completions", req))
	first := choice(t, evs[0])["delta"].(map[string]any)
	require.Equal(t, "assistant", first["role"])
	var text strings.Builder
	for _, ev := range evs[1 : len(evs)-1] {
		require.Equal(t, "chat.completion.chunk", ev["object"])
		text.WriteString(choice(t, ev)["delta"].(map[string]any)["content"].(string))
	}
	require.Equal(t, greedyText, text.String())
	fin := choice(t, evs[len(evs)-1])
	require.Equal(t, "length", fin["finish_reason"])
	require.Empty(t, fin["delta"])

	status, body, _ = ts.post(t, "/v1/chat/completions", map[string]any{"messages": []any{map[string]any{"role": "assistant", "content": "x"}}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body["error"].(map[string]any)["message"], "the last message must be the user's")
}

// TestConcurrentGreedyMatchesSequential: 8 greedy requests sent together (more than run at once) get the
// answers they get one at a time.
func TestConcurrentGreedyMatchesSequential(t *testing.T) {
	ts := newTestServer(t, serverConfig{parallel: 4})
	prompts := []string{"Once upon a time", "The cat sat on the mat", "Lily and Tom", "One day", "The sun was", "A little dog", "She saw a", "They went to the park"}
	ask := func(p string) string {
		status, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": p, "max_tokens": 32, "temperature": 0})
		require.Equal(t, http.StatusOK, status, "%v", body)
		return choice(t, body)["text"].(string)
	}
	alone := make([]string, len(prompts))
	for i, p := range prompts {
		alone[i] = ask(p)
	}
	together := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() { together[i] = ask(p) })
	}
	wg.Wait()
	require.Equal(t, alone, together)
}

// TestCancelFreesSlot: a client that goes away mid-stream ends its request at once, and the only slot
// serves the next request.
func TestCancelFreesSlot(t *testing.T) {
	ts := newTestServer(t, serverConfig{parallel: 1, ctx: 2048})
	ctx, cancel := context.WithCancel(context.Background())
	j, _ := json.Marshal(map[string]any{"prompt": "Once upon a time", "max_tokens": 2000, "ignore_eos": true, "stream": true})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/completions", strings.NewReader(string(j)))
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	rd := bufio.NewReader(resp.Body)
	_, err = rd.ReadString('\n') // the first event: the request is generating
	require.NoError(t, err)
	cancel()
	resp.Body.Close()
	waitFor(t, "the cancelled request ends", func() bool { return ts.model.Scheduler.Stats().Running == 0 })
	gen := metricValue(t, ts, "llamago_generated_tokens_total")
	require.Less(t, gen, 2000.0, "the request was cut short")
	status, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, greedyText, choice(t, body)["text"])
	waitFor(t, "the request is counted as 499", func() bool {
		return metricValue(t, ts, `llamago_requests_total{endpoint="/v1/completions",status="499"}`) == 1
	})
}

// metricValue reads one series from /metrics, parsed as Prometheus text.
func metricValue(t *testing.T, ts *testServer, series string) float64 {
	t.Helper()
	resp := ts.do(t, "/metrics", nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "/metrics parses as Prometheus text")
	name, labels, _ := strings.Cut(series, "{")
	fam, ok := fams[name]
	require.True(t, ok, "no metric %s", name)
	for _, m := range fam.Metric {
		var got []string
		for _, l := range m.Label {
			got = append(got, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		if strings.Join(got, ",")+"}" != labels && labels != "" {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	ts.post(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0})
	require.Equal(t, 8.0, metricValue(t, ts, "llamago_generated_tokens_total"))
	require.Equal(t, 5.0, metricValue(t, ts, "llamago_prompt_tokens_total"))
	require.Equal(t, 1.0, metricValue(t, ts, `llamago_requests_total{endpoint="/v1/completions",status="200"}`))
	require.Equal(t, 4.0, metricValue(t, ts, "llamago_max_sequences"))
	require.Equal(t, 0.0, metricValue(t, ts, "llamago_queue_length"))
	require.Equal(t, 1.0, metricValue(t, ts, "llamago_ready"))
	for _, h := range []string{"llamago_time_to_first_token_seconds", "llamago_inter_token_latency_seconds", "llamago_kv_blocks_in_use", "llamago_active_sequences", "llamago_kv_blocks_total"} {
		resp := ts.do(t, "/metrics", nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(t, string(b), h)
	}
}

func TestHealthWhileLoading(t *testing.T) {
	ts := newTestServer(t, serverConfig{noModel: true})
	resp := ts.do(t, "/health", nil)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	status, body, hdr := ts.post(t, "/v1/completions", map[string]any{"prompt": "x"})
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.NotEmpty(t, hdr.Get("Retry-After"))
	require.Equal(t, "model_loading", body["error"].(map[string]any)["code"])
	ts.srv.SetModel(ts.model)
	resp = ts.do(t, "/health", nil)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestModelsAndTokenize(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	status, body, _ := ts.post(t, "/v1/models", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "list", body["object"])
	require.Equal(t, "stories", body["data"].([]any)[0].(map[string]any)["id"])
	status, _, _ = ts.post(t, "/v1/models/stories", nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ts.post(t, "/v1/models/gpt-4", nil)
	require.Equal(t, http.StatusNotFound, status)

	_, body, _ = ts.post(t, "/tokenize", map[string]any{"content": "Once upon a time", "add_special": true})
	ids := body["tokens"].([]any)
	require.Len(t, ids, 5)
	_, body, _ = ts.post(t, "/detokenize", map[string]any{"tokens": ids})
	require.Equal(t, " Once upon a time", body["content"], "SentencePiece pieces as they are: the first word's space too")
	_, body, _ = ts.post(t, "/tokenize", map[string]any{"content": "cat", "with_pieces": true})
	require.NotEmpty(t, body["tokens"].([]any)[0].(map[string]any)["piece"])
}

// TestBadRequests: every kind of bad input gets its status and an OpenAI-style error, and the server goes
// on serving.
func TestBadRequests(t *testing.T) {
	ts := newTestServer(t, serverConfig{chat: plainChat})
	long := strings.Repeat("time ", 600)
	for _, c := range []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		{"malformed JSON", "/v1/completions", `{"prompt": "x",`, 400, "not valid JSON"},
		{"empty body", "/v1/completions", ``, 400, "empty"},
		{"two values", "/v1/completions", `{"prompt":"x"} {}`, 400, "more than one"},
		{"wrong type", "/v1/completions", `{"prompt": "x", "max_tokens": "ten"}`, 400, "max_tokens"},
		{"no prompt", "/v1/completions", `{}`, 400, "prompt is required"},
		{"empty prompt", "/v1/completions", `{"prompt": ""}`, 400, "empty"},
		{"two prompts", "/v1/completions", `{"prompt": ["a", "b"]}`, 400, "one string"},
		{"token out of vocabulary", "/v1/completions", `{"prompt": [1, 99999]}`, 400, "outside the vocabulary"},
		{"n", "/v1/completions", `{"prompt": "x", "n": 2}`, 400, "n must be 1"},
		{"temperature", "/v1/completions", `{"prompt": "x", "temperature": 3}`, 400, "temperature"},
		{"top_p", "/v1/completions", `{"prompt": "x", "top_p": 0}`, 400, "top_p"},
		{"max_tokens", "/v1/completions", `{"prompt": "x", "max_tokens": 0}`, 400, "max_tokens"},
		{"logprobs", "/v1/completions", `{"prompt": "x", "logprobs": 21}`, 400, "logprobs"},
		{"presence", "/v1/completions", `{"prompt": "x", "presence_penalty": 1}`, 400, "presence_penalty"},
		{"empty stop", "/v1/completions", `{"prompt": "x", "stop": [""]}`, 400, "stop"},
		{"stop type", "/v1/completions", `{"prompt": "x", "stop": 3}`, 400, "stop"},
		{"stream_options alone", "/v1/completions", `{"prompt": "x", "stream_options": {"include_usage": true}}`, 400, "stream_options"},
		{"unknown model", "/v1/completions", `{"prompt": "x", "model": "gpt-4"}`, 404, "does not exist"},
		{"prompt over the context", "/v1/completions", map[string]any{"prompt": long}, 400, "context"},
		{"body too large", "/v1/completions", map[string]any{"prompt": strings.Repeat("a", 70<<10)}, 413, "larger than"},
		{"no messages", "/v1/chat/completions", `{"messages": []}`, 400, "messages"},
		{"message without role", "/v1/chat/completions", `{"messages": [{"content": "x"}]}`, 400, "role"},
		{"unknown role", "/v1/chat/completions", `{"messages": [{"role": "asistant", "content": "x"}]}`, 400, `role is "asistant"`},
		{"message without content", "/v1/chat/completions", `{"messages": [{"role": "user"}]}`, 400, "has no \"content\""},
		{"null content", "/v1/chat/completions", `{"messages": [{"role": "system", "content": null}, {"role": "user", "content": "x"}]}`, 400, "messages[0] (system)"},
		{"assistant without content or calls", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant"}]}`, 400, "messages[1]"},
		{"assistant with an empty call list", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": []}]}`, 400, "messages[1]"},
		{"assistant with calls that are not a list", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": {}}]}`, 400, "messages[1]"},
		{"top_logprobs without logprobs", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}`, 400, "logprobs"},
		{"unknown route", "/v2/nothing", `{}`, 404, "no route"},
		{"tokenize without content", "/tokenize", `{}`, 400, "content"},
		{"detokenize out of vocabulary", "/detokenize", `{"tokens": [-1]}`, 400, "outside"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := ts.post(t, c.path, c.body)
			require.Equal(t, c.status, status, "%v", body)
			e, ok := body["error"].(map[string]any)
			require.True(t, ok, "an OpenAI-style error object: %v", body)
			require.Contains(t, e["message"], c.want)
			require.NotEmpty(t, e["type"])
		})
	}
	// A field's path as the client wrote it, not through the Go struct that embeds it.
	_, body, _ := ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}`)
	require.Equal(t, "max_tokens", body["error"].(map[string]any)["param"], "%v", body)
	require.NotContains(t, body["error"].(map[string]any)["message"], "samplingFields")
	// OpenAI's older function calling: an assistant's function_call and a "function" role's result.
	status, body, _ := ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": "{}"}}, {"role": "function", "name": "f", "content": "2"}, {"role": "user", "content": "y"}], "max_tokens": 1}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	// An assistant message may leave content out when it carries tool calls.
	status, body, _ = ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "1", "content": "2"}, {"role": "user", "content": "y"}], "max_tokens": 1}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, _, _ = ts.post(t, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 2})
	require.Equal(t, http.StatusOK, status, "still serving")
}

// TestCORS: with CORSOrigins a page of an allowed origin may call the API from a browser — the preflight
// allows POST with the Authorization and Content-Type headers, the answer carries the origin — and a page
// of another origin gets no such headers; without the option no response carries them and OPTIONS is 405.
func TestCORS(t *testing.T) {
	send := func(ts *testServer, method, origin string) *http.Response {
		req, _ := http.NewRequest(method, ts.URL+"/v1/chat/completions", nil)
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, ts.URL+"/v1/completions", strings.NewReader(`{"prompt": "Once", "max_tokens": 1}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer k")
		}
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, x-stainless-os, openai-organization")
		}
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	ts := newTestServer(t, serverConfig{key: "k", cors: []string{"https://app.example.com"}})
	pre := send(ts, http.MethodOptions, "https://app.example.com")
	require.Equal(t, http.StatusNoContent, pre.StatusCode)
	require.Equal(t, "https://app.example.com", pre.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "POST", pre.Header.Get("Access-Control-Allow-Methods"))
	require.Equal(t, "authorization, content-type, x-stainless-os, openai-organization", strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "the headers the OpenAI SDKs send")
	require.Empty(t, pre.Header.Get("Access-Control-Allow-Credentials"))
	post := send(ts, http.MethodPost, "https://app.example.com")
	require.Equal(t, http.StatusOK, post.StatusCode)
	require.Equal(t, "https://app.example.com", post.Header.Get("Access-Control-Allow-Origin"))
	other := send(ts, http.MethodPost, "https://evil.example")
	require.Empty(t, other.Header.Get("Access-Control-Allow-Origin"))
	require.Empty(t, send(ts, http.MethodOptions, "https://evil.example").Header.Get("Access-Control-Allow-Origin"))

	plain := newTestServer(t, serverConfig{key: "k"})
	require.Empty(t, send(plain, http.MethodPost, "https://app.example.com").Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, http.StatusMethodNotAllowed, send(plain, http.MethodOptions, "https://app.example.com").StatusCode)
}

func TestAPIKey(t *testing.T) {
	ts := newTestServer(t, serverConfig{key: "s3cret"})
	for _, c := range []struct {
		header string
		status int
	}{{"", 401}, {"Bearer wrong", 401}, {"s3cret", 401}, {"Basic s3cret", 401}, {"Bearer s3cret", 200}} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/completions", strings.NewReader(`{"prompt": "Once", "max_tokens": 2}`))
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, c.status, resp.StatusCode, "Authorization: %q", c.header)
	}
	for _, open := range []string{"/health", "/metrics"} {
		resp, err := ts.Client().Get(ts.URL + open)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, open)
	}
	resp, err := ts.Client().Get(ts.URL + "/v1/models")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestQueueFull: with one slot and a queue of one, a third concurrent request gets 503 with Retry-After.
func TestQueueFull(t *testing.T) {
	ts := newTestServer(t, serverConfig{parallel: 1, queue: 1, ctx: 2048})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	background := func() { // a long request, read to its end
		j, _ := json.Marshal(map[string]any{"prompt": "Once upon a time", "max_tokens": 2000, "ignore_eos": true, "stream": true})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/completions", strings.NewReader(string(j)))
		wg.Go(func() {
			resp, err := ts.Client().Do(req)
			if err != nil {
				return // cancelled at the end of the test
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("background request: status %d", resp.StatusCode)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	background()
	waitFor(t, "the first request runs", func() bool { return ts.model.Scheduler.Stats().Running == 1 })
	background()
	waitFor(t, "the second request waits", func() bool { return ts.model.Scheduler.Stats().Waiting == 1 })
	status, body, hdr := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 2})
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	require.Equal(t, "1", hdr.Get("Retry-After"))
	require.Equal(t, "queue_full", body["error"].(map[string]any)["code"])
	m := ts.do(t, "/metrics", nil)
	metrics, err := io.ReadAll(m.Body)
	m.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), `llamago_request_errors_total{code="queue_full"} 1`, "the 503s are told apart")
	cancel()
	wg.Wait()
}

// waitFor polls cond in the test's goroutine for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

func TestFlattenContent(t *testing.T) {
	in := `[{"role":"system","content":"be brief"},{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"role":"user","name":"x"}]`
	out, err := flattenContent(json.RawMessage(in))
	require.NoError(t, err)
	require.JSONEq(t, `[{"role":"system","content":"be brief"},{"content":"a\nb","role":"user","name":"x"}]`, string(out))
	require.Less(t, strings.Index(string(out), `"content":"a\nb"`), strings.Index(string(out), `"role":"user"`), "key order kept")
	_, err = flattenContent(json.RawMessage(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]`))
	require.ErrorContains(t, err, "text parts only")
	same := json.RawMessage(`[{"role":"user","content":"hi"}]`)
	out, err = flattenContent(same)
	require.NoError(t, err)
	require.Equal(t, string(same), string(out))
}

// TestChatPassesMessagesAndToolsInOrder: the template sees the request's messages and tools as sent, their
// keys in order (tool schemas must render in the client's order).
func TestChatPassesMessagesAndToolsInOrder(t *testing.T) {
	var gotM, gotT string
	ts := newTestServer(t, serverConfig{chat: func(m, tools json.RawMessage) (string, error) {
		gotM, gotT = string(m), string(tools)
		return "Once upon a time", nil
	}})
	body := `{"messages": [{"role": "user", "content": "hi", "zeta": 1, "alpha": 2}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"z": {}, "a": {}}}}}], "max_tokens": 2}`
	status, resp, _ := ts.post(t, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, status, "%v", resp)
	require.Equal(t, `[{"role": "user", "content": "hi", "zeta": 1, "alpha": 2}]`, gotM)
	require.Equal(t, `[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"z": {}, "a": {}}}}}]`, gotT)
}

// TestReviewFixes: a wrong method gets 405 with Allow, the bearer scheme is case-insensitive, completion
// prompts read special tokens as llama.cpp's server does, and unsupported chat options are refused.
func TestReviewFixes(t *testing.T) {
	ts := newTestServer(t, serverConfig{key: "k", chat: plainChat})
	resp := ts.do(t, "/v1/completions", nil) // GET
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, "POST", resp.Header.Get("Allow"))

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "bearer k")
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Hi</s><s>Once", "max_tokens": 1})
	_, tok, _ := ts.post(t, "/tokenize", map[string]any{"content": "Hi</s><s>Once", "add_special": true, "parse_special": true})
	require.EqualValues(t, len(tok["tokens"].([]any)), body["usage"].(map[string]any)["prompt_tokens"])

	for _, c := range []struct{ body, want string }{
		{`{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}`, "response_format"},
		{`{"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}`, "tool_choice"},
	} {
		status, body, _ := ts.post(t, "/v1/chat/completions", c.body)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body["error"].(map[string]any)["message"], c.want)
	}
	status, _, _ := ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}], "tool_choice": "auto", "response_format": {"type": "text"}, "max_tokens": 1}`)
	require.Equal(t, http.StatusOK, status)
}

// TestTokenizeCap: /tokenize refuses text far past what the context could hold (64 bytes a position, at
// least 256 KiB), before tokenizing it, within a body the server accepts.
func TestTokenizeCap(t *testing.T) {
	ts := newTestServer(t, serverConfig{maxBody: 1 << 20})
	status, body, _ := ts.post(t, "/tokenize", map[string]any{"content": strings.Repeat("a", 300<<10)})
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Contains(t, body["error"].(map[string]any)["message"], "/tokenize takes at most")
	status, _, _ = ts.post(t, "/tokenize", map[string]any{"content": strings.Repeat("a", 200<<10)})
	require.Equal(t, http.StatusOK, status)
}

// catStory is a greedy story that generates BOS (an empty token) as its 163rd token.
var catStory = map[string]any{"prompt": "The cat sat on the mat", "max_tokens": 170, "temperature": 0}

// TestEmptyTokens: a token without text (BOS in mid-stream) makes no chunk of its own, and the token that
// ends the generation is in neither the text nor the logprobs — whatever the stop list.
func TestEmptyTokens(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	_, body, _ := ts.post(t, "/v1/completions", withKeys(catStory, "logprobs", 0))
	toks := choice(t, body)["logprobs"].(map[string]any)["tokens"].([]any)
	require.Len(t, toks, 170)
	require.Equal(t, "", toks[162], "the model generates BOS there")
	plain := choice(t, body)["text"].(string)
	for _, lp := range []bool{false, true} {
		req := withKeys(catStory, "stream", true)
		if lp {
			req["logprobs"] = 0
		}
		var text strings.Builder
		entries := 0
		evs := events(t, ts.do(t, "/v1/completions", req))
		for i, ev := range evs[:len(evs)-1] {
			c := choice(t, ev)
			require.NotEmpty(t, c["text"], "event %d (logprobs %v): a chunk without text", i, lp)
			text.WriteString(c["text"].(string))
			if lp {
				entries += len(c["logprobs"].(map[string]any)["tokens"].([]any))
			}
		}
		require.Equal(t, plain, text.String())
		if lp {
			require.Equal(t, 170, entries, "every token is listed once, BOS with the text after it")
		}
	}

	// The same model with BOS as its end-of-sequence token: the generation stops there.
	ts = newTestServer(t, serverConfig{eos: 1})
	for _, stop := range []any{nil, []string{"zzz", " the moon"}} {
		req := withKeys(catStory, "logprobs", 1)
		req["stop"] = stop
		_, body, _ := ts.post(t, "/v1/completions", req)
		c := choice(t, body)
		require.Equal(t, "stop", c["finish_reason"])
		require.EqualValues(t, 163, body["usage"].(map[string]any)["completion_tokens"], "the stop token is generated")
		lp := c["logprobs"].(map[string]any)
		require.Len(t, lp["tokens"], 162, "stop %v: the stop token is not listed", stop)
		require.Len(t, lp["text_offset"], 162)

		req["stream"] = true
		evs := events(t, ts.do(t, "/v1/completions", req))
		entries := 0
		for i, ev := range evs[:len(evs)-1] {
			c := choice(t, ev)
			require.NotEmpty(t, c["text"], "event %d: a chunk without text", i)
			entries += len(c["logprobs"].(map[string]any)["tokens"].([]any))
		}
		require.Equal(t, 162, entries, "stop %v", stop)
		require.Equal(t, "stop", choice(t, evs[len(evs)-1])["finish_reason"])
	}
}

// withKeys is a copy of req with more keys.
func withKeys(req map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(req)+len(kv)/2)
	for k, v := range req {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestTextOffsetInCharacters: text_offset counts the characters of the generated text before each token,
// as OpenAI does, not its bytes (the sampled story has a curly quote, three bytes in UTF-8).
func TestTextOffsetInCharacters(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	for seed := 0; seed < 200; seed++ {
		_, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 40, "temperature": 1.5, "seed": seed, "logprobs": 0})
		c := choice(t, body)
		text := c["text"].(string)
		if utf8.RuneCountInString(text) == len(text) {
			continue // ASCII: bytes and characters agree
		}
		lp := c["logprobs"].(map[string]any)
		toks, offs := lp["tokens"].([]any), lp["text_offset"].([]any)
		var before strings.Builder
		for i := range toks {
			require.EqualValues(t, utf8.RuneCountInString(before.String()), offs[i], "seed %d, token %d %q in %q", seed, i, toks[i], text)
			before.WriteString(toks[i].(string))
		}
		require.Equal(t, text, before.String())
		return
	}
	t.Fatal("no sampled story with a character beyond ASCII")
}

// TestLateError: a streamed request that fails after the 200 went out (the scheduler closes under it, as
// when --drain runs out) ends with an OpenAI-style error event with its code, and is counted with the
// status it would have had.
func TestLateError(t *testing.T) {
	ts := newTestServer(t, serverConfig{parallel: 1, ctx: 2048})
	resp := ts.do(t, "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 2000, "ignore_eos": true, "stream": true})
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	_, err := rd.ReadString('\n') // generating
	require.NoError(t, err)
	ts.model.Scheduler.Close()
	b, err := io.ReadAll(rd)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n\n")
	data, ok := strings.CutPrefix(lines[len(lines)-1], "data: ")
	require.True(t, ok, "the last event: %q", lines[len(lines)-1])
	var ev struct{ Error apiError }
	require.NoError(t, json.Unmarshal([]byte(data), &ev), data)
	require.Equal(t, "server_error", ev.Error.Type)
	require.NotNil(t, ev.Error.Code, data)
	require.Equal(t, "shutting_down", *ev.Error.Code)
	waitFor(t, "the request is counted as 503", func() bool {
		return metricValue(t, ts, `llamago_requests_total{endpoint="/v1/completions",status="503"}`) == 1
	})
	require.Zero(t, metricValue(t, ts, `llamago_requests_total{endpoint="/v1/completions",status="200"}`))

	status, e, _ := errorFor(fmt.Errorf("%w: the request needs 3 KV blocks, the pool has 2", engine.ErrNoKVBlocks))
	require.Equal(t, http.StatusBadRequest, status, "a pool too small for the request is the client's to shorten")
	require.Equal(t, "context_length_exceeded", *e.Code)
}

// panickingRoPE is the CPU backend with a RoPE that panics: a bug in a scheduler step.
type panickingRoPE struct{ *engine.CPU }

func (panickingRoPE) RoPE(q, k engine.Buffer, pos []int32, heads, kvHeads, headDim int, p engine.RopeParams) error {
	panic("rope bug")
}

// TestHealthFailsAfterAStepPanics: once a bug stops the scheduler, /health answers 500 (so that an
// orchestrator restarts the process) and the failure is logged once, with its stack.
func TestHealthFailsAfterAStepPanics(t *testing.T) {
	path, err := defaultmodel.Path()
	require.NoError(t, err)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b := panickingRoPE{engine.NewCPU(1)}
	defer b.Close()
	em, err := engine.Load(f, b)
	require.NoError(t, err)
	r, err := em.NewRunner(engine.RunnerOptions{Context: 64, Sequences: 1})
	require.NoError(t, err)
	defer r.Close()
	sch := engine.NewScheduler(r, engine.SchedulerOptions{})
	defer sch.Close()
	var log strings.Builder
	var mu sync.Mutex
	srv := New(Options{Logger: slog.New(slog.NewTextHandler(&lockedBuilder{b: &log, mu: &mu}, nil))})
	srv.SetModel(&Model{Name: "stories", Path: path, Engine: em, Scheduler: sch, Context: 64})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	health := func() int {
		resp, err := http.Get(hs.URL + "/health")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, health())
	resp, err := http.Post(hs.URL+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "Once", "max_tokens": 2}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusInternalServerError, health())
	require.Equal(t, http.StatusInternalServerError, health())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, strings.Count(log.String(), "the scheduler stopped on an internal error"), log.String())
	require.Contains(t, log.String(), "panickingRoPE", "the stack is logged")
}

type lockedBuilder struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestSlowUploadsHoldNoPlace: clients that send their bodies slowly (here: never finish) do not take the
// places every request needs while it is prepared, so the others are still served.
func TestSlowUploadsHoldNoPlace(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range cap(ts.srv.prep) + 2 {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = io.WriteString(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
		require.NoError(t, err)
	}
	time.Sleep(50 * time.Millisecond) // the handlers are reading their bodies
	status, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 2})
	require.Equal(t, http.StatusOK, status, "%v", body)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRequestLog: every API request gets an id (X-Request-Id) and one log line with its status and time,
// refusals included with their code; the generation's line carries the same id; the duration histogram
// counts it.
func TestRequestLog(t *testing.T) {
	log := &lockedBuilder{b: &strings.Builder{}, mu: &sync.Mutex{}}
	ts := newTestServer(t, serverConfig{key: "k", log: log})
	resp := ts.do(t, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 2})
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Request-Id")
	require.NotEmpty(t, id)
	ts.key = "wrong"
	status, _, hdr := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once"})
	require.Equal(t, http.StatusUnauthorized, status)
	refused := hdr.Get("X-Request-Id")
	require.NotEqual(t, id, refused)
	lines := log.String()
	require.Regexp(t, `msg=generated request_id=`+id+` `, lines)
	require.Regexp(t, `msg=request request_id=`+id+` method=POST endpoint=/v1/completions status=200 ms=\d+`, lines)
	require.Regexp(t, `msg=request request_id=`+refused+` method=POST endpoint=/v1/completions status=401 ms=\d+ code=invalid_api_key`, lines)
	ts.key = "k"
	m := ts.do(t, "/metrics", nil)
	metrics, err := io.ReadAll(m.Body)
	m.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), `llamago_request_duration_seconds_count{endpoint="/v1/completions"} 2`)
	require.Contains(t, string(metrics), `llamago_request_errors_total{code="invalid_api_key"} 1`)
}

// TestBodyBudget: the bodies being read are bounded in bytes (16 of the largest): past that, 503; a body
// that ends frees its share.
func TestBodyBudget(t *testing.T) {
	ts := newTestServer(t, serverConfig{maxBody: 1024})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range bodyBudgetBodies {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = io.WriteString(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n{")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		status, body, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 1})
		return status == http.StatusServiceUnavailable && strings.Contains(fmt.Sprint(body), "busy reading")
	}, 5*time.Second, 10*time.Millisecond, "the budget is taken by 16 bodies of 1 KiB")
	conns[0].Close()
	require.Eventually(t, func() bool {
		status, _, _ := ts.post(t, "/v1/completions", map[string]any{"prompt": "Once", "max_tokens": 1})
		return status == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond, "a body that ends gives its share back")
}
