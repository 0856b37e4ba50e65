//go:build !cuda

package main

import (
	"fmt"
	"io"

	"github.com/llamago/llamago/engine"
)

func backendsCompiled() string { return "cpu" }

func newBackend(mf *modelFlags) (engine.Backend, error) {
	switch mf.Backend {
	case "auto", "cpu":
		return newBackendCPU(mf), nil
	case "cuda":
		return nil, usagef("--backend cuda: this llamago was built without CUDA; build it with 'make cuda' (bin/llamago-cuda)")
	}
	return nil, usagef("--backend must be auto, cpu or cuda, got %q", mf.Backend)
}

func listDevices(w io.Writer, _, _ bool) error {
	_, err := fmt.Fprintln(w, "this llamago was built without CUDA: no GPUs (build bin/llamago-cuda with 'make cuda')")
	return err
}
