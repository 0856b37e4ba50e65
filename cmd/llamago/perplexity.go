package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/atomicfile"
	"github.com/llamago/llamago/internal/progress"
	"github.com/spf13/cobra"
)

type perplexityOptions struct {
	modelFlags
	File   string
	Chunks int
	KLBase string
	KLDiv  bool
	JSON   bool
	Quiet  bool
}

func newPerplexityCmd() *cobra.Command {
	var o perplexityOptions
	cmd := &cobra.Command{
		Use:   "perplexity -m MODEL -f TEXT",
		Short: "Measure perplexity on a text the way llama.cpp does, and KL divergence against a base model",
		Long: `Perplexity splits the tokenized text into chunks of --ctx tokens (the first token of each chunk is
BOS when the model uses one), evaluates each chunk, and scores the second half of every chunk:
PPL = exp(mean negative log-likelihood of each next token), with its standard error. This is
llama.cpp's perplexity tool's method, so the numbers compare.

To see what a quantization costs, save the full-precision model's log-probabilities first, then
compare a quantized model against them:
  llamago perplexity -m model-f16.gguf  -f text.txt --kl-divergence-base base.kld
  llamago perplexity -m model-q4_0.gguf -f text.txt --kl-divergence-base base.kld --kl-divergence
The comparison reports the mean KL divergence (base ‖ model), how often both pick the same top
token, and both perplexities. The base file stores vocab × scored-positions float32 values.`,
		Example: `  llamago perplexity -m model.gguf -f wiki.test.raw --ctx 512 --chunks 20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("ctx") {
				o.Ctx = 512
			}
			return runPerplexity(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	f.Lookup("ctx").Usage = "tokens per chunk (default 512, as llama-perplexity)"
	f.StringVarP(&o.File, "file", "f", "", "text file to score (required)")
	f.IntVar(&o.Chunks, "chunks", 0, "score at most this many chunks (0: all)")
	f.StringVar(&o.KLBase, "kl-divergence-base", "", "file of base log-probabilities: written, or read with --kl-divergence")
	f.BoolVar(&o.KLDiv, "kl-divergence", false, "compare against --kl-divergence-base instead of writing it")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no per-chunk progress on stderr")
	return cmd
}

// pplResult is the outcome of a perplexity run.
type pplResult struct {
	Model     string  `json:"model"`
	Ctx       int     `json:"ctx"`
	Chunks    int     `json:"chunks"`
	Scored    int     `json:"scored_tokens"`
	PPL       float64 `json:"perplexity"`
	PPLErr    float64 `json:"perplexity_stderr"`
	Seconds   float64 `json:"seconds"`
	BasePPL   float64 `json:"base_perplexity,omitempty"`
	MeanKL    float64 `json:"mean_kl_divergence,omitempty"`
	MeanKLErr float64 `json:"mean_kl_divergence_stderr,omitempty"`
	SameTop   float64 `json:"same_top_token_fraction,omitempty"`
	BaseFile  string  `json:"kl_divergence_base,omitempty"`
	numerics
}

func runPerplexity(stdout, stderr io.Writer, o perplexityOptions) error {
	if o.File == "" {
		return usagef("--file/-f is required: the text to score")
	}
	if o.KLDiv && o.KLBase == "" {
		return usagef("--kl-divergence needs --kl-divergence-base FILE (written by a run without --kl-divergence)")
	}
	if o.Ctx < 8 {
		return usagef("--ctx must be at least 8 for perplexity, got %d", o.Ctx)
	}
	text, err := readTextFile(o.File)
	if err != nil {
		return err
	}
	lm, err := o.open()
	if err != nil {
		return err
	}
	defer lm.Close()
	lm.printNotes(stderr)
	m := lm.model
	tokens := m.Tokenizer.Encode(text, true, false)
	nctx := o.Ctx
	chunks := len(tokens) / nctx
	if o.Chunks > 0 {
		chunks = min(chunks, o.Chunks)
	}
	if chunks == 0 {
		return fmt.Errorf("%s is %d tokens, fewer than one chunk of --ctx %d: use a longer text or a smaller --ctx", o.File, len(tokens), nctx)
	}
	first := nctx / 2
	perChunk := nctx - 1 - first
	vocab := m.Config.VocabSize

	var base *kldBase
	var saver *kldWriter
	switch {
	case o.KLDiv:
		if base, err = openKLDBase(o.KLBase, tokens, nctx, chunks, vocab); err != nil {
			return err
		}
		defer base.Close()
	case o.KLBase != "":
		if saver, err = newKLDWriter(o.KLBase, tokens[:chunks*nctx], nctx, chunks*perChunk, vocab, o.Model); err != nil {
			return err
		}
		defer saver.abort()
	}

	sess, err := m.NewSession(nctx, o.Batch)
	if err != nil {
		return err
	}
	defer sess.Close()
	var nll, nll2, kl, kl2, same, baseNLL float64
	n := 0
	bar := progress.New(int64(chunks), "perplexity", false, o.Quiet)
	start := time.Now()
	lp := make([]float64, vocab)
	for c := 0; c < chunks; c++ {
		chunk := append([]int32(nil), tokens[c*nctx:(c+1)*nctx]...)
		if m.Tokenizer.AddBOS {
			chunk[0] = m.Tokenizer.BOS
		}
		sess.Reset()
		logits, err := sess.Eval(chunk, true)
		if err != nil {
			return err
		}
		for j := first; j < nctx-1; j++ {
			logSoftmax(logits[j*vocab:(j+1)*vocab], lp)
			next := tokens[c*nctx+j+1]
			v := -lp[next]
			nll += v
			nll2 += v * v
			if saver != nil {
				if err := saver.write(lp); err != nil {
					return err
				}
			}
			if base != nil {
				blp := base.row(n)
				var d float64
				for i, b := range blp {
					pb := math.Exp(float64(b))
					d += pb * (float64(b) - lp[i])
				}
				kl += d
				kl2 += d * d
				if engine.Argmax(blp) == engine.Argmax(lp) {
					same++
				}
				baseNLL += -float64(blp[next])
			}
			n++
		}
		bar.Set(int64(c + 1))
		if !o.Quiet && !progress.Enabled() {
			fmt.Fprintf(stderr, "[%d]%.4f,", c+1, math.Exp(nll/float64(n)))
		}
	}
	bar.Finish()
	if !o.Quiet && !progress.Enabled() {
		fmt.Fprintln(stderr)
	}
	r := pplResult{Model: o.Model, Ctx: nctx, Chunks: chunks, Scored: n, Seconds: time.Since(start).Seconds(), numerics: lm.numerics()}
	mean := nll / float64(n)
	r.PPL = math.Exp(mean)
	r.PPLErr = r.PPL * stderrOf(nll, nll2, n)
	if saver != nil {
		if err := saver.finish(); err != nil {
			return err
		}
		r.BaseFile = o.KLBase
	}
	if base != nil {
		r.BaseFile = o.KLBase
		r.BasePPL = math.Exp(baseNLL / float64(n))
		r.MeanKL = kl / float64(n)
		r.MeanKLErr = stderrOf(kl, kl2, n)
		r.SameTop = same / float64(n)
	}
	if o.JSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "perplexity of %s: %d chunks of %d tokens, %d tokens scored in %.1f s\n", filepath.Base(o.Model), chunks, nctx, n, r.Seconds)
	fmt.Fprintf(stdout, "Final estimate: PPL = %.4f +/- %.5f\n", r.PPL, r.PPLErr)
	if saver != nil {
		fmt.Fprintf(stdout, "saved base log-probabilities to %s (compare with --kl-divergence)\n", o.KLBase)
	}
	if base != nil {
		fmt.Fprintf(stdout, "base PPL       = %.4f (ln ratio %+.5f)\n", r.BasePPL, math.Log(r.PPL/r.BasePPL))
		fmt.Fprintf(stdout, "mean KLD       = %.6f +/- %.6f\n", r.MeanKL, r.MeanKLErr)
		fmt.Fprintf(stdout, "same top token = %.3f%%\n", 100*r.SameTop)
	}
	return nil
}

// stderrOf is the standard error of the mean of n values with sum s and sum of squares s2.
func stderrOf(s, s2 float64, n int) float64 {
	if n < 2 {
		return 0
	}
	mean := s / float64(n)
	v := s2/float64(n) - mean*mean
	return math.Sqrt(math.Max(v, 0) / float64(n-1))
}

// logSoftmax writes log(softmax(x)) into out, in float64.
func logSoftmax(x []float32, out []float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	for i, v := range x {
		out[i] = float64(v) - lse
	}
}

// The KL-divergence base is a GGUF file (written with llamago's own writer): metadata naming the model,
// context and tokens, and one F32 tensor "logprobs" of [positions][vocab] log-probabilities.

type kldWriter struct {
	path string
	tmp  *atomicfile.File
	w    *gguf.Writer
	row  []float32
	buf  []byte
}

func newKLDWriter(path string, tokens []int32, nctx, positions, vocab int, model string) (*kldWriter, error) {
	tmp, err := atomicfile.Create(path, "kld")
	if err != nil {
		return nil, err
	}
	w := gguf.NewWriter(tmp)
	w.Metadata.Set("general.architecture", "llamago-kld")
	w.Metadata.Set("llamago.kld.model", filepath.Base(model))
	w.Metadata.Set("llamago.kld.ctx", uint32(nctx))
	w.Metadata.Set("llamago.kld.tokens", tokens)
	if err := w.AddTensor("logprobs", gguf.TypeF32, uint64(vocab), uint64(positions)); err != nil {
		tmp.Abort()
		return nil, err
	}
	return &kldWriter{path: path, tmp: tmp, w: w, row: make([]float32, vocab), buf: make([]byte, 4*vocab)}, nil
}

func (k *kldWriter) write(lp []float64) error {
	for i, v := range lp {
		k.row[i] = float32(v)
	}
	if err := gguf.Quantize(gguf.TypeF32, k.row, k.buf); err != nil {
		return err
	}
	_, err := k.w.Write(k.buf)
	return err
}

func (k *kldWriter) finish() error {
	if err := k.w.Close(); err != nil {
		return err
	}
	err := k.tmp.Commit()
	k.tmp = nil
	return err
}

// abort removes the temporary file when finish was not reached.
func (k *kldWriter) abort() {
	if k.tmp != nil {
		k.tmp.Abort()
	}
}

type kldBase struct {
	f     *gguf.File
	data  []byte // the logprobs tensor, mapped
	row32 []float32
	vocab int
}

func openKLDBase(path string, tokens []int32, nctx, chunks, vocab int) (*kldBase, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--kl-divergence-base: %w", err)
	}
	fail := func(format string, a ...any) (*kldBase, error) {
		f.Close()
		return nil, fmt.Errorf("--kl-divergence-base %s: "+format, append([]any{path}, a...)...)
	}
	ctx, err := f.Metadata.Int("llamago.kld.ctx")
	if err != nil {
		return fail("not a llamago KL-divergence base file (%v)", err)
	}
	if int(ctx) != nctx {
		return fail("was written with --ctx %d, this run uses %d", ctx, nctx)
	}
	baseTokens, err := f.Metadata.Int32s("llamago.kld.tokens")
	if err != nil {
		return fail("%v", err)
	}
	if len(baseTokens) < chunks*nctx {
		return fail("covers %d tokens, this run scores %d chunks of %d: use --chunks %d", len(baseTokens), chunks, nctx, len(baseTokens)/nctx)
	}
	for i := 0; i < chunks*nctx; i++ {
		if baseTokens[i] != tokens[i] {
			return fail("token %d differs (%d there, %d here): the text or the tokenizer is not the same", i, baseTokens[i], tokens[i])
		}
	}
	t, ok := f.Tensor("logprobs")
	if !ok || t.Type != gguf.TypeF32 || int(t.Dims[0]) != vocab {
		return fail("has no F32 logprobs tensor for a vocabulary of %d", vocab)
	}
	if int(t.Dims[1]) < chunks*(nctx-1-nctx/2) {
		return fail("holds %d scored positions, this run needs %d", t.Dims[1], chunks*(nctx-1-nctx/2))
	}
	return &kldBase{f: f, data: f.TensorData(t), row32: make([]float32, vocab), vocab: vocab}, nil
}

// row returns scored position i's base log-probabilities, read from the mapped file.
func (b *kldBase) row(i int) []float32 {
	rb := 4 * b.vocab
	_ = gguf.Dequantize(gguf.TypeF32, b.data[i*rb:(i+1)*rb], b.row32)
	return b.row32
}
func (b *kldBase) Close() { b.f.Close() }
