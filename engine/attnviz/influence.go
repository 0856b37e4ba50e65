package attnviz

import (
	"fmt"
	"math"
)

// Influence measures what attention only suggests: how much each prompt token drives the model's
// next-token prediction. The prompt is run again with that one token left out (the tokens after it move
// up one position) and the two next-token distributions p (whole prompt) and p′ (without the token) are
// compared: the change in the probability of the token the whole prompt predicts, p′(t*) − p(t*), and
// the Kullback–Leibler divergence KL(p ‖ p′) = Σ_v p(v) (log p(v) − log p′(v)) in nats.
type Influence struct {
	Predicted     int32            `json:"predicted"`      // t*: the most likely next token after the whole prompt
	PredictedText string           `json:"predicted_text"` // its text
	Prob          float64          `json:"prob"`           // p(t*)
	Tokens        []TokenInfluence `json:"tokens"`         // one per prompt position
}

// TokenInfluence is the effect of leaving out the prompt token at Position.
type TokenInfluence struct {
	Position    int     `json:"position"`
	Token       string  `json:"token"`
	ProbWithout float64 `json:"prob_without"` // p′(t*)
	DeltaProb   float64 `json:"delta_prob"`   // p′(t*) − p(t*): negative when the token supported the prediction
	KL          float64 `json:"kl"`           // KL(p ‖ p′), nats
	TopWithout  int32   `json:"top_without"`  // the most likely next token without it
	TopText     string  `json:"top_without_text"`
}

// NextLogits returns the next-token logits after ids, evaluated as a fresh sequence.
type NextLogits func(ids []int32) ([]float32, error)

// LeaveOneOut computes the influence of every prompt token (ids, with their texts in pieces; piece
// gives the text of any token id). progress, when set, is called after each of the len(ids)+1 passes.
func LeaveOneOut(next NextLogits, ids []int32, pieces []string, piece func(int32) string, progress func(done, total int)) (*Influence, error) {
	if len(ids) < 2 {
		return nil, fmt.Errorf("influence: the prompt has %d token(s); leaving one out needs at least 2", len(ids))
	}
	logits, err := next(ids)
	if err != nil {
		return nil, err
	}
	lp := LogSoftmax(logits)
	top := argmax(lp)
	inf := &Influence{Predicted: int32(top), PredictedText: piece(int32(top)), Prob: math.Exp(lp[top])}
	without := make([]int32, 0, len(ids)-1)
	for i := range ids {
		if progress != nil {
			progress(i+1, len(ids)+1)
		}
		without = append(append(without[:0], ids[:i]...), ids[i+1:]...)
		l2, err := next(without)
		if err != nil {
			return nil, fmt.Errorf("influence of position %d: %w", i, err)
		}
		lq := LogSoftmax(l2)
		t2 := argmax(lq)
		inf.Tokens = append(inf.Tokens, TokenInfluence{Position: i, Token: pieces[i], ProbWithout: math.Exp(lq[top]),
			DeltaProb: math.Exp(lq[top]) - inf.Prob, KL: KL(lp, lq), TopWithout: int32(t2), TopText: piece(int32(t2))})
	}
	if progress != nil {
		progress(len(ids)+1, len(ids)+1)
	}
	return inf, nil
}

// LogSoftmax returns log softmax(x) in float64: x_i − max − log Σ_j exp(x_j − max).
func LogSoftmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	ls := mx + math.Log(s)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - ls
	}
	return out
}

// KL is Σ_v p(v) (log p(v) − log q(v)) for log-probabilities lp and lq.
func KL(lp, lq []float64) float64 {
	var s float64
	for i, a := range lp {
		if p := math.Exp(a); p > 0 {
			s += p * (a - lq[i])
		}
	}
	return math.Max(0, s)
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Strongest returns the positions of the k tokens with the largest KL, strongest first.
func (inf *Influence) Strongest(k int) []int {
	idx := make([]int, len(inf.Tokens))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ { // insertion sort: prompts are short
		for j := i; j > 0 && inf.Tokens[idx[j]].KL > inf.Tokens[idx[j-1]].KL; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx[:min(k, len(idx))]
}
