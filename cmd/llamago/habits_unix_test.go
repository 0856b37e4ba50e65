//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Finding 5: output models were mode 0600 whatever the umask.
func TestOutputsHonourUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	p := synthTiny(t, "Q8_0")
	q := filepath.Join(t.TempDir(), "q.gguf")
	_, stderr, code := run(t, "quantize", p, q, "Q4_0")
	require.Zero(t, code, stderr)
	for _, f := range []string{p, q} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), f)
	}
	entries, _ := os.ReadDir(filepath.Dir(q))
	require.Len(t, entries, 1, "no temporary file left beside the output")
}
