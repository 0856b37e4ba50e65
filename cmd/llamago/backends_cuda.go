//go:build cuda || cudaemu

package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/engine/cuda"
	"github.com/llamago/llamago/gguf"
)

// gpuBuild says whether this binary can use a GPU (see backends_nocuda.go).
const gpuBuild = true

func backendsCompiled() string { return "cpu (" + cpu.Kernels() + " kernels), cuda" }

// newBackends: auto takes the GPU when the driver sees one, else the CPU. With --gpu-layers N the GPU
// runs the first N layers and the CPU the rest (partial offload).
func newBackends(mf *modelFlags) (engine.Backend, engine.Backend, int, error) {
	switch mf.Backend {
	case "cpu":
		return newBackendCPU(mf), nil, -1, nil
	case "auto", "cuda":
		devs, err := cuda.Devices()
		if (err != nil || len(devs) == 0) && mf.Backend == "auto" {
			return newBackendCPU(mf), nil, -1, nil
		}
		g, err := cuda.New(mf.Device)
		if err != nil {
			return nil, nil, 0, err
		}
		if mf.GPULay < 0 {
			return g, nil, -1, nil
		}
		return g, newBackendCPU(mf), mf.GPULay, nil
	}
	return nil, nil, 0, usagef("--backend must be auto, cpu or cuda, got %q", mf.Backend)
}

func listDevices(w, _ io.Writer, bandwidth, asJSON bool) error {
	devs, err := cuda.Devices()
	if err != nil {
		return err
	}
	type row struct {
		cuda.Device
		CopyGBs float64 `json:"copy_gb_per_s,omitempty"`
	}
	rows := []row{} // "[]", not "null", in JSON when there is none
	for _, d := range devs {
		r := row{Device: d}
		if bandwidth {
			b, err := cuda.New(d.Index)
			if err != nil {
				return err
			}
			bw, err := b.CopyBandwidth(1<<30, 20)
			b.Close()
			if err != nil {
				return err
			}
			r.CopyGBs = bw / 1e9
		}
		rows = append(rows, r)
	}
	if asJSON {
		return json.NewEncoder(w).Encode(rows)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no GPU found by the CUDA driver")
		return err
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%d: %s, %.1f GiB, compute capability %d.%d, %d SMs", r.Index, r.Name, float64(r.Memory)/(1<<30), r.CapMajor, r.CapMinor, r.Multiprocs)
		if bandwidth {
			fmt.Fprintf(w, ", device-to-device copy %.0f GB/s", r.CopyGBs)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// checkDeviceMemory refuses, before any upload, a model that does not fit on the GPU, saying how many
// layers would (--gpu-layers).
func checkDeviceMemory(mf *modelFlags, f *gguf.File, first engine.Backend, ctx int) error {
	g, ok := first.(*cuda.Backend)
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
	return engine.PlanMemory(f, cfg, ctx, mf.Batch).CheckFits(free, g.Name())
}
