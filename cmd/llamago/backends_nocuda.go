//go:build !cuda && !cudaemu

package main

import (
	"fmt"
	"io"
)

// gpuBuild says whether this binary can use a GPU: without, the GPU flags are hidden from --help (they
// still parse, so llama.cpp's -ngl and scripts written for the CUDA build keep working).
const gpuBuild = false

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
