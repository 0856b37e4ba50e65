package main

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100..1, unsorted on purpose
	}
	for _, c := range []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{hundred, 50, 50},
		{hundred, 99, 99},
		{hundred, 100, 100},
		{hundred, 1, 1},
		{hundred, 0.5, 1},
		{[]float64{7}, 50, 7},
		{[]float64{7}, 99, 7},
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{4, 1, 3, 2}, 50, 2}, // nearest rank: the lower middle, no interpolation
		{[]float64{4, 1, 3, 2}, 99, 4},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 91, 10},
	} {
		require.Equal(t, c.want, percentile(c.xs, c.p), "p%g of %v", c.p, c.xs)
	}
	require.Equal(t, float64(100), hundred[0], "the input is not sorted in place")
	require.True(t, math.IsNaN(percentile(nil, 50)))
	require.True(t, math.IsNaN(percentile(hundred, 0)))
	require.True(t, math.IsNaN(percentile(hundred, 101)))
}

func TestMillis(t *testing.T) {
	require.Equal(t, []float64{1.5, 0, 2000}, millis([]time.Duration{1500 * time.Microsecond, 0, 2 * time.Second}))
}
