package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/engine/attnviz"
	"github.com/llamago/llamago/internal/progress"
	"github.com/spf13/cobra"
)

type attentionOptions struct {
	modelFlags
	Prompt     string
	PromptFile string
	Out        string
	Layers     string
	Heads      string
	Generate   int
	MaxMB      float64
	NoBOS      bool
	Quiet      bool
	Influence  bool
	Brief      bool
}

func newAttentionCmd() *cobra.Command {
	var o attentionOptions
	cmd := &cobra.Command{
		Use:   "attention -m MODEL -p PROMPT -o DIR",
		Short: "Capture what every attention head looks at, with interactive and image views",
		Long: `Attention runs the prompt (and, with --generate, greedy generation after it) while recording the
post-softmax attention probabilities of the chosen layers and heads, then writes into DIR:

  attention.npy   float32 [layers, heads, query, key] (zeros above the diagonal: future keys)
  attention.json  tokens (text and ids), shape, model and settings
  index.html      head view (tokens on both sides, lines weighted by attention, layer selector, heads
                  toggled by colour, hover a token to isolate it) and model view (every layer × head as a
                  small heatmap, click to enlarge); one self-contained file, no network needed
  layerNN.png     heatmap of each layer (head average) with token labels and a colour bar
  rollout.npy/png attention rollout (Abnar & Zuidema 2020) over the captured layers (consecutive
                  layers only: rollout multiplies one layer's mixing by the next one's)

With --influence (on by default) it also runs the prompt once more for each prompt token, leaving that
token out, and reports how the next-token prediction changes: the probability of the predicted token
and the KL divergence between the two distributions. That is what the prediction depends on, beside
what attention looks at; both are in the summary, attention.json and the page.

It prints a summary: the token each position attends to most, per layer, how spread each head is, and
what to look at first (attention sink, previous-token heads, rollout against influence).
The capture holds layers × heads × positions² values; it is refused above --capture-max-mb.`,
		Example: `  llamago attention -m model.gguf -p "The cat sat on the mat" -o attn/
  llamago attention -m model.gguf -p "The cat sat on the mat" -o attn/ --layers 0,5 --heads 0-3
  llamago attention -m model.gguf -p "Once upon a time" -o attn/ --generate 20`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAttention(cmd.OutOrStdout(), cmd.ErrOrStderr(), pipedStdin(cmd), o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	allowDefaultModel(f)
	f.StringVarP(&o.Prompt, "prompt", "p", "", "the prompt (default: standard input when it is piped)")
	f.StringVarP(&o.PromptFile, "file", "f", "", "read the prompt from this file (-: standard input); one trailing newline is dropped")
	f.StringVarP(&o.Out, "output", "o", "", "folder to write into (required)")
	f.StringVar(&o.Layers, "layers", "", "layers to capture, e.g. 0,5 or 0-3 (default: all)")
	f.StringVar(&o.Heads, "heads", "", "heads to capture, e.g. 0,2 or 0-7 (default: all)")
	f.IntVar(&o.Generate, "generate", 0, "also generate this many tokens (greedy) and capture them")
	f.Float64Var(&o.MaxMB, "capture-max-mb", 1024, "refuse captures larger than this many MB (0: no limit)")
	f.BoolVar(&o.NoBOS, "no-bos", false, "do not add the BOS token the model asks for")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "do not print the summary")
	f.BoolVar(&o.Brief, "brief", false, "print only what to look at, not the per-layer tables")
	f.BoolVar(&o.Influence, "influence", true, "also measure each prompt token's influence on the next-token prediction by running the prompt once more without it (one extra pass per prompt token; --influence=false skips it)")
	return cmd
}

// parseList parses "0,5", "0-3,7" into the numbers it names; "" means all (nil). Each number must lie in
// 0..n-1 (n of what: "layer", "head"), checked before a range is expanded, so "0-99999999999" is a usage
// error naming the allowed range instead of billions of entries.
func parseList(s, flag, what string, n int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	allowed := fmt.Sprintf("%ss are numbered 0 to %d", what, n-1)
	num := func(part, v string) (int, error) {
		x, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, usagef("%s: %q is out of range: %s", flag, part, allowed)
			}
			return 0, usagef("%s: %q is not a number or a range like 0-3 (%s)", flag, part, allowed)
		}
		if x < 0 || x >= n {
			return 0, usagef("%s: %s %d does not exist: %s", flag, what, x, allowed)
		}
		return x, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := num(part, lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = num(part, hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, usagef("%s: %q is not a range like 0-3: it ends before it starts", flag, part)
			}
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
	}
	return out, nil
}

func runAttention(w, stderr io.Writer, stdin io.Reader, o attentionOptions) error {
	if o.Out == "" {
		return usagef("--output/-o is required: the folder to write into")
	}
	if o.Generate < 0 {
		return usagef("--generate must be ≥ 0, got %d", o.Generate)
	}
	maxBytes, err := captureLimit(o.MaxMB)
	if err != nil {
		return err
	}
	text, err := promptText(stdin, o.Prompt, o.PromptFile)
	if err != nil {
		return err
	}
	if err := o.useDefaultModel(stderr); err != nil {
		return err
	}
	lm, err := o.open()
	if err != nil {
		return err
	}
	defer lm.Close()
	lm.printNotes(stderr)
	m := lm.model
	layers, err := parseList(o.Layers, "--layers", "layer", m.Config.BlockCount)
	if err != nil {
		return err
	}
	heads, err := parseList(o.Heads, "--heads", "head", m.Config.HeadCount)
	if err != nil {
		return err
	}
	ids := m.Tokenizer.Encode(text, !o.NoBOS, false)
	if len(ids) == 0 {
		return usagef("the prompt is empty: give one with -p")
	}
	total := len(ids) + o.Generate
	ctx := max(lm.ctx, total)
	if o.Ctx > 0 && total > o.Ctx {
		return fmt.Errorf("the prompt (%d tokens) and --generate %d need %d positions, more than --ctx %d", len(ids), o.Generate, total, o.Ctx)
	}
	if trained := m.Config.ContextLength; total > trained && trained > 0 && o.Ctx == 0 {
		fmt.Fprintf(stderr, "llamago: note: the prompt and --generate take %d positions, more than the %d the model was trained with: attention past them is not what the model learned\n", total, trained)
	}
	sess, err := m.NewSession(ctx, o.Batch)
	if err != nil {
		return err
	}
	defer sess.Close()
	spec := engine.CaptureSpec{Layers: layers, Heads: heads, MaxBytes: maxBytes}
	c, err := sess.StartCapture(spec, total)
	if err != nil {
		return err
	}
	all, err := evalCaptured(sess, ids, o.Generate)
	if err != nil {
		return err
	}
	sess.StopCapture()
	var inf *attnviz.Influence
	if o.Influence && len(ids) > 1 {
		if inf, err = leaveOneOut(sess, lm.model, ids, o.Quiet); err != nil {
			return err
		}
	}
	settings := map[string]any{"prompt": text, "generate": o.Generate, "backend": lm.backend.Name(), "model_file": o.Model,
		"head_count": m.Config.HeadCount, "head_count_kv": m.Config.HeadCountKV}
	summary := attnviz.Summary
	switch {
	case o.Quiet:
		summary = nil
	case o.Brief:
		summary = attnviz.Hints
	}
	return writeAttention(w, stderr, lm, c, all, len(ids), settings, inf, o.Out, summary)
}

// captureLimit turns --capture-max-mb into bytes. 0 means no limit; a negative value or NaN turned the
// limit off without saying so (F16) and is a usage error, as is a limit past int64.
func captureLimit(mb float64) (int64, error) {
	if math.IsNaN(mb) || mb < 0 || mb*1e6 >= math.MaxInt64 {
		return 0, usagef("--capture-max-mb must be a number of MB from 0 (no limit) to %g, got %g", math.MaxInt64/1e6, mb)
	}
	return int64(mb * 1e6), nil
}

// leaveOneOut measures each prompt token's influence on the next-token prediction, reusing the session
// (Reset, then the prompt without that token).
func leaveOneOut(sess *engine.Session, m *engine.Model, ids []int32, quiet bool) (*attnviz.Influence, error) {
	pieces := tokenPieces(m, ids)
	bar := progress.New(int64(len(ids)+1), "influence (leave one out)", false, quiet)
	defer bar.Finish()
	next := func(ids []int32) ([]float32, error) {
		sess.Reset()
		return sess.Eval(ids, false)
	}
	piece := func(id int32) string { return attnviz.Piece(m.Tokenizer.AppendPiece(nil, id, true)) }
	return attnviz.LeaveOneOut(next, ids, pieces, piece, func(done, _ int) { bar.Set(int64(done)) })
}

// tokenPieces returns the display text of each token.
func tokenPieces(m *engine.Model, ids []int32) []string {
	pieces := make([]string, len(ids))
	for i, id := range ids {
		pieces[i] = attnviz.Piece(m.Tokenizer.AppendPiece(nil, id, true))
	}
	return pieces
}

// evalCaptured evaluates the prompt, generates n greedy tokens and evaluates the last one too, so every
// token shown has its own row of attention. It returns prompt and generated ids.
func evalCaptured(sess *engine.Session, ids []int32, n int) ([]int32, error) {
	if n == 0 {
		_, err := sess.Eval(ids, false)
		return ids, err
	}
	gen, _, err := sess.Generate(ids, engine.GenerateOptions{MaxTokens: n, IgnoreEOG: true})
	if err != nil {
		return nil, err
	}
	if _, err := sess.Eval(gen[len(gen)-1:], false); err != nil {
		return nil, err
	}
	return append(append([]int32(nil), ids...), gen...), nil
}

// writeAttention writes every output, prints the summary on w and names the files on stderr.
func writeAttention(w, stderr io.Writer, lm *loadedModel, c *engine.AttentionCapture, ids []int32, prompt int, settings map[string]any,
	inf *attnviz.Influence, dir string, summary func(*attnviz.Report, io.Writer) error) error {
	pieces := tokenPieces(lm.model, ids)
	name := lm.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(lm.file.Path), ".gguf")
	}
	nm := lm.numerics()
	settings["activations"], settings["kv_type"] = nm.Activations, nm.KVType
	r, err := attnviz.New(c, name, ids, pieces, prompt, settings)
	if err != nil {
		return err
	}
	r.Influence = inf
	if err := r.WriteFiles(dir); err != nil {
		return err
	}
	if summary != nil {
		if err := summary(r, w); err != nil {
			return err
		}
	} else if r.RolloutNote != "" {
		fmt.Fprintf(stderr, "llamago: note: %s\n", r.RolloutNote)
	}
	fmt.Fprintf(stderr, "wrote %s: %s\n", dir, strings.Join(r.Files, ", "))
	fmt.Fprintf(stderr, "open %s in a browser: %s\n", filepath.Join(dir, "index.html"), viewsOf(r))
	return nil
}

// viewsOf names the views a report's page has: rollout only for consecutive layers, influence only when
// it was measured.
func viewsOf(r *attnviz.Report) string {
	views := []string{"head view", "model view"}
	if r.HasRollout() {
		views = append(views, "rollout")
	}
	if r.Influence != nil {
		views = append(views, "influence")
	}
	return strings.Join(views[:len(views)-1], ", ") + " and " + views[len(views)-1]
}

// runCapture collects attention during 'llamago run --capture-attn DIR'.
type runCapture struct {
	dir string
	lm  *loadedModel
	s   *engine.Session
	c   *engine.AttentionCapture
}

func newRunCapture(dir string, lm *loadedModel, s *engine.Session, positions int, maxMB float64) (*runCapture, error) {
	if dir == "" {
		return nil, nil
	}
	maxBytes, err := captureLimit(maxMB)
	if err != nil {
		return nil, err
	}
	c, err := s.StartCapture(engine.CaptureSpec{MaxBytes: maxBytes}, positions)
	if err != nil {
		return nil, err
	}
	return &runCapture{dir: dir, lm: lm, s: s, c: c}, nil
}

// write evaluates the last generated token (so it has a row) and writes the capture.
func (rc *runCapture) write(w io.Writer, prompt, gen []int32, text string) error {
	ids := append(append([]int32(nil), prompt...), gen...)
	if len(gen) > 0 && rc.c.Positions() < len(ids) {
		if rc.s.Pos() >= rc.s.Context() {
			ids = ids[:len(ids)-1] // no room to evaluate the last token: it has no row
		} else if _, err := rc.s.Eval(gen[len(gen)-1:], false); err != nil {
			return err
		}
	}
	rc.s.StopCapture()
	cfg := rc.lm.model.Config
	settings := map[string]any{"prompt": text, "generate": len(gen), "backend": rc.lm.backend.Name(), "source": "llamago run",
		"head_count": cfg.HeadCount, "head_count_kv": cfg.HeadCountKV}
	return writeAttention(io.Discard, w, rc.lm, rc.c, ids, len(prompt), settings, nil, rc.dir, nil)
}
