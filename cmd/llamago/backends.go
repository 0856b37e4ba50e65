package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
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
			n = "cpu (" + cpu.Kernels() + " kernels"
			if r := cpu.PackedReads(); r != "" {
				n += "; decoding reads packed rows " + r // LLAMAGO_CPU_STRIPS
			}
			n += ")"
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

// openParts opens the backends the flags ask for and splits the model's layers between them: all on the
// CPU; all on one GPU; with --device 0,1 consecutive layers on each GPU, in proportion to --tensor-split
// or else to each GPU's free memory; with --gpu-layers N the first N layers on the GPU(s) and the rest on
// the CPU (partial offload). auto takes the GPU when the driver sees one, else the CPU. Before anything is
// uploaded it checks that each GPU's share fits, saying what would. It returns the parts in layer order
// and every backend it opened (to close).
func openParts(mf *modelFlags, f *gguf.File, ctx int) ([]engine.Part, []engine.Backend, error) {
	var opened []engine.Backend
	fail := func(err error) ([]engine.Part, []engine.Backend, error) {
		for _, b := range opened {
			b.Close()
		}
		return nil, nil, err
	}
	open := func(name string, device int) (engine.Backend, error) {
		b, err := engine.OpenBackend(name, engine.BackendOptions{Threads: mf.Threads, Device: device, ActivationBits: mf.ActBits})
		if err == nil {
			opened = append(opened, b)
		}
		return b, err
	}
	cpuOnly := func() ([]engine.Part, []engine.Backend, error) {
		b, err := open("cpu", 0)
		if err != nil {
			return fail(err)
		}
		return []engine.Part{{Backend: b, Layers: -1}}, opened, nil
	}
	gpu := gpuBackend()
	switch mf.Backend {
	case "cpu":
		return cpuOnly()
	case "auto", "cuda":
	default:
		return nil, nil, usagef("--backend must be auto, cpu or cuda, got %q", mf.Backend)
	}
	if gpu == "" {
		if mf.Backend == "auto" {
			return cpuOnly()
		}
		return nil, nil, usagef("--backend cuda: this llamago was built without CUDA and no %s is installed beside it; build it with 'make cuda' (bin/%s)", cudaBinary, cudaBinary)
	}
	if d, _ := engine.Driver(gpu); mf.Backend == "auto" && d.Available != nil && !d.Available() {
		return cpuOnly()
	}
	devices := mf.Devices
	if len(devices) == 0 {
		devices = []int{0}
	}
	split := mf.TensorSplit
	switch mf.Split {
	case "layers", "layer": // llama.cpp's -sm layer
	case "none": // llama.cpp's -sm none: the first GPU only (a --tensor-split then means nothing, as there)
		devices, split = devices[:1], nil
	default:
		return nil, nil, usagef("--split %q: llamago splits a model across GPUs by layers (--split layers, or none for the first GPU only); llama.cpp's row split has no counterpart", mf.Split)
	}
	if len(split) > 0 && len(split) != len(devices) {
		return nil, nil, usagef("--tensor-split has %d proportions for %d devices (--device %s)", len(mf.TensorSplit), len(devices), intsString(devices))
	}
	var gpus []engine.Backend
	for i, d := range devices {
		if slices.Contains(devices[:i], d) || d < 0 {
			return fail(usagef("--device %s: list each GPU once, by its index (llamago devices lists them)", intsString(devices)))
		}
		b, err := open(gpu, d)
		if err != nil {
			return fail(err)
		}
		gpus = append(gpus, b)
	}
	cfg, err := f.LlamaConfig()
	if err != nil { // Load reports it
		return []engine.Part{{Backend: gpus[0], Layers: -1}}, opened, nil
	}
	onGPU := cfg.BlockCount
	if mf.GPULay >= 0 {
		onGPU = min(mf.GPULay, cfg.BlockCount)
	}
	positions := ctx
	if mf.kvFor != nil {
		positions = max(mf.kvFor(ctx), 1)
	}
	plan := engine.PlanMemory(f, cfg, positions, min(mf.Batch, ctx), mf.kvType)
	if rs, ok := gpus[0].(engine.Reserver); ok {
		plan.Scratch = rs.ScratchBytes(engine.Reservation{Batch: min(mf.Batch, ctx), Heads: cfg.HeadCount, HeadDim: cfg.HeadDim()})
	}
	free := make([]int64, len(gpus))
	for i, g := range gpus {
		if mi, ok := g.(engine.MemoryInfo); ok {
			if free[i], err = mi.FreeMemory(); err != nil {
				return fail(err)
			}
		}
	}
	counts := []int{onGPU}
	if len(gpus) == 1 {
		if mf.GPULay < 0 && free[0] > 0 { // saying how many layers would fit (--gpu-layers)
			if err := plan.CheckFits(free[0], gpus[0].Name()); err != nil {
				return fail(err)
			}
		}
	} else {
		weights := split
		if len(weights) == 0 {
			for _, fr := range free {
				weights = append(weights, float64(max(fr, 1)))
			}
		}
		if counts, err = splitLayers(onGPU, weights); err != nil {
			return fail(usagef("--tensor-split %s: %v", floatsString(mf.TensorSplit), err))
		}
	}
	var parts []engine.Part
	first := 0
	for i, g := range gpus {
		n := counts[i]
		if n == 0 && (len(parts) > 0 || first < onGPU) {
			continue // no layers: it would only hold the embedding (the next GPU with layers does); it stays idle
		}
		if len(gpus) > 1 && free[i] > 0 {
			need := plan.Activations + plan.Scratch
			if len(parts) == 0 || first+n == cfg.BlockCount {
				need += plan.OtherWeights // the embedding on the first GPU, the output on the last
			}
			for _, w := range plan.LayerWeights[first : first+n] {
				need += w + plan.LayerKV
			}
			if need > free[i] {
				what := fmt.Sprintf("layers %d–%d", first, first+n-1)
				if n == 0 {
					what = "the token embeddings"
				}
				return fail(fmt.Errorf("%s would hold %s: %.2f GiB needed, %.2f GiB free: give it a smaller share with --tensor-split, or run the last layers on the CPU with --gpu-layers",
					g.Name(), what, float64(need)/(1<<30), float64(free[i])/(1<<30)))
			}
		}
		parts = append(parts, engine.Part{Backend: g, Layers: n})
		first += n
	}
	if onGPU < cfg.BlockCount {
		b, err := open("cpu", 0)
		if err != nil {
			return fail(err)
		}
		parts = append(parts, engine.Part{Backend: b, Layers: -1})
	}
	return parts, opened, nil
}

// splitLayers shares n layers out in proportion to weights, consecutive runs rounded so that they add up.
func splitLayers(n int, weights []float64) ([]int, error) {
	var total float64
	for _, w := range weights {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("proportions must be finite and not negative")
		}
		total += w
	}
	if total <= 0 {
		return nil, fmt.Errorf("the proportions add up to nothing")
	}
	counts := make([]int, len(weights))
	var sum float64
	prev := 0
	for i, w := range weights {
		sum += w
		end := int(math.Round(float64(n) * sum / total))
		counts[i], prev = end-prev, end
	}
	return counts, nil
}

func intsString(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func floatsString(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// uploads says whether loading on b copies the weights (worth a progress bar).
func uploads(b engine.Backend) bool {
	d, ok := engine.Driver(strings.SplitN(b.Name(), ":", 2)[0]) // "cuda:0 NVIDIA …" is the cuda driver's
	return ok && d.Uploads
}
