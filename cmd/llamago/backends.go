package main

import (
	"strings"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

// Backends come from engine's registry: "cpu" always, "cuda" in a build that links engine/cuda
// (backends_cuda.go, under the cuda and cudaemu tags). Nothing here knows a backend's concrete type.

// backendsCompiled names the backends of this build, for llamago version.
func backendsCompiled() string {
	var names []string
	for _, n := range engine.Backends() {
		if n == "cpu" {
			n = "cpu (" + cpu.Kernels() + " kernels)"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// gpuBackend is the device backend of this build ("" without one).
func gpuBackend() string {
	for _, n := range engine.Backends() {
		if d, _ := engine.Driver(n); d.Uploads {
			return n
		}
	}
	return ""
}

// newBackends returns the backend of the first layers, of the rest (nil: none) and how many layers the
// first one runs (-1: all). auto takes the GPU when the driver sees one, else the CPU; with --gpu-layers N
// the GPU runs the first N layers and the CPU the rest (partial offload).
func newBackends(mf *modelFlags) (engine.Backend, engine.Backend, int, error) {
	o := engine.BackendOptions{Threads: mf.Threads, Device: mf.Device}
	cpuB := func() engine.Backend { b, _ := engine.OpenBackend("cpu", o); return b }
	gpu := gpuBackend()
	switch mf.Backend {
	case "cpu":
		return cpuB(), nil, -1, nil
	case "auto", "cuda":
		if gpu == "" {
			if mf.Backend == "auto" {
				return cpuB(), nil, -1, nil
			}
			return nil, nil, 0, usagef("--backend cuda: this llamago was built without CUDA and no %s is installed beside it; build it with 'make cuda' (bin/%s)", cudaBinary, cudaBinary)
		}
		if d, _ := engine.Driver(gpu); mf.Backend == "auto" && d.Available != nil && !d.Available() {
			return cpuB(), nil, -1, nil
		}
		g, err := engine.OpenBackend(gpu, o)
		if err != nil {
			return nil, nil, 0, err
		}
		if mf.GPULay < 0 {
			return g, nil, -1, nil
		}
		return g, cpuB(), mf.GPULay, nil
	}
	return nil, nil, 0, usagef("--backend must be auto, cpu or cuda, got %q", mf.Backend)
}

// uploads says whether loading on b copies the weights (worth a progress bar).
func uploads(b engine.Backend) bool {
	d, ok := engine.Driver(strings.SplitN(b.Name(), ":", 2)[0]) // "cuda:0 NVIDIA …" is the cuda driver's
	return ok && d.Uploads
}

// checkDeviceMemory refuses, before any upload, a model that does not fit on a device backend, saying how
// many layers would (--gpu-layers).
func checkDeviceMemory(mf *modelFlags, f *gguf.File, first engine.Backend, ctx int) error {
	g, ok := first.(engine.MemoryInfo)
	if !ok || mf.GPULay >= 0 {
		return nil
	}
	cfg, err := f.LlamaConfig()
	if err != nil {
		return nil // Load reports it
	}
	free, err := g.FreeMemory()
	if err != nil {
		return err
	}
	plan := engine.PlanMemory(f, cfg, ctx, mf.Batch)
	if rs, ok := first.(engine.Reserver); ok {
		plan.Scratch = rs.ScratchBytes(engine.Reservation{Batch: min(mf.Batch, ctx), Heads: cfg.HeadCount, HeadDim: cfg.HeadDim()})
	}
	return plan.CheckFits(free, first.Name())
}
