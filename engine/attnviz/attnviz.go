// Package attnviz turns captured attention into files people and programs read: attention.npy and
// attention.json for NumPy and JSON readers, a self-contained index.html with BERTViz-style head and model
// views, PNG heatmaps per layer, attention rollout (Abnar & Zuidema, 2020) and a terminal summary.
package attnviz

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/internal/atomicfile"
	"github.com/llamago/llamago/internal/npy"
)

// Report is a capture together with what it was captured on.
type Report struct {
	Model    string         `json:"model"`
	IDs      []int32        `json:"ids"`
	Tokens   []string       `json:"tokens"` // the text of each position's token
	Prompt   int            `json:"prompt_tokens"`
	Layers   []int          `json:"layers"`
	Heads    []int          `json:"heads"`
	Shape    []int          `json:"shape"` // of attention.npy: [layers, heads, query, key]
	Axes     []string       `json:"axes"`  // attention.npy's axes by name: layer, head, query, key
	Settings map[string]any `json:"settings"`
	Files    []string       `json:"files"`
	// Influence of each prompt token on the next-token prediction (leave-one-out), when measured.
	Influence *Influence `json:"influence,omitempty"`
	// RolloutNote says why there is no rollout (the captured layers are not consecutive); "" when there is.
	RolloutNote string `json:"rollout_note,omitempty"`

	capture     *engine.AttentionCapture
	rollout     [][]float64 // Rollout's result, made once (every view uses it)
	rolloutOnce sync.Once
}

// New builds a report; tokens[i] is the display text of ids[i], prompt how many of them were the prompt.
func New(c *engine.AttentionCapture, model string, ids []int32, tokens []string, prompt int, settings map[string]any) (*Report, error) {
	if c.Positions() != len(ids) || len(tokens) != len(ids) {
		return nil, fmt.Errorf("attnviz: %d captured positions for %d tokens", c.Positions(), len(ids))
	}
	for l := range c.Probs {
		for h := range c.Probs[l] {
			for q, row := range c.Probs[l][h] {
				if len(row) != q+1 {
					return nil, fmt.Errorf("attnviz: layer %d head %d query %d was not captured", c.Layers[l], c.Heads[h], q)
				}
			}
		}
	}
	n := len(ids)
	r := &Report{Model: model, IDs: ids, Tokens: tokens, Prompt: prompt, Layers: c.Layers, Heads: c.Heads,
		Shape: []int{len(c.Layers), len(c.Heads), n, n}, Axes: []string{"layer", "head", "query", "key"}, Settings: settings, capture: c}
	if err := r.rolloutOK(); err != nil {
		r.RolloutNote = err.Error()
	}
	return r, nil
}

// rolloutOK says whether rollout means anything for the captured layers: it multiplies each layer's
// mixing by the next one's, so the layers must follow one another (1,2,3, not 0,4).
func (r *Report) rolloutOK() error {
	for i := 1; i < len(r.Layers); i++ {
		if r.Layers[i] != r.Layers[i-1]+1 {
			return fmt.Errorf("no attention rollout: it multiplies consecutive layers, and layers %s are not consecutive (capture a range such as --layers %d-%d, or all layers)",
				intList(r.Layers), r.Layers[0], r.Layers[len(r.Layers)-1])
		}
	}
	return nil
}

// HasRollout reports whether the rollout is defined (consecutive layers captured).
func (r *Report) HasRollout() bool { return r.RolloutNote == "" }

// HeadAverage returns layer index li's attention averaged over the captured heads, [query][key].
func (r *Report) HeadAverage(li int) [][]float64 {
	n := len(r.IDs)
	out := make([][]float64, n)
	for q := range out {
		out[q] = make([]float64, n)
		for h := range r.capture.Probs[li] {
			for k, v := range r.capture.Probs[li][h][q] {
				out[q][k] += float64(v) / float64(len(r.Heads))
			}
		}
	}
	return out
}

// Rollout is attention rollout over the captured layers, in order: Ã_l = rownorm(mean_h A_l + I),
// R = Ã_L ⋯ Ã_1. R[q][k] is how much of position q's final representation flows from input token k.
// It is meaningful only when HasRollout. It is computed once; callers must not change it.
func (r *Report) Rollout() [][]float64 {
	r.rolloutOnce.Do(func() { r.rollout = r.computeRollout() })
	return r.rollout
}

func (r *Report) computeRollout() [][]float64 {
	n := len(r.IDs)
	roll := identity(n)
	for li := range r.Layers {
		a := r.HeadAverage(li)
		for q := range a {
			a[q][q]++
			var s float64
			for _, v := range a[q] {
				s += v
			}
			for k := range a[q] {
				a[q][k] /= s
			}
		}
		roll = matmul(a, roll)
	}
	return roll
}

func identity(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
		m[i][i] = 1
	}
	return m
}

// matmul is a·b for lower-triangular (causal) a and b: out[i][j] sums k from j to i only, the terms the
// zeros above the diagonals leave (a sixth of the dense product's; the same sums, the zeros' terms being
// zero).
func matmul(a, b [][]float64) [][]float64 {
	n := len(a)
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, n)
		o := out[i][:i+1]
		for k, av := range a[i][:i+1] {
			if av == 0 {
				continue
			}
			for j, bv := range b[k][:k+1] {
				o[j] += av * bv
			}
		}
	}
	return out
}

// Entropy is the mean entropy (in nats) of head hi's rows in layer li; low entropy means focused attention.
func (r *Report) Entropy(li, hi int) float64 {
	var sum float64
	rows := r.capture.Probs[li][hi]
	for _, row := range rows {
		for _, p := range row {
			if p > 0 {
				sum -= float64(p) * math.Log(float64(p))
			}
		}
	}
	return sum / float64(len(rows))
}

// NormEntropy is the mean over rows of head hi's entropy in layer li divided by the largest it can be:
// row t of causal attention sees t+1 keys, so its entropy is at most ln(t+1). 0 means every row looks at
// one token, 1 that every row spreads evenly over all it can see. Row 0 (one key, no choice) is left out.
func (r *Report) NormEntropy(li, hi int) float64 {
	var sum float64
	rows := r.capture.Probs[li][hi]
	if len(rows) < 2 {
		return 0
	}
	for t, row := range rows[1:] {
		var h float64
		for _, p := range row {
			if p > 0 {
				h -= float64(p) * math.Log(float64(p))
			}
		}
		sum += h / math.Log(float64(t+2))
	}
	return sum / float64(len(rows)-1)
}

// Piece is a token's text as the views show it: its bytes where they are UTF-8, and each byte that is not
// (a byte token: part of a character the next tokens complete) as llama.cpp names it, <0xF0>, so that the
// JSON, the page, the images and the terminal show the same thing and byte tokens stay apart.
func Piece(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&s, "<0x%02X>", b[0])
		} else {
			s.Write(b[:n])
		}
		b = b[n:]
	}
	return s.String()
}

// standsOut reports whether key best of row (among keys from..len(row)-1) has clearly more weight than
// any other there, 1.5 times the runner-up's: a row near even has a largest weight too, but it says
// nothing.
func standsOut(row []float64, best, from int) bool {
	second := 0.0
	for k := from; k < len(row); k++ {
		if k != best {
			second = max(second, row[k])
		}
	}
	return row[best] >= 1.5*second
}

// mostAttended returns the key row q of m gives the most weight to.
func mostAttended(m [][]float64, q int) int {
	best := 0
	for k := range m[q][:q+1] {
		if m[q][k] > m[q][best] {
			best = k
		}
	}
	return best
}

// WriteSummary prints, for each captured layer, the token each position attends to most (head average)
// and how focused each head is, then what a student should look at first.
func (r *Report) WriteSummary(w io.Writer) error {
	n := len(r.IDs)
	fmt.Fprintf(w, "attention of %s over %d tokens (%d prompt", r.Model, n, r.Prompt)
	if n > r.Prompt {
		fmt.Fprintf(w, ", %d generated: %s", n-r.Prompt, quote(strings.Join(r.Tokens[r.Prompt:], "")))
	}
	fmt.Fprintf(w, "), %d layers × %d heads captured\n", len(r.Layers), len(r.Heads))
	for li, l := range r.Layers {
		avg := r.HeadAverage(li)
		fmt.Fprintf(w, "\nlayer %d — the token each position attends to most (row = attending token, average of the heads):\n", l)
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
		for q := 0; q < n; q++ {
			best := mostAttended(avg, q)
			gen := ""
			if q >= r.Prompt {
				gen = "\t(generated)"
			}
			even := "\t"
			if q > 0 && !standsOut(avg[q][:q+1], best, 0) {
				even = "\t(no clear focus: the next is within 1.5×)"
			}
			fmt.Fprintf(tw, "  %3d %s\t→ %3d %s\t%.2f%s%s\n", q, quote(r.Tokens[q]), best, quote(r.Tokens[best]), avg[q][best], even, gen)
		}
		tw.Flush()
		var ent []string
		for hi, h := range r.Heads {
			ent = append(ent, fmt.Sprintf("h%d %.2f", h, r.NormEntropy(li, hi)))
		}
		fmt.Fprintf(w, "  head spread (entropy ÷ its maximum ln(t+1) for row t; 0 = one token, 1 = evenly over all it can see): %s\n", strings.Join(ent, "  "))
	}
	if r.RolloutNote != "" {
		fmt.Fprintf(w, "\n%s\n", r.RolloutNote)
	}
	r.writeHints(w)
	return nil
}

// Summary and Hints are WriteSummary and WriteHints as functions of a report.
var (
	Summary = (*Report).WriteSummary
	Hints   = (*Report).WriteHints
)

// WriteHints prints only the "what to look at" part of the summary.
func (r *Report) WriteHints(w io.Writer) error {
	if r.RolloutNote != "" {
		fmt.Fprintf(w, "%s\n", r.RolloutNote)
	}
	r.writeHints(w)
	return nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// WriteFiles writes every output into dir (created if needed) and records them in r.Files.
// Files an earlier run left (other layers, a rollout this run has not) are removed first, so the folder
// never mixes two runs.
func (r *Report) WriteFiles(dir string) error {
	// A broken model's NaN weights would fail the page's JSON half-way through the folder (F13): say so
	// before anything is written.
	for l := range r.capture.Probs {
		for h := range r.capture.Probs[l] {
			for q, row := range r.capture.Probs[l][h] {
				for _, v := range row {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						return fmt.Errorf("the attention weights of layer %d, head %d, query %d are not finite numbers (NaN or Inf): the model's weights are broken; nothing was written",
							r.Layers[l], r.Heads[h], q)
					}
				}
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := removeStale(dir); err != nil {
		return err
	}
	shape, dense := r.capture.Dense()
	steps := []struct {
		name string
		fn   func(path string) error
	}{
		{"attention.npy", func(p string) error { return npy.WriteFloat32File(p, shape, dense) }},
		{"rollout.npy", func(p string) error { // steps[1], dropped without rollout
			return npy.WriteFloat32File(p, []int{len(r.IDs), len(r.IDs)}, flatten(r.Rollout()))
		}},
		{"index.html", r.writeHTML},
		{"rollout.png", func(p string) error {
			return writeHeatmapPNG(p, r.Rollout(), r.Tokens, r.Prompt, "attention rollout over layers "+intList(r.Layers), "share of output")
		}},
	}
	if !r.HasRollout() {
		steps = append(steps[:1], steps[2]) // attention.npy and index.html
	}
	for li, l := range r.Layers {
		li, l := li, l
		steps = append(steps, struct {
			name string
			fn   func(path string) error
		}{fmt.Sprintf("layer%02d.png", l), func(p string) error {
			return writeHeatmapPNG(p, r.HeadAverage(li), r.Tokens, r.Prompt, fmt.Sprintf("layer %d, average of heads %s", l, intList(r.Heads)), "attention")
		}})
	}
	for _, s := range steps {
		if err := s.fn(filepath.Join(dir, s.name)); err != nil {
			return fmt.Errorf("writing %s: %w", s.name, err)
		}
		r.Files = append(r.Files, s.name)
	}
	r.Files = append(r.Files, "attention.json")
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "attention.json"), "attnviz", append(raw, '\n'))
}

// removeStale removes the files a previous run of WriteFiles may have left in dir.
func removeStale(dir string) error {
	old, _ := filepath.Glob(filepath.Join(dir, "layer[0-9][0-9]*.png"))
	old = append(old, filepath.Join(dir, "rollout.npy"), filepath.Join(dir, "rollout.png"))
	for _, p := range old {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func flatten(m [][]float64) []float32 {
	var out []float32
	for _, row := range m {
		for _, v := range row {
			out = append(out, float32(v))
		}
	}
	return out
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	if len(s) > 8 {
		return fmt.Sprintf("%s…%s (%d)", strings.Join(s[:3], ","), s[len(s)-1], len(s))
	}
	return strings.Join(s, ",")
}
