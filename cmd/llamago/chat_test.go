package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llamago/llamago/server"
	"github.com/stretchr/testify/require"
)

// chatRecorder records what a chat run through its test hooks sent and printed.
type chatRecorder struct {
	mu       sync.Mutex
	requests [][]chatTurn
	answers  map[int]string // the text printed for each message, numbered from 1
	ended    int            // turns over
	stdout   bytes.Buffer   // read once the chat has ended
	stderr   bytes.Buffer
	model    atomic.Pointer[server.Model]
}

func (r *chatRecorder) answer(turn int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.answers[turn]
	return a, ok
}

func (r *chatRecorder) errText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

func (r *chatRecorder) endedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

func (r *chatRecorder) sentCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// startChat runs llamago chat with args on stdin, through the command and its flags, with o's hooks
// (its onDelta is called after the recorder's); the channel gets its result.
func startChat(t *testing.T, stdin io.Reader, o *chatOptions, args ...string) (*chatRecorder, <-chan error) {
	t.Helper()
	r := &chatRecorder{answers: map[int]string{}}
	o.sent = func(m []chatTurn) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests = append(r.requests, m)
	}
	then := o.onDelta
	o.onDelta = func(turn int, text string) {
		r.mu.Lock()
		r.answers[turn] += text
		r.mu.Unlock()
		if then != nil {
			then(turn, text)
		}
	}
	o.loaded = func(m *server.Model) { r.model.Store(m) }
	o.ended = func(int) {
		r.mu.Lock()
		r.ended++
		r.mu.Unlock()
	}
	cmd := chatCommand(o)
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(&r.stdout)
	cmd.SetErr(&lockedWriter{w: &r.stderr, mu: &r.mu})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()
	return r, done
}

// chatTest runs llamago chat to its end.
func chatTest(t *testing.T, stdin io.Reader, o *chatOptions, args ...string) (*chatRecorder, error) {
	t.Helper()
	r, done := startChat(t, stdin, o, args...)
	select {
	case err := <-done:
		return r, err
	case <-time.After(120 * time.Second):
		t.Fatal("the chat did not end")
	}
	return nil, nil
}

// waitFor polls ok until it holds, failing the test if the chat ends first or after within.
func waitFor(t *testing.T, done <-chan error, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		select {
		case err := <-done:
			t.Fatalf("the chat ended (%v) while waiting for %s", err, what)
		default:
		}
		require.True(t, time.Now().Before(deadline), "waiting for %s", what)
		time.Sleep(2 * time.Millisecond)
	}
}

// answerLines is what stdout holds for these answers: each one ends with a newline.
func answerLines(answers ...string) string {
	var b strings.Builder
	for _, a := range answers {
		b.WriteString(a)
		if !strings.HasSuffix(a, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestChatPiped: through the CLI, piped messages give the answers on stdout and nothing else, the same
// ones each time with greedy sampling, and no banner.
func TestChatPiped(t *testing.T) {
	in := "Hello\n\nWho are you?\n"
	out, stderr, code := runStdin(t, in, "chat", "--temp", "0", "-n", "12")
	require.Zero(t, code, stderr)
	require.NotEmpty(t, strings.TrimSpace(out))
	require.NotContains(t, stderr, "/help lists", "no banner when stdout is not a terminal")
	require.NotContains(t, out, "> ", "no prompt when stdout is not a terminal")
	require.Contains(t, stderr, "the conversation is written in ChatML")
	// A message refused (a context too small for it) makes the status 1, whether the input ends or /exit.
	for _, in := range []string{"hi\n", "hi\n/exit\n"} {
		_, stderr, code := runStdin(t, in, "chat", "--ctx", "16", "-n", "4")
		require.Equal(t, 1, code, "%q: %s", in, stderr)
		require.Contains(t, stderr, "1 of the 1 messages got no answer")
	}
	require.NotContains(t, stderr, "/v1/completions", "the terminal chat's note does not speak of the API")
	again, _, _ := runStdin(t, in, "chat", "--temp", "0", "-n", "12")
	require.Equal(t, out, again, "greedy answers are reproducible")
}

// TestChatHistory: each request carries the conversation so far (system message, earlier answers as
// printed), stdout is exactly the answers, and /reset starts again from the system message.
func TestChatHistory(t *testing.T) {
	var o chatOptions
	r, err := chatTest(t, strings.NewReader("Hello\nWho are you?\n/help\n/reset\nHello\n/exit\nnot sent\n"), &o,
		"--temp", "0", "-n", "10", "--system", "You tell stories.")
	require.NoError(t, err, r.stderr.String())
	sys := chatTurn{Role: "system", Content: "You tell stories."}
	require.Len(t, r.requests, 3)
	require.Equal(t, []chatTurn{sys, {"user", "Hello"}}, r.requests[0])
	require.NotEmpty(t, r.answers[1])
	require.Equal(t, []chatTurn{sys, {"user", "Hello"}, {"assistant", r.answers[1]}, {"user", "Who are you?"}}, r.requests[1])
	require.Equal(t, []chatTurn{sys, {"user", "Hello"}}, r.requests[2], "/reset keeps only the system message")
	require.Equal(t, r.answers[1], r.answers[3], "greedy: the same conversation gets the same answer")
	require.Equal(t, answerLines(r.answers[1], r.answers[2], r.answers[3]), r.stdout.String())
	require.Contains(t, r.stderr.String(), "/reset   forget the conversation", "/help lists the commands")
	require.Contains(t, r.stderr.String(), "(conversation cleared)")
}

// TestChatContextOverflow: a conversation that outgrows the context gets the server's error on stderr,
// the refused message is left out, after /reset the chat answers again, and the piped chat ends with an
// error that counts the unanswered messages.
func TestChatContextOverflow(t *testing.T) {
	var o chatOptions
	in := strings.Repeat("Tell me a story about a cat.\n", 8) + "/reset\nHi\n"
	r, err := chatTest(t, strings.NewReader(in), &o, "--temp", "0", "-n", "16", "--ctx", "128")
	require.ErrorContains(t, err, "of the 9 messages got no answer", "piped, the status says that some messages were refused")
	require.Contains(t, r.stderr.String(), "no longer fits in the context of 128 tokens: ")
	require.NotContains(t, r.stderr.String(), "))")
	require.Contains(t, r.stderr.String(), "/reset starts a new conversation")
	require.Len(t, r.requests, 9)
	refused := 0
	for i := 1; i <= 8; i++ {
		if _, ok := r.answers[i]; ok {
			continue
		}
		refused++
		if i < 8 { // the next request does not carry the refused message
			require.Equal(t, r.requests[i-1], r.requests[i], "message %d was refused: the next one is sent with the same history", i)
		}
	}
	require.Positive(t, refused)
	require.Less(t, refused, 8, "the first messages fit")
	require.Equal(t, []chatTurn{{"user", "Hi"}}, r.requests[8])
	require.NotEmpty(t, r.answers[9], "after /reset the chat answers")
	require.True(t, strings.HasSuffix(r.stdout.String(), answerLines(r.answers[9])))
}

// TestChatInterrupt: Ctrl-C during an answer ends it at once and the server drops the request (its one
// sequence comes free although the answer had thousands of tokens to go, before any other request); what
// was printed stays in the conversation, and the next message is answered.
func TestChatInterrupt(t *testing.T) {
	m := slowModel(t) // 3000 tokens take half a minute or more: the answer stops long before its end
	intr := make(chan os.Signal, 1)
	o := chatOptions{interrupt: intr}
	o.onDelta = func(turn int, text string) {
		select {
		case intr <- os.Interrupt: // at the first piece of each answer (the second one is stopped too, not to wait for it)
		default:
		}
	}
	stdin, w := io.Pipe()
	r, done := startChat(t, stdin, &o, "-m", m, "--temp", "0", "-n", "3000", "-t", "1")
	_, err := io.WriteString(w, "Once upon a time\n")
	require.NoError(t, err)
	waitFor(t, done, 10*time.Second, "the first answer to stop", func() bool { return strings.Contains(r.errText(), "(answer stopped") })
	waitFor(t, done, 10*time.Second, "the server to free the sequence", func() bool {
		s := r.model.Load().Scheduler.Stats()
		return s.Running == 0 && s.Waiting == 0
	})
	require.Equal(t, 1, r.sentCount())
	_, err = io.WriteString(w, "And then?\n")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(120 * time.Second):
		t.Fatal("the chat did not end")
	}
	require.Len(t, r.requests, 2)
	first := r.answers[1]
	require.NotEmpty(t, first)
	require.Equal(t, []chatTurn{{"user", "Once upon a time"}, {"assistant", first}, {"user", "And then?"}}, r.requests[1],
		"the stopped answer stays in the conversation as printed")
	require.NotEmpty(t, r.answers[2], "the next message is answered")
	require.Equal(t, answerLines(first, r.answers[2]), r.stdout.String())
	require.Equal(t, 2, strings.Count(r.stderr.String(), "(answer stopped"), r.stderr.String())
}

// TestChatCtrlCAtPrompt: one Ctrl-C at the prompt only says how to quit; a message in between starts the
// count again; two in a row end the chat with errInterrupted (exit status 130).
func TestChatCtrlCAtPrompt(t *testing.T) {
	intr := make(chan os.Signal, 1)
	o := chatOptions{interrupt: intr}
	stdin, w := io.Pipe()
	defer w.Close()
	r, done := startChat(t, stdin, &o, "--temp", "0", "-n", "4")
	hints := func() int { return strings.Count(r.errText(), "Ctrl-C again") }
	intr <- os.Interrupt
	waitFor(t, done, time.Minute, "the first hint", func() bool { return hints() == 1 })
	_, err := io.WriteString(w, "Hi\n")
	require.NoError(t, err)
	waitFor(t, done, time.Minute, "the answer", func() bool { return r.endedCount() == 1 })
	intr <- os.Interrupt
	waitFor(t, done, time.Minute, "the second hint", func() bool { return hints() == 2 })
	intr <- os.Interrupt
	select {
	case err := <-done:
		require.ErrorIs(t, err, errInterrupted)
	case <-time.After(60 * time.Second):
		t.Fatal("two Ctrl-C at the prompt did not end the chat")
	}
	require.Len(t, r.requests, 1)
	require.NotEmpty(t, r.answers[1])
}

// TestChatTerminal: with stdout a terminal, a banner on stderr and "> " prompts on stdout, piped messages
// echoed after them.
func TestChatTerminal(t *testing.T) {
	o := chatOptions{ttyOut: true}
	r, err := chatTest(t, strings.NewReader("Hi\n"), &o, "--temp", "0", "-n", "4")
	require.NoError(t, err)
	require.Contains(t, r.stderr.String(), "llamago chat: stories260K")
	require.Contains(t, r.stderr.String(), "/exit or Ctrl-D quits")
	require.Equal(t, "> Hi\n"+answerLines(r.answers[1])+"> ", r.stdout.String())
}

func TestChatFlagErrors(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--temp 3", "--temp"},
		{"-n 0", "--max-tokens"},
		{"--top-p 0", "top-p must be in (0, 1]"},
		{"--repeat-penalty 11", "--repeat-penalty"},
		{"model.gguf", "give it with -m"},
	} {
		_, stderr, code := run(t, append([]string{"chat"}, strings.Fields(c.args)...)...)
		require.Equal(t, 2, code, c.args)
		require.Contains(t, stderr, c.want, c.args)
	}
}
