package npy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 3}, {1, 2, 2, 1}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i) - 1.5
		}
		var buf bytes.Buffer
		require.NoError(t, WriteFloat32(&buf, shape, data))
		require.Zero(t, (len(Header("<f4", shape)))%64, "header must be 64-byte aligned")
		gotShape, got, err := ReadFloat32(&buf)
		require.NoError(t, err)
		require.Equal(t, shape, gotShape)
		require.Equal(t, data, got)
	}
	require.Contains(t, string(Header("<f4", []int{7})), "'shape': (7,)")
	require.Error(t, WriteFloat32(&bytes.Buffer{}, []int{2, 2}, make([]float32, 3)))
}

// TestWriteFileKeepsOldOnFailure: a write that fails leaves what was at the path, not a truncated file whose
// header claims the full shape (F5).
func TestWriteFileKeepsOldOnFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.npy")
	require.NoError(t, os.WriteFile(path, []byte("PRECIOUS"), 0o644))
	require.Error(t, WriteFloat32File(path, []int{2, 3}, make([]float32, 5)))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "PRECIOUS", string(got))
	entries, _ := os.ReadDir(filepath.Dir(path))
	require.Len(t, entries, 1, "no temporary file left")
	require.NoError(t, WriteFloat32File(path, []int{1, 2}, []float32{1, 2}))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	shape, vals, err := ReadFloat32(f)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, shape)
	require.Equal(t, []float32{1, 2}, vals)
}
