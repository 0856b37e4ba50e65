package engine

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSampler(t *testing.T) {
	logits := []float32{1, 5, 5, 2, 4.9, -3}
	require.Equal(t, int32(1), NewSampler(SamplerOptions{}).Sample(logits), "greedy takes the lowest id on ties")

	// Same seed, same draws; a different seed differs somewhere in 50 draws.
	draw := func(seed uint64) []int32 {
		s := NewSampler(SamplerOptions{Temp: 1.5, TopP: 1, RepeatPenalty: 1, Seed: seed})
		var out []int32
		for i := 0; i < 50; i++ {
			out = append(out, s.Sample(logits))
		}
		return out
	}
	require.Equal(t, draw(1), draw(1))
	require.NotEqual(t, draw(1), draw(2))

	// top-k 2 only ever returns the two best; min-p 0.5 drops everything far below the top.
	s := NewSampler(SamplerOptions{Temp: 5, TopK: 2, TopP: 1, RepeatPenalty: 1, Seed: 3})
	counts := map[int32]int{}
	for i := 0; i < 2000; i++ {
		counts[s.Sample(logits)]++
	}
	require.Len(t, counts, 2)
	require.InDelta(t, 1000, counts[1], 150)
	s = NewSampler(SamplerOptions{Temp: 1, TopP: 1, MinP: 0.5, RepeatPenalty: 1, Seed: 3})
	for i := 0; i < 500; i++ {
		require.Contains(t, []int32{1, 2, 4}, s.Sample(logits))
	}
	// top-p 0.5: tokens 1 and 2 carry 0.336 of the mass each (token 4: 0.304), so only they (and not 4) remain.
	s = NewSampler(SamplerOptions{Temp: 1, TopP: 0.5, RepeatPenalty: 1, Seed: 4})
	for i := 0; i < 500; i++ {
		require.Contains(t, []int32{1, 2}, s.Sample(logits))
	}
	// The repetition penalty moves greedy decoding off a repeated token.
	s = NewSampler(SamplerOptions{RepeatPenalty: 2, RepeatLastN: 8})
	s.Accept(1)
	s.Accept(2)
	require.Equal(t, int32(4), s.Sample(logits))

	// selectTop keeps exactly the k best, ties to the lower id.
	many := make([]float32, 1000)
	for i := range many {
		many[i] = float32((i * 7919) % 1000)
	}
	many[5] = 999 // ties with the element whose value is 999; id 5 is lower
	var cand []candidate
	for i, l := range many {
		cand = append(cand, candidate{id: int32(i), logit: l})
	}
	top := selectTop(cand, 3, func(a, b candidate) bool { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id) })
	ids := map[int32]bool{}
	for _, c := range top {
		ids[c.id] = true
		require.GreaterOrEqual(t, c.logit, float32(998))
	}
	require.True(t, ids[5])
	require.Len(t, ids, 3)

	require.Error(t, SamplerOptions{Temp: -1, TopP: 1, RepeatPenalty: 1}.Validate())
	require.Error(t, SamplerOptions{TopP: 0, RepeatPenalty: 1}.Validate())
	require.NoError(t, DefaultSampler.Validate())
}

// TestTopLogprobs: the k most likely tokens, most likely first (the lower id on ties), with log-softmax
// values, and the log-sum-exp of all.
func TestTopLogprobs(t *testing.T) {
	logits := []float32{1, 3, -2, 3, 0.5, 2}
	top, lse := topLogprobs(logits, 3)
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v))
	}
	want := math.Log(sum)
	require.InDelta(t, want, lse, 1e-6)
	require.Len(t, top, 3)
	for i, id := range []int32{1, 3, 5} {
		require.Equal(t, id, top[i].ID)
		require.InDelta(t, float64(logits[id])-want, float64(top[i].Logprob), 1e-6)
		// The chosen token's logprob (the scheduler's logprob call) is the same float as its entry here.
		require.Equal(t, top[i].Logprob, logprob(logits[id], lse))
	}
	none, lse0 := topLogprobs(logits, 0)
	require.Nil(t, none)
	require.Equal(t, lse, lse0)
	all, _ := topLogprobs(logits, 20)
	require.Len(t, all, len(logits))
}
