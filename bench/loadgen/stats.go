package main

import (
	"math"
	"slices"
	"time"
)

// percentile is the p-th percentile (0 < p ≤ 100) of xs by the nearest-rank method: the smallest value
// with at least p% of the values at or below it (so p100 is the largest, and p50 of an even count is the
// lower middle value). An empty list has none: NaN. xs is not changed.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p > 0 && p <= 100) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p * float64(len(s)) / 100)) // p·n first: 99·100/100 is exactly 99
	return s[min(max(rank, 1), len(s))-1]
}

// millis converts durations to milliseconds.
func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}
