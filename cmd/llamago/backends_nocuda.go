//go:build !cuda

package main

import "github.com/llamago/llamago/engine"

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
