package npy

import (
	"bytes"
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
