//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHandOver runs this test binary, copied into a folder as llamago, beside a stand-in llamago-cuda (a
// script that prints what it was given), with the driver probe pointed at a fake root: with a driver a
// command that runs a model goes to the CUDA build with its arguments; without one, with --backend cpu, for
// other commands, for --help and after a hand-over it runs here; --backend cuda goes even without a driver,
// and without a CUDA build it says what to build. llamago version says which in one line.
func TestHandOver(t *testing.T) {
	if gpuBuild {
		t.Skip("the CUDA build never hands over")
	}
	dir := t.TempDir()
	self, err := os.Open(os.Args[0])
	require.NoError(t, err)
	bin := filepath.Join(dir, "llamago")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, self)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	self.Close()
	standIn := filepath.Join(dir, cudaBinary)
	require.NoError(t, os.WriteFile(standIn, []byte("#!/bin/sh\necho \"stand-in cuda: $* (handed over: $LLAMAGO_HANDED_OVER)\"\n"), 0o755))

	driver, none := t.TempDir(), t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(driver, "dev"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(driver, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(driver, "dev", "nvidia0"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(driver, "etc", "ld.so.cache"), []byte("glibc-ld.so.cache1.1\x00libcuda.so.1\x00"), 0o644))

	run := func(root string, env []string, args ...string) (string, string, int) {
		raw, _ := json.Marshal(args)
		cmd := exec.Command(bin)
		cmd.Env = append(append(os.Environ(), "LLAMAGO_TEST_ARGS="+string(raw), probeRootEnv+"="+root, "LD_LIBRARY_PATH="), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return stdout.String(), stderr.String(), code
	}
	missing := filepath.Join(dir, "missing.gguf")

	stdout, stderr, code := run(driver, nil, "run", "-m", missing, "-p", "hi", "-n", "3")
	require.Zero(t, code, stderr)
	require.Equal(t, "stand-in cuda: run -m "+missing+" -p hi -n 3 (handed over: 1)\n", stdout)
	require.Equal(t, "llamago: NVIDIA driver found: running "+standIn+"\n", stderr)

	// Flag values are values: a prompt that reads "-h" or "--backend=cpu" does not keep the command here.
	for _, prompt := range []string{"-h", "--backend=cpu"} {
		stdout, stderr, _ = run(driver, nil, "run", "-m", missing, "-p", prompt)
		require.Contains(t, stdout, "stand-in cuda: run -m "+missing+" -p "+prompt, stderr)
	}
	stdout, stderr, _ = run(driver, nil, "devices", "--json")
	require.Contains(t, stdout, "stand-in cuda: devices --json", stderr)

	for _, c := range []struct {
		name string
		root string
		env  []string
		args []string
	}{
		{"no driver", none, nil, []string{"run", "-m", missing, "-p", "hi"}},
		{"a device node but no driver library", filepath.Join(driver, "dev", ".."), nil, []string{"run", "-m", missing, "-p", "hi"}},
		{"--backend cpu", driver, nil, []string{"run", "--backend", "cpu", "-m", missing, "-p", "hi"}},
		{"--backend=cpu", driver, nil, []string{"bench", "--backend=cpu", "-m", missing}},
		{"a command without a model", driver, nil, []string{"tokenize", "-m", missing, "hi"}},
		{"--help", driver, nil, []string{"run", "--help"}},
		{"handed over already", driver, []string{handedOverEnv + "=1"}, []string{"run", "-m", missing, "-p", "hi"}},
	} {
		root := c.root
		if c.name == "a device node but no driver library" {
			root = t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(root, "dev"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, "dev", "nvidia0"), nil, 0o644))
		}
		stdout, stderr, _ := run(root, c.env, c.args...)
		require.NotContains(t, stdout+stderr, "stand-in", c.name)
		require.NotContains(t, stderr, "running "+standIn, c.name)
	}

	stdout, stderr, code = run(none, nil, "run", "--backend", "cuda", "-m", missing, "-p", "hi")
	require.Zero(t, code, stderr)
	require.Contains(t, stdout, "stand-in cuda: run --backend cuda")
	require.Contains(t, stderr, "--backend cuda: running "+standIn+" (though this machine shows no NVIDIA GPU device")

	stdout, _, _ = run(driver, nil, "version")
	require.Contains(t, stdout, "GPU: commands that run a model hand over to "+standIn+" (NVIDIA driver found)")
	stdout, _, _ = run(none, nil, "version")
	require.Contains(t, stdout, "GPU: none here (no NVIDIA GPU device (/dev/nvidia0)); "+standIn+" is used where there is one")

	// A CUDA build that cannot be run (here: not a program) leaves auto on the CPU, saying why.
	require.NoError(t, os.WriteFile(standIn, []byte("not a program"), 0o755))
	stdout, stderr, _ = run(driver, nil, "run", "-m", missing, "-p", "hi")
	require.NotContains(t, stdout, "stand-in")
	require.Contains(t, stderr, "could not hand over to the CUDA build (exec format error): running on the CPU")
	require.Contains(t, stderr, "missing.gguf", "then the command ran here")
	_, stderr, code = run(driver, nil, "run", "--backend", "cuda", "-m", missing, "-p", "hi")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "llamago: could not hand over to the CUDA build: exec format error")

	require.NoError(t, os.Remove(standIn))
	_, stderr, code = run(driver, nil, "run", "--backend", "cuda", "-p", "hi") // the built-in model
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "no llamago-cuda is installed beside it; build it with 'make cuda'")
	stdout, _, _ = run(driver, nil, "version")
	require.Contains(t, stdout, "GPU: none (this build is CPU-only and no llamago-cuda is installed beside it")
}
