//go:build cuda || cudaemu

package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/llamago/llamago/engine/cuda" // registers the cuda backend
)

// gpuBuild says whether this binary can use a GPU (see backends_nocuda.go).
const gpuBuild = true

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
