//go:build !unix

package gguf

import (
	"fmt"
	"os"
)

// mapFile reads the whole file where memory mapping is not available.
func mapFile(path string) ([]byte, func() error, error) {
	if err := checkRegular(path); err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s: file is empty, not a GGUF model", path)
	}
	return data, func() error { return nil }, nil
}

// MapsFiles says whether Open maps model files: not here, where it reads them into memory.
const MapsFiles = false

// ReleasePages does nothing where files are read rather than mapped: the copy is the process's own.
func ReleasePages([]byte) {}
