//go:build cuda || cudaemu

package cuda

import (
	"testing"

	"github.com/llamago/llamago/engine/enginetest"
)

// TestConformance runs the backend conformance suite against the GPU (float64 references on the host).
func TestConformance(t *testing.T) {
	devs, err := Devices()
	if err != nil || len(devs) == 0 {
		t.Skipf("no GPU: %v", err)
	}
	for _, d := range devs {
		t.Logf("device %d: %s, %.1f GiB, sm_%d%d, %d SMs", d.Index, d.Name, float64(d.Memory)/(1<<30), d.CapMajor, d.CapMinor, d.Multiprocs)
	}
	b, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	enginetest.Run(t, b)
}
