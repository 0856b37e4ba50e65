package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeCommand: llamago serve answers 503 on /health until the model is loaded, then serves a
// completion, and stops cleanly on the signal (as SIGTERM does), letting a request in flight finish.
func TestServeCommand(t *testing.T) {
	var o serveOptions
	o.Port, o.Host, o.Parallel, o.Queue, o.Drain, o.MaxBodyMB, o.Batch = 0, "127.0.0.1", 2, 4, time.Minute, 1, 512
	sv := startServe(o)
	stop, done := sv.stop, sv.done
	base := "http://" + sv.addr.String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err != nil {
			select {
			case err := <-done:
				t.Fatalf("serve ended: %v", err)
			default:
			}
		}
		require.NoError(t, err)
		var health map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			require.Equal(t, map[string]string{"status": "ok", "backend": "cpu"}, health, "health says what computes")
			break
		}
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.True(t, time.Now().Before(deadline), "the model never became ready")
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}`))
	require.NoError(t, err)
	var body struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, ", there was a little girl", body.Choices[0].Text)

	// Chat through the ChatML fallback (stories260K has no chat template).
	resp, err = http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// A streamed request in flight when the signal comes still ends normally.
	resp, err = http.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "Once upon a time", "max_tokens": 300, "ignore_eos": true, "stream": true}`))
	require.NoError(t, err)
	close(stop)
	var all bytes.Buffer
	_, err = all.ReadFrom(resp.Body)
	resp.Body.Close()
	require.NoError(t, err, "reading the stream in flight (got %d bytes)", all.Len())
	require.True(t, strings.HasSuffix(all.String(), "data: [DONE]\n\n"), "the stream finished: %q", all.String()[max(0, all.Len()-200):])
	require.NoError(t, <-done)
	log := sv.log()
	require.Contains(t, log, "stopped")
	require.Contains(t, log, "chat_template=chatml", "the ready line names the template in use (stories260K has none)")
}

// servedCmd is runServe started by startServe: the address it listens on, its stop signal, its result,
// and what it logged.
type servedCmd struct {
	addr  net.Addr
	stop  chan struct{}
	force chan struct{}
	done  chan error
	mu    sync.Mutex
	buf   bytes.Buffer
}

func (s *servedCmd) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// startServe runs runServe on o (the built-in model when o has none, the flags' defaults for the backend)
// until its address is known.
func startServe(o serveOptions) *servedCmd {
	s := &servedCmd{stop: make(chan struct{}), force: make(chan struct{}), done: make(chan error, 1)}
	addr := make(chan net.Addr, 1)
	o.Backend, o.GPULay = "auto", -1 // the flags' defaults
	o.listenHook = func(a net.Addr) { addr <- a }
	o.stop, o.force = s.stop, s.force
	go func() {
		w := &lockedWriter{w: &s.buf, mu: &s.mu}
		err := o.useDefaultModel(o.noteWriter(w))
		if err == nil {
			err = runServe(w, o)
		}
		s.done <- err
	}()
	select {
	case s.addr = <-addr:
	case err := <-s.done:
		s.done <- err // runServe ended before listening: the caller's receive reports it
	}
	return s
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestServeFlagErrors(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--port 70000", "--port"},
		{"--parallel 0", "--parallel"},
		{"--queue 0", "--queue"},
		{"--max-body-mb 0", "--max-body-mb"},
		{"--parallel 8 --step-tokens 4", "--step-tokens"},
		{"model.gguf", "give it with -m"},
		{"--cors https://app.example.com/", "an origin has no path"},
		{"--cors app.example.com", "an origin is scheme://host"},
		{"--cors ,", "an origin is scheme://host"},
		{"--kv-type q4_0", "--kv-type"},
		{"--activations 4", "--activations must be 16"},
	} {
		_, stderr, code := run(t, append([]string{"serve"}, strings.Fields(c.args)...)...)
		require.Equal(t, 2, code, c.args)
		require.Contains(t, stderr, c.want, c.args)
		require.NotContains(t, stderr, "listening", "%s: refused before the server listens", c.args)
		require.NotContains(t, stderr, "no -m given", "%s: refused before the default model's note", c.args)
	}
	_, stderr, code := run(t, "serve", "-m", filepath.Join(t.TempDir(), "nope.gguf"))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "nope.gguf")
	require.NotContains(t, stderr, "listening", "a missing model file is reported before the server listens")
}

// TestServeQuietPortZero: with -q the listening line is hidden, except when --port 0 chose the port.
func TestServeQuietPortZero(t *testing.T) {
	var o serveOptions
	o.Port, o.Host, o.Parallel, o.Queue, o.Drain, o.MaxBodyMB, o.Batch, o.Quiet = 0, "127.0.0.1", 1, 1, time.Second, 1, 64, true
	sv := startServe(o)
	require.NotNil(t, sv.addr, "serve listened")
	close(sv.stop)
	err := <-sv.done
	require.True(t, err == nil || errors.Is(err, errInterrupted), "%v", err)
	log := sv.log()
	require.Contains(t, log, "http://"+sv.addr.String())
	require.NotContains(t, log, "listening; loading the model", "-q still hides the other lines")
}

// TestChatTemplateFile: --chat-template-file replaces the model's chat template (with the model's special
// tokens), and one that cannot be read or compiled is a usage error naming the file, for serve and chat.
func TestChatTemplateFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jinja")
	require.NoError(t, os.WriteFile(good, []byte("{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"), 0o644))
	var o serveOptions
	o.Parallel, o.Queue, o.Batch, o.Backend, o.GPULay = 1, 1, 512, "auto", -1
	o.ChatTemplateFile = good
	require.NoError(t, o.useDefaultModel(io.Discard))
	require.NoError(t, o.prepare())
	lm, m, err := o.load(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer lm.Close()
	defer m.Scheduler.Close()
	out, err := m.Chat(json.RawMessage(`[{"role": "user", "content": "Hi"}]`), nil)
	require.NoError(t, err)
	require.Equal(t, "<s>[user] Hi\n[assistant]", out, "the file's template, not the ChatML fallback")

	bad := filepath.Join(dir, "bad.jinja")
	require.NoError(t, os.WriteFile(bad, []byte("{% for m in messages %}{{ m.content }"), 0o644))
	for _, cmd := range []string{"serve", "chat"} {
		for _, c := range []struct{ file, want string }{{bad, bad}, {filepath.Join(dir, "missing.jinja"), "missing.jinja"}} {
			_, stderr, code := run(t, cmd, "--chat-template-file", c.file)
			require.Equal(t, 2, code, "%s %s: %s", cmd, c.file, stderr)
			require.Contains(t, stderr, c.want)
			require.Contains(t, stderr, "--chat-template-file")
		}
	}
}

// TestUnknownCommandIsUsage: a mistyped command is a usage error (2), like a mistyped flag.
func TestUnknownCommandIsUsage(t *testing.T) {
	_, stderr, code := run(t, "serv")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown command "serv"`)
}

// TestServeSecondSignal: a second signal during the drain ends the requests in flight at once, each stream
// with an error event rather than a cut connection.
func TestServeSecondSignal(t *testing.T) {
	var o serveOptions
	o.Port, o.Host, o.Parallel, o.Queue, o.Drain, o.MaxBodyMB, o.Batch = 0, "127.0.0.1", 1, 1, time.Minute, 1, 64
	sv := startServe(o)
	base := "http://" + sv.addr.String()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 5*time.Millisecond)
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "Once upon a time", "max_tokens": 100000, "ignore_eos": true, "stream": true}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	line := make([]byte, 6)
	_, err = io.ReadFull(resp.Body, line) // the stream has begun
	require.NoError(t, err)
	close(sv.stop)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	close(sv.force)
	rest, _ := io.ReadAll(resp.Body)
	require.NoError(t, <-sv.done)
	require.Less(t, time.Since(start), 10*time.Second, "the drain of a minute ended at the second signal")
	require.Contains(t, string(rest), `data: {"error":{`, "the stream ends with an error event: %q", string(rest[max(0, len(rest)-300):]))
	t.Logf("the stream ended with %q", string(rest[max(0, len(rest)-200):]))
	require.Contains(t, sv.log(), "a second signal: ending the requests in flight now")
}

// TestServeLogJSON: with --log-json every line of the log is a JSON object, the built-in model's note too.
func TestServeLogJSON(t *testing.T) {
	var o serveOptions
	o.Port, o.Host, o.Parallel, o.Queue, o.Drain, o.MaxBodyMB, o.Batch, o.LogJSON = 0, "127.0.0.1", 1, 1, time.Second, 1, 64, true
	sv := startServe(o)
	require.NotNil(t, sv.addr)
	close(sv.stop)
	err := <-sv.done
	require.True(t, err == nil || errors.Is(err, errInterrupted), "%v", err)
	log := strings.TrimSpace(sv.log())
	require.Contains(t, log, "no -m given")
	for _, line := range strings.Split(log, "\n") {
		require.True(t, json.Valid([]byte(line)), "not JSON: %q", line)
	}
}
