package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnboundedInputsRefused: inputs read whole are capped with an error, not an out-of-memory death (F8),
// and a FIFO or device given as a model is refused instead of blocking in open (F7).
func TestUnboundedInputsRefused(t *testing.T) {
	_, stderr, code := run(t, "run", "-m", stories(t), "-f", "/dev/zero", "-n", "1")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "/dev/zero is larger than the 64 MiB llamago reads")
	_, stderr, code = run(t, "inspect", "/dev/null")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "is a character device, not a model file")
}
