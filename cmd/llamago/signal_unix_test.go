//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain lets a test run this binary as llamago itself (LLAMAGO_TEST_ARGS holds the arguments as JSON),
// to send it signals the way a user's Ctrl-C does.
func TestMain(m *testing.M) {
	if raw := os.Getenv("LLAMAGO_TEST_ARGS"); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			os.Exit(99)
		}
		os.Exit(execute(args))
	}
	os.Exit(m.Run())
}

// llamagoProcess starts this binary as llamago with args.
func llamagoProcess(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "LLAMAGO_TEST_ARGS="+string(raw))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out), &stderr
}

func processExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "%v", err)
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	case <-time.After(60 * time.Second):
		t.Fatal("llamago did not stop after the signal")
	}
	return -1
}

// slowModel is a synthetic model slow enough to interrupt mid-generation on any machine, with a long context.
func slowModel(t *testing.T) string {
	return synthTiny(t, "Q8_0", "--embd", "512", "--heads", "8", "--kv-heads", "8", "--layers", "4", "--ff", "1536", "--ctx", "8192")
}

// Finding 18: Ctrl-C in run exited quietly, without timings or a final newline, and --json printed nothing.
func TestRunInterrupted(t *testing.T) {
	m := slowModel(t)
	cmd, out, stderr := llamagoProcess(t, "run", "-m", m, "-p", "Once upon a time", "-n", "-1", "--ignore-eos", "--temp", "0", "-t", "1")
	_, err := out.ReadString(' ') // the prompt, then generated text: it is running
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	rest, _ := out.ReadString(0)
	require.Equal(t, 130, processExit(t, cmd), stderr.String())
	require.True(t, strings.HasSuffix(rest, "\n"), "the text ends with a newline")
	require.Contains(t, stderr.String(), "eval time")
	require.Contains(t, stderr.String(), "llamago: interrupted")

	cmd, out, stderr = llamagoProcess(t, "run", "-m", m, "-p", "Once upon a time", "-n", "-1", "--ignore-eos", "--temp", "0", "-t", "1", "--json")
	time.Sleep(700 * time.Millisecond) // loaded and generating; the context (8192) lasts seconds more
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	js, _ := out.ReadString(0)
	require.Equal(t, 130, processExit(t, cmd), stderr.String())
	var r runResult
	require.NoError(t, json.Unmarshal([]byte(js), &r), "stdout: %q, stderr: %s", js, stderr.String())
	require.Equal(t, "interrupted", r.StopReason)
	require.NotEmpty(t, r.Tokens)
}

// Finding 4: Ctrl-C during synth left a hidden partial file of hundreds of MB.
func TestSynthInterruptedLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	cmd, _, stderr := llamagoProcess(t, "synth", "--preset", "llama2-7b", "--type", "F32", "-q", "--threads", "1", "-o", filepath.Join(dir, "big.gguf"))
	deadline := time.Now().Add(20 * time.Second)
	for { // wait until the temporary file exists and grows
		entries, _ := os.ReadDir(dir)
		if len(entries) > 0 {
			if info, err := entries[0].Info(); err == nil && info.Size() > 1<<20 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "synth wrote nothing: %s", stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 130, processExit(t, cmd), stderr.String())
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "the interrupted synth left files behind")
}
