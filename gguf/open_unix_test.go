//go:build unix

package gguf

import (
	"bytes"
	"os"
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

// TestReleasePages: dropping a mapped tensor's pages loses nothing (they come back from the file), a
// tensor within one page (no whole page to drop) is fine, and a slice that is not part of a mapping is left
// alone.
func TestReleasePages(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	require.NoError(t, w.AddTensor("small", TypeF32, 30))
	require.NoError(t, w.AddTensor("big", TypeF32, 5000)) // several pages
	small := make([]byte, 4*30)
	want := make([]byte, 4*5000)
	for i := range want {
		want[i] = byte(i*13 + 1)
	}
	for _, p := range [][]byte{small, want} {
		_, err := w.Write(p)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	ti, ok := f.Tensor("big")
	require.True(t, ok)
	data := f.TensorData(ti)
	require.Equal(t, want, data)
	ReleasePages(data)
	require.Equal(t, want, data)
	ts, ok := f.Tensor("small")
	require.True(t, ok)
	ReleasePages(f.TensorData(ts))
	require.Equal(t, small, f.TensorData(ts))
	for _, n := range []int{1, 7, 100} { // slices of the mapping inside one page, at its start
		ReleasePages(f.TensorData(ts)[:n])
	}

	heap := append([]byte(nil), want...)
	ReleasePages(heap)
	require.Equal(t, want, heap)
}
