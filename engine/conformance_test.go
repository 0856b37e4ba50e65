package engine_test

import (
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/engine/enginetest"
)

// TestCPUConformance runs the backend conformance suite on the CPU backend.
func TestCPUConformance(t *testing.T) {
	b := engine.NewCPU(2)
	defer b.Close()
	enginetest.Run(t, b)
}
