package attnviz

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// writeHints prints what a student should look at first: the attention sink, previous-token heads, where
// the last prompt token looks layer by layer, and (when measured) which tokens the prediction depends
// on, compared with what rollout says.
func (r *Report) writeHints(w io.Writer) {
	n := len(r.IDs)
	if n < 2 {
		return
	}
	fmt.Fprintf(w, "\nwhat to look at:\n")
	// The attention sink: rows whose most attended key is position 0.
	var sinkLayers []string
	for li, l := range r.Layers {
		avg := r.HeadAverage(li)
		count := 0
		for q := 1; q < n; q++ {
			if mostAttended(avg, q) == 0 {
				count++
			}
		}
		if 2*count > n-1 {
			sinkLayers = append(sinkLayers, fmt.Sprint(l))
		}
	}
	if len(sinkLayers) > 0 {
		fmt.Fprintf(w, "  • attention sink: in layer %s most positions attend most to the first token %s. Models park attention\n"+
			"    there when nothing else is relevant; read the other lines of the head view (hover a token) for what is.\n",
			strings.Join(sinkLayers, ", "), quote(r.Tokens[0]))
	}
	// Previous-token heads: mean weight on key t−1 over rows t ≥ 1 (of the prompt and generated tokens).
	type headScore struct {
		layer, head int
		v           float64
	}
	var prev []headScore
	for li, l := range r.Layers {
		for hi, h := range r.Heads {
			var s float64
			for q := 1; q < n; q++ {
				s += float64(r.capture.Probs[li][hi][q][q-1])
			}
			prev = append(prev, headScore{l, h, s / float64(n-1)})
		}
	}
	sort.SliceStable(prev, func(i, j int) bool { return prev[i].v > prev[j].v })
	if len(prev) > 0 && prev[0].v >= 0.4 {
		var parts []string
		for _, p := range prev[:min(3, len(prev))] {
			if p.v >= 0.4 {
				parts = append(parts, fmt.Sprintf("layer %d head %d (%.2f)", p.layer, p.head, p.v))
			}
		}
		fmt.Fprintf(w, "  • previous-token heads: %s put that share of each row's attention on the token just before.\n", strings.Join(parts, ", "))
		for q := 2; q < r.Prompt; q++ { // a word split into pieces, if the prompt has one
			if tok := r.Tokens[q]; tok != "" && !strings.HasPrefix(tok, " ") && !strings.HasPrefix(tok, "<") && strings.TrimSpace(r.Tokens[q-1]) != "" {
				fmt.Fprintf(w, "    They let a word's later piece read the earlier one: %s after %s.\n", quote(tok), quote(r.Tokens[q-1]))
				break
			}
		}
	}
	// Where the last prompt token looks, layer by layer, besides the first token.
	last := r.Prompt - 1
	if last >= 2 {
		var parts []string
		for li, l := range r.Layers {
			avg := r.HeadAverage(li)
			best := 1
			for k := 1; k <= last; k++ {
				if avg[last][k] > avg[last][best] {
					best = k
				}
			}
			parts = append(parts, fmt.Sprintf("L%d %s %.2f", l, quote(r.Tokens[best]), avg[last][best]))
		}
		fmt.Fprintf(w, "  • the last prompt token %s predicts the next one; besides %s it looks most at: %s\n",
			quote(r.Tokens[last]), quote(r.Tokens[0]), strings.Join(parts, ", "))
	}
	// Rollout and influence are compared over the prompt's middle: the first token is the sink, and
	// leaving out the last one changes which position predicts (its influence is always the largest).
	rollTop := -1
	if r.HasRollout() && last >= 2 {
		roll := r.Rollout()
		rollTop = 1
		for k := 1; k < last; k++ {
			if roll[last][k] > roll[last][rollTop] {
				rollTop = k
			}
		}
		fmt.Fprintf(w, "  • rollout (attention followed through every layer, with the residual path): besides %s and itself,\n"+
			"    %s's final representation draws most on %d %s (%.2f)\n", quote(r.Tokens[0]), quote(r.Tokens[last]), rollTop, quote(r.Tokens[rollTop]), roll[last][rollTop])
	}
	if inf := r.Influence; inf != nil && len(inf.Tokens) > 2 {
		var parts []string
		infTop := -1
		for _, i := range inf.Strongest(len(inf.Tokens)) {
			t := inf.Tokens[i]
			if t.Position == 0 || t.Position == len(inf.Tokens)-1 {
				continue
			}
			if infTop < 0 {
				infTop = t.Position
			}
			if len(parts) < 3 {
				parts = append(parts, fmt.Sprintf("%d %s (KL %.2f, p → %.2f)", t.Position, quote(t.Token), t.KL, t.ProbWithout))
			}
		}
		fmt.Fprintf(w, "  • influence: after the prompt the model predicts %s (p %.2f). Besides the first and last tokens, leaving\n"+
			"    out these changes the prediction most: %s\n", quote(inf.PredictedText), inf.Prob, strings.Join(parts, ", "))
		switch {
		case rollTop < 0 || infTop < 0:
		case rollTop == infTop:
			fmt.Fprintf(w, "    rollout and influence agree on %d %s.\n", infTop, quote(r.Tokens[infTop]))
		default:
			fmt.Fprintf(w, "    rollout points at %d %s, influence at %d %s: attention shows where information is read from, not\n"+
				"    what the prediction depends on. Compare the two columns on the page.\n", rollTop, quote(r.Tokens[rollTop]), infTop, quote(r.Tokens[infTop]))
		}
	}
}
