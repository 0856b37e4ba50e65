//go:build !cuda && !cudaemu

package main

import (
	"fmt"
	"io"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

// gpuBuild says whether this binary can use a GPU: without, the GPU flags are hidden from --help (they
// still parse, so llama.cpp's -ngl and scripts written for the CUDA build keep working).
const gpuBuild = false

func backendsCompiled() string { return "cpu (" + cpu.Kernels() + " kernels)" }

// newBackends returns the backend of the first layers, of the rest (nil: none) and how many layers the
// first one runs (-1: all).
func newBackends(mf *modelFlags) (engine.Backend, engine.Backend, int, error) {
	switch mf.Backend {
	case "auto", "cpu":
		return newBackendCPU(mf), nil, -1, nil
	case "cuda":
		return nil, nil, 0, usagef("--backend cuda: this llamago was built without CUDA; build it with 'make cuda' (bin/llamago-cuda)")
	}
	return nil, nil, 0, usagef("--backend must be auto, cpu or cuda, got %q", mf.Backend)
}

// listDevices has none to list; with --json it prints an empty array on stdout (for scripts) and the
// reason on stderr.
func listDevices(w, stderr io.Writer, _, asJSON bool) error {
	const note = "this llamago was built without CUDA: no GPUs (build bin/llamago-cuda with 'make cuda')"
	if asJSON {
		fmt.Fprintln(stderr, "llamago:", note)
		_, err := fmt.Fprintln(w, "[]")
		return err
	}
	_, err := fmt.Fprintln(w, note)
	return err
}

// checkDeviceMemory has nothing to check without a GPU.
func checkDeviceMemory(*modelFlags, *gguf.File, engine.Backend, int) error { return nil }
