//go:build unix

package gguf

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOpenRefusesNonRegular: a FIFO given as a model blocked forever in open(2) (F7); a directory or a
// device is refused by name too.
func TestOpenRefusesNonRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 1)
	go func() { _, err := Open(fifo); done <- err }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "is a named pipe (FIFO), not a model file")
	case <-time.After(5 * time.Second):
		t.Fatal("Open of a FIFO blocks")
	}
	_, err := Open(t.TempDir())
	require.ErrorContains(t, err, "is a directory, not a model file")
	_, err = Open("/dev/null")
	require.ErrorContains(t, err, "is a character device, not a model file")
}
