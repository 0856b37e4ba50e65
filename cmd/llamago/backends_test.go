package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSplitLayers: --tensor-split (or the GPUs' free memory) shares the layers out in consecutive runs that
// add up, and refuses proportions that say nothing.
func TestSplitLayers(t *testing.T) {
	for _, c := range []struct {
		n       int
		weights []float64
		want    []int
	}{
		{22, []float64{1, 1}, []int{11, 11}},
		{22, []float64{3, 1}, []int{17, 5}},
		{5, []float64{1, 1, 1}, []int{2, 1, 2}},
		{32, []float64{80e9, 40e9, 0}, []int{21, 11, 0}},
		{3, []float64{1, 0, 1}, []int{2, 0, 1}},
		{0, []float64{1, 1}, []int{0, 0}},
	} {
		got, err := splitLayers(c.n, c.weights)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%d layers by %v", c.n, c.weights)
	}
	for _, bad := range [][]float64{{0, 0}, {1, -1}, {math.NaN(), 1}, {math.Inf(1), 1}} {
		_, err := splitLayers(10, bad)
		require.Error(t, err, "%v", bad)
	}
}
