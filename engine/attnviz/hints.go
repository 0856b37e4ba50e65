package attnviz

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
)

// minInfluenceKL is the KL divergence below which leaving a token out is not said to change the prediction.
const minInfluenceKL = 0.05

// wordPiece reports whether tok continues the word before it: no leading space, not a control token, and
// a letter or digit in it (punctuation after a word is not a piece of it).
func wordPiece(tok string) bool {
	if tok == "" || strings.HasPrefix(tok, " ") || strings.HasPrefix(tok, "<") {
		return false
	}
	return strings.IndexFunc(tok, func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }) >= 0
}

// scope names the layers and heads the capture holds, as rollout and averages follow them: "every layer"
// when it holds them all.
func (r *Report) scope() string {
	allLayers, allHeads := r.capture.Whole()
	s := "layers " + intList(r.Layers)
	if allLayers {
		s = "every layer"
	}
	if !allHeads {
		s += " (heads " + intList(r.Heads) + " only)"
	}
	return s
}

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
	// Previous-token heads: mean weight on key t−1 over rows t ≥ 2 (of the prompt and generated tokens):
	// row 1's previous token is the first, where the sink puts attention anyway.
	type headScore struct {
		layer, head int // the model's
		li, hi      int // the capture's
		v           float64
	}
	var prev []headScore
	for li, l := range r.Layers {
		for hi, h := range r.Heads {
			if n < 3 {
				break
			}
			var s float64
			for q := 2; q < n; q++ {
				s += float64(r.capture.Probs[li][hi][q][q-1])
			}
			prev = append(prev, headScore{l, h, li, hi, s / float64(n-2)})
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
		fmt.Fprintf(w, "  • previous-token heads: %s put that share of each row's attention on the token just before\n"+
			"    (rows 2 on: row 1's previous token is the first).\n", strings.Join(parts, ", "))
		// A word split into pieces, if the prompt has one that the best head shows reading its earlier piece.
		best := prev[0]
		for q := 2; q < r.Prompt; q++ {
			tok := r.Tokens[q]
			if !wordPiece(tok) || strings.TrimSpace(r.Tokens[q-1]) == "" {
				continue
			}
			if v := r.capture.Probs[best.li][best.hi][q][q-1]; v >= 0.3 {
				fmt.Fprintf(w, "    They let a word's later piece read the earlier one: in layer %d head %d, %s puts %.2f on %s.\n",
					best.layer, best.head, quote(tok), v, quote(r.Tokens[q-1]))
			}
			break
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
			even := ""
			if !standsOut(avg[last][:last+1], best, 1) {
				even = " (no clear focus)"
			}
			parts = append(parts, fmt.Sprintf("L%d %s %.2f%s", l, quote(r.Tokens[best]), avg[last][best], even))
		}
		fmt.Fprintf(w, "  • the last prompt token %s predicts the next one; besides %s it looks most at: %s\n",
			quote(r.Tokens[last]), quote(r.Tokens[0]), strings.Join(parts, ", "))
	}
	// Rollout and influence are compared over the prompt's middle: the first token is the sink, and
	// leaving out the last one changes which position predicts (its influence is always the largest).
	rollTop, rollTie := -1, -1 // rollout's top token, and the one as high (a tie) or −1
	if r.HasRollout() && last >= 2 {
		roll := r.Rollout()
		rollTop = 1
		for k := 1; k < last; k++ {
			if roll[last][k] > roll[last][rollTop] {
				rollTop = k
			}
		}
		second := -1 // the runner-up, to say when the top is a tie
		for k := 1; k < last; k++ {
			if k != rollTop && (second < 0 || roll[last][k] > roll[last][second]) {
				second = k
			}
		}
		fmt.Fprintf(w, "  • rollout (attention followed through %s, with the residual path): besides %s and itself,\n"+
			"    %s's final representation draws most on %d %s (%.3f)", r.scope(), quote(r.Tokens[0]), quote(r.Tokens[last]), rollTop, quote(r.Tokens[rollTop]), roll[last][rollTop])
		if second >= 0 && roll[last][second] >= 0.95*roll[last][rollTop] {
			fmt.Fprintf(w, ", about as much as on %d %s (%.3f): a tie", second, quote(r.Tokens[second]), roll[last][second])
			rollTie = second
		}
		fmt.Fprintln(w)
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
		if infTop >= 0 && inf.Tokens[infTop].KL < minInfluenceKL {
			fmt.Fprintf(w, "    None changes it much (KL below %.2f): no single token of the middle is what the prediction depends on.\n", minInfluenceKL)
			infTop = -1
		}
		rollAt := fmt.Sprintf("%d %s", rollTop, quote(r.Tokens[max(rollTop, 0)]))
		if rollTie >= 0 {
			rollAt += fmt.Sprintf(" and %d %s (a tie)", rollTie, quote(r.Tokens[rollTie]))
		}
		switch {
		case rollTop < 0 || infTop < 0:
		case rollTop == infTop || rollTie == infTop:
			fmt.Fprintf(w, "    rollout and influence agree on %d %s.\n", infTop, quote(r.Tokens[infTop]))
		default:
			fmt.Fprintf(w, "    rollout points at %s, influence at %d %s: attention shows where information is read from,\n"+
				"    not what the prediction depends on. Compare the two columns on the page.\n", rollAt, infTop, quote(r.Tokens[infTop]))
		}
	}
}
