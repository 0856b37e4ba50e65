package engine

import (
	"time"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxTokens int // stop after this many new tokens (≤ 0: until the context is full)
	Sampler   SamplerOptions
	IgnoreEOG bool // keep going past end-of-generation tokens
	// OnToken is called with each new token as soon as it is chosen; returning false stops generation.
	OnToken func(id int32) bool
}

// Stats are the timings of a Generate call, in llama.cpp's terms.
type Stats struct {
	PromptTokens int
	PromptTime   time.Duration
	GenTokens    int           // tokens evaluated after the prompt
	GenTime      time.Duration // time spent evaluating them
}

// PromptTPS is prompt-processing throughput in tokens per second.
func (s Stats) PromptTPS() float64 { return perSecond(s.PromptTokens, s.PromptTime) }

// GenTPS is generation throughput in tokens per second.
func (s Stats) GenTPS() float64 { return perSecond(s.GenTokens, s.GenTime) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Generate evaluates prompt (appending to what the session holds) and then samples up to MaxTokens new
// tokens, stopping early at an end-of-generation token or when the context is full. It returns the new tokens.
func (s *Session) Generate(prompt []int32, o GenerateOptions) ([]int32, Stats, error) {
	var st Stats
	smp := NewSampler(o.Sampler)
	for _, id := range prompt {
		smp.Accept(id)
	}
	t0 := time.Now()
	logits, err := s.Eval(prompt, false)
	if err != nil {
		return nil, st, err
	}
	st.PromptTokens, st.PromptTime = len(prompt), time.Since(t0)
	var out []int32
	for o.MaxTokens <= 0 || len(out) < o.MaxTokens {
		id := smp.Sample(logits)
		smp.Accept(id)
		out = append(out, id)
		if o.OnToken != nil && !o.OnToken(id) {
			break
		}
		if !o.IgnoreEOG && s.r.m.Tokenizer.IsEOG(id) {
			break
		}
		if len(out) == o.MaxTokens || s.Pos() >= s.Context() {
			break
		}
		t := time.Now()
		if logits, err = s.Eval([]int32{id}, false); err != nil {
			return out, st, err
		}
		st.GenTokens++
		st.GenTime += time.Since(t)
	}
	return out, st, nil
}
