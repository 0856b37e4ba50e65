package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/defaultmodel"
	"github.com/llamago/llamago/server"
	"github.com/stretchr/testify/require"
)

// newServer serves the built-in stories260K model on loopback with `parallel` places.
func newServer(t *testing.T, parallel int) *httptest.Server {
	t.Helper()
	path, err := defaultmodel.Path()
	require.NoError(t, err)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	b := engine.NewCPU(2)
	em, err := engine.Load(f, b)
	require.NoError(t, err)
	r, err := em.NewRunner(engine.RunnerOptions{Context: 256, Sequences: parallel, PrefixCache: true})
	require.NoError(t, err)
	sch := engine.NewScheduler(r, engine.SchedulerOptions{})
	srv := server.New(server.Options{})
	srv.SetModel(&server.Model{Name: "stories", Path: path, Engine: em, Scheduler: sch, Context: 256})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		sch.Close()
		b.Close()
		f.Close()
	})
	return ts
}

func TestRunAgainstServer(t *testing.T) {
	ts := newServer(t, 4)
	var progress bytes.Buffer
	c := Config{URL: ts.URL, Requests: 6, Clients: []int{1, 3}, MaxTokens: 12, IgnoreEOS: true, Seed: 1,
		Warmup: 1, Timeout: 2 * time.Minute, Progress: &progress}
	rep, err := Run(context.Background(), c)
	require.NoError(t, err)
	require.Zero(t, rep.Errors(), "%+v", rep.Levels)
	require.True(t, rep.Checked)
	require.Len(t, rep.Levels, 2)
	for i, l := range rep.Levels {
		require.Equal(t, c.Clients[i], l.Clients)
		require.Equal(t, 6, l.Requests)
		require.Equal(t, 6, l.Completed)
		require.Equal(t, 6*12, l.Tokens, "ignore_eos: every request generates max_tokens")
		require.Positive(t, l.TokensPerSec)
		require.Positive(t, l.WallSeconds)
		require.NotNil(t, l.Speedup)
		require.Positive(t, l.TTFTp50)
		require.GreaterOrEqual(t, l.TTFTp99, l.TTFTp50)
		require.Positive(t, l.ITLp50)
		require.GreaterOrEqual(t, l.ITLp99, l.ITLp50)
		require.Zero(t, l.Mismatches)
	}
	require.InDelta(t, 1.0, *rep.Levels[0].Speedup, 1e-12)
	require.Contains(t, progress.String(), "3 clients")

	var md bytes.Buffer
	writeMarkdown(&md, rep)
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	require.Equal(t, "| clients | requests | tokens/s aggregate | speedup vs 1 client | TTFT p50/p99 ms | ITL p50/p99 ms | errors |", lines[2])
	require.Len(t, lines, 6, md.String())
	require.True(t, strings.HasPrefix(lines[4], "| 1 | 6 | "), lines[4])
	require.True(t, strings.HasPrefix(lines[5], "| 3 | 6 | "), lines[5])
	require.True(t, strings.HasSuffix(lines[5], "| 0 |"), lines[5])

	var js bytes.Buffer
	require.NoError(t, writeJSON(&js, rep))
	var back struct {
		Errors int `json:"errors"`
		Levels []struct {
			Clients      int      `json:"clients"`
			TokensPerSec float64  `json:"tokens_per_second"`
			ITLp99       *float64 `json:"itl_p99_ms"`
			Speedup      *float64 `json:"speedup_vs_1_client"`
		} `json:"levels"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &back), js.String())
	require.Zero(t, back.Errors)
	require.Len(t, back.Levels, 2)
	require.Equal(t, 3, back.Levels[1].Clients)
	require.NotNil(t, back.Levels[1].ITLp99)
	require.NotNil(t, back.Levels[1].Speedup)
}

// TestRunCountsFailures: a server that refuses every request gives a report whose every request is an
// error, not a failed run; the command exits 1.
func TestRunCountsFailures(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		http.Error(w, `{"error":{"message":"busy"}}`, http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	rep, err := Run(context.Background(), Config{URL: ts.URL, Requests: 3, Clients: []int{1, 2}, MaxTokens: 4, Timeout: time.Minute})
	require.NoError(t, err)
	require.Equal(t, 6, rep.Errors())
	require.Contains(t, rep.Levels[0].ErrorSamples[0], "503")
	require.Nil(t, rep.Levels[0].Speedup, "no tokens at 1 client: no speed-up")

	var out, errOut bytes.Buffer
	require.Equal(t, 1, run([]string{"-url", ts.URL, "-requests", "2", "-clients", "1", "-warmup", "0", "-q"}, &out, &errOut))
	require.Contains(t, out.String(), "| 1 | 2 | 0.00 | - | - / - | - / - | 2 |")
}

// TestRunStreamCutAndMismatch: a stream that ends before [DONE], and one whose text changes between levels, are errors.
func TestRunStreamCutAndMismatch(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		switch calls.Add(1) {
		case 1: // level 1: a whole answer
			w.Write([]byte("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"b\"}]}\n\n" +
				"data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"))
		case 2: // level 2: another answer
			w.Write([]byte("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"c\"}]}\n\n" +
				"data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"))
		default: // level 3: cut short
			w.Write([]byte("data: {\"choices\":[{\"text\":\"a\"}]}\n\n"))
		}
	}))
	defer ts.Close()
	rep, err := Run(context.Background(), Config{URL: ts.URL, Requests: 1, Clients: []int{1, 1, 1}, MaxTokens: 2, IgnoreEOS: true, Timeout: time.Minute})
	require.NoError(t, err)
	require.Equal(t, 0, rep.Levels[0].Errors)
	require.Equal(t, 1, rep.Levels[1].Mismatches)
	require.Contains(t, rep.Levels[1].ErrorSamples[0], "differs from the 1-client level's at byte 1")
	require.Equal(t, 1, rep.Levels[2].Errors)
	require.Contains(t, rep.Levels[2].ErrorSamples[0], "[DONE]")
	require.InDelta(t, 2.0, rep.Levels[0].TokensPerSec*rep.Levels[0].WallSeconds, 1e-9, "tokens = rate × wall time (up to float rounding)")
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://127.0.0.2/", "http://LOCALHOST:3"} {
		_, err := checkURL(ok, false)
		require.NoError(t, err, ok)
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://example.invalid", "http://0.0.0.0:80", "http://[::]:80", "http://127.0.0.1.nip.test/"} {
		_, err := checkURL(bad, false)
		require.ErrorContains(t, err, "not on loopback", bad)
		_, err = checkURL(bad, true)
		require.NoError(t, err, bad)
	}
	for _, bad := range []string{"ftp://127.0.0.1/", "127.0.0.1:8080", "http://:8080"} {
		_, err := checkURL(bad, true)
		require.Error(t, err, bad)
	}
	// Run refuses before sending anything
	_, err := Run(context.Background(), Config{URL: "http://192.0.2.1:8080", Requests: 1, Clients: []int{1}, MaxTokens: 1, Timeout: time.Second})
	require.ErrorContains(t, err, "not on loopback")
}

func TestChecker(t *testing.T) {
	c := newChecker(2)
	require.NoError(t, c.check(0, 1, "hello world"))
	require.NoError(t, c.check(0, 4, "hello world"))
	require.NoError(t, c.check(1, 4, "other")) // first seen at 4 clients
	err := c.check(0, 8, "hello there")
	require.ErrorContains(t, err, "differs from the 1-client level's at byte 6")
	require.NoError(t, c.check(1, 8, "other"))
	require.Error(t, c.check(1, 16, "othe"))
}

func TestParseListAndFlags(t *testing.T) {
	l, err := parseList(" 1, 4,8 ,16,")
	require.NoError(t, err)
	require.Equal(t, []int{1, 4, 8, 16}, l)
	_, err = parseList("1,x")
	require.Error(t, err)
	_, err = parseList(",")
	require.Error(t, err)

	var out, errOut bytes.Buffer
	require.Equal(t, 2, run([]string{"-url", "http://10.1.2.3:8080"}, &out, &errOut))
	require.Contains(t, errOut.String(), "not on loopback")
	errOut.Reset()
	require.Equal(t, 2, run([]string{"-clients", "0"}, &out, &errOut))
	require.Contains(t, errOut.String(), "-clients")
	require.Empty(t, out.String())
}
