package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SamplerOptions choose the next token from logits. The steps run in llama.cpp's default order:
// repetition penalty, top-k, top-p, min-p, temperature, then a draw. Temp ≤ 0 means greedy (argmax,
// lowest id on ties) and skips the rest.
type SamplerOptions struct {
	Temp          float64 // 0: greedy
	TopK          int     // keep the k most likely (0: all)
	TopP          float64 // keep the smallest set with this much probability (1: all)
	MinP          float64 // drop tokens below MinP × the top probability (0: none)
	RepeatPenalty float64 // divide positive / multiply negative logits of recent tokens (1: off)
	RepeatLastN   int     // how many recent tokens the penalty looks at
	Seed          uint64
}

// DefaultSampler matches llama.cpp's defaults.
var DefaultSampler = SamplerOptions{Temp: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64}

// withDefaults turns the zero values of TopP and RepeatPenalty, which Validate refuses, into "off" (1).
func (o SamplerOptions) withDefaults() SamplerOptions {
	if o.TopP == 0 {
		o.TopP = 1
	}
	if o.RepeatPenalty == 0 {
		o.RepeatPenalty = 1
	}
	return o
}

// Validate reports an option outside its range.
func (o SamplerOptions) Validate() error {
	switch {
	case o.Temp < 0 || math.IsNaN(o.Temp):
		return fmt.Errorf("temperature must be ≥ 0 (0 is greedy), got %g", o.Temp)
	case o.TopK < 0:
		return fmt.Errorf("top-k must be ≥ 0 (0 keeps all), got %d", o.TopK)
	case !(o.TopP > 0 && o.TopP <= 1):
		return fmt.Errorf("top-p must be in (0, 1], got %g", o.TopP)
	case !(o.MinP >= 0 && o.MinP < 1):
		return fmt.Errorf("min-p must be in [0, 1), got %g", o.MinP)
	case !(o.RepeatPenalty > 0):
		return fmt.Errorf("repeat penalty must be > 0 (1 is off), got %g", o.RepeatPenalty)
	case o.RepeatLastN < 0:
		return fmt.Errorf("repeat-last-n must be ≥ 0, got %d", o.RepeatLastN)
	}
	return nil
}

// Sampler draws tokens; the same options and seed give the same tokens.
type Sampler struct {
	o       SamplerOptions
	rng     *rand.Rand
	history []int32
	cand    []candidate
}

type candidate struct {
	id    int32
	logit float32
	p     float64
}

// NewSampler returns a sampler for o.
func NewSampler(o SamplerOptions) *Sampler {
	return &Sampler{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d))}
}

// Accept records a token of the sequence (prompt or generated) for the repetition penalty.
func (s *Sampler) Accept(id int32) {
	s.history = append(s.history, id)
	if n := s.o.RepeatLastN; n > 0 && len(s.history) > 4*n {
		s.history = append(s.history[:0], s.history[len(s.history)-n:]...)
	}
}

// Argmax returns the index of the largest logit, the lowest on ties.
func Argmax[T float32 | float64](logits []T) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// Sample picks the next token from logits (which it does not modify).
func (s *Sampler) Sample(logits []float32) int32 {
	o := s.o
	if o.Temp <= 0 && o.RepeatPenalty == 1 {
		return Argmax(logits)
	}
	c := s.cand[:0]
	for i, l := range logits {
		c = append(c, candidate{id: int32(i), logit: l})
	}
	s.cand = c
	if o.RepeatPenalty != 1 && o.RepeatLastN > 0 {
		seen := map[int32]bool{}
		for _, id := range s.history[max(0, len(s.history)-o.RepeatLastN):] {
			if seen[id] || int(id) >= len(c) {
				continue
			}
			seen[id] = true
			if c[id].logit > 0 {
				c[id].logit /= float32(o.RepeatPenalty)
			} else {
				c[id].logit *= float32(o.RepeatPenalty)
			}
		}
	}
	if o.Temp <= 0 {
		best := 0
		for i := range c {
			if c[i].logit > c[best].logit {
				best = i
			}
		}
		return c[best].id
	}
	better := func(a, b candidate) bool { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id) }
	if o.TopK > 0 && o.TopK < len(c) {
		c = selectTop(c, o.TopK, better) // O(V log k) instead of sorting the whole vocabulary every token
	}
	sort.Slice(c, func(i, j int) bool { return better(c[i], c[j]) })
	softmaxCand(c, 1)
	if o.TopP < 1 {
		var cum float64
		for i := range c {
			cum += c[i].p
			if cum >= o.TopP {
				c = c[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		floor := o.MinP * c[0].p
		keep := 1
		for keep < len(c) && c[keep].p >= floor {
			keep++
		}
		c = c[:keep]
	}
	softmaxCand(c, o.Temp)
	r := s.rng.Float64()
	for i := range c {
		r -= c[i].p
		if r < 0 {
			return c[i].id
		}
	}
	return c[len(c)-1].id
}

// softmaxCand sets p = softmax(logit / temp) over the candidates (sorted, largest first).
func softmaxCand(c []candidate, temp float64) {
	mx := float64(c[0].logit)
	var sum float64
	for i := range c {
		c[i].p = math.Exp((float64(c[i].logit) - mx) / temp)
		sum += c[i].p
	}
	for i := range c {
		c[i].p /= sum
	}
}

// selectTop moves the k best candidates (by better) to the front of c, in no particular order, and returns
// them. It keeps a min-heap of the best k seen so far.
func selectTop(c []candidate, k int, better func(a, b candidate) bool) []candidate {
	h := c[:k]
	down := func(i int) {
		for {
			l, r, m := 2*i+1, 2*i+2, i
			if l < k && better(h[m], h[l]) {
				m = l
			}
			if r < k && better(h[m], h[r]) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, x := range c[k:] {
		if better(x, h[0]) { // h[0] is the worst of the k kept
			h[0] = x
			down(0)
		}
	}
	return h
}
