package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/internal/stopstr"
	"github.com/spf13/cobra"
)

type runOptions struct {
	modelFlags
	Prompt     string
	PromptFile string
	N          int
	Sampler    engine.SamplerOptions
	Seed       int64
	NoBOS      bool
	Special    bool
	IgnoreEOS  bool
	JSON       bool
	CaptureDir string
	CaptureMB  float64
	Quiet      bool
	NoPrompt   bool
	Stop       []string
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run -m MODEL -p PROMPT",
		Short: "Generate text from a prompt, streamed to stdout",
		Long: `Run loads a model, evaluates the prompt in batches and generates up to -n tokens, printing each as it
is chosen. Timings go to stderr in llama.cpp's terms (load time, prompt eval and eval tokens/s), so
stdout carries only the text. --temp 0 is greedy decoding; add --activations 8 --kv-type f16 (llama.cpp's
rounding and its cache) to follow llama.cpp's greedy text.`,
		Example: `  llamago run -m model.gguf -p "Once upon a time" -n 64
  llamago run -m model.gguf -p "The capital of France is" --temp 0
  llamago run -m model.gguf -f prompt.txt -n 256 --temp 0.7 --top-p 0.9 --seed 42
  llamago run -m model.gguf -p $'Q: What is 2+2?\nA:' --stop $'\n' --temp 0   # one line of answer
  llamago run -m model.gguf -p "Hi" --json | jq .text`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("seed") {
				o.Seed = -1
			}
			return runRun(cmd.OutOrStdout(), cmd.ErrOrStderr(), pipedStdin(cmd), o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	allowDefaultModel(f)
	f.StringVarP(&o.Prompt, "prompt", "p", "", "the prompt (default: standard input when it is piped)")
	f.StringVarP(&o.PromptFile, "file", "f", "", "read the prompt from this file (-: standard input); one trailing newline is dropped")
	f.IntVarP(&o.N, "n-predict", "n", 128, "tokens to generate (-1: until the context is full; 0: evaluate the prompt only)")
	bindSampler(f, &o.Sampler)
	d := engine.DefaultSampler
	f.Float64Var(&o.Sampler.RepeatPenalty, "repeat-penalty", d.RepeatPenalty, "penalize recently seen tokens (1: off)")
	f.IntVar(&o.Sampler.RepeatLastN, "repeat-last-n", d.RepeatLastN, "how many recent tokens the penalty considers")
	f.Int64VarP(&o.Seed, "seed", "s", -1, "random seed (-1: a random one, printed to stderr unless -q; --json reports it)")
	f.BoolVar(&o.NoBOS, "no-bos", false, "do not add the BOS token the model asks for")
	f.BoolVar(&o.Special, "special", false, "parse control tokens written in the prompt and print generated ones")
	f.BoolVar(&o.IgnoreEOS, "ignore-eos", false, "keep generating past end-of-generation tokens")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object (text, tokens, timings) at the end instead of streaming")
	f.StringVar(&o.CaptureDir, "capture-attn", "", "also capture attention into this folder (see 'llamago attention')")
	f.Float64Var(&o.CaptureMB, "capture-max-mb", 1024, "with --capture-attn: refuse captures larger than this many MB (0: no limit)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no timings on stderr (nor the note that names the built-in model)")
	f.BoolVar(&o.NoPrompt, "no-display-prompt", false, "print only the generated text, not the prompt before it")
	f.StringArrayVar(&o.Stop, "stop", nil, "stop generating where the text holds this string (not printed; repeat the flag for several; llama.cpp's -r)")
	return cmd
}

type runResult struct {
	Text         string  `json:"text"`
	PromptTokens []int32 `json:"prompt_tokens"`
	Tokens       []int32 `json:"tokens"`
	Seed         uint64  `json:"seed"`
	LoadMS       float64 `json:"load_ms"`
	PromptTPS    float64 `json:"prompt_tokens_per_second"`
	EvalTPS      float64 `json:"eval_tokens_per_second"`
	StopReason   string  `json:"stop_reason"` // length, eos, stop (a --stop string), context full or interrupted
	numerics
}

func runRun(stdout, stderr io.Writer, stdin io.Reader, o runOptions) error {
	text, err := promptText(stdin, o.Prompt, o.PromptFile)
	if err != nil {
		return err
	}
	if err := o.Sampler.Validate(); err != nil {
		return usageError{err}
	}
	if o.N < -1 {
		return usagef("-n must be ≥ 0 (0: evaluate the prompt only) or -1 (until the context is full), got %d", o.N)
	}
	if o.Seed < -1 {
		return usagef("--seed must be ≥ 0, or -1 for a random one, got %d", o.Seed)
	}
	if _, err := captureLimit(o.CaptureMB); err != nil {
		return err
	}
	if slices.Contains(o.Stop, "") {
		return usagef("--stop takes a non-empty string")
	}
	note := stderr
	if o.Quiet {
		note = io.Discard // the built-in model's note is not news to whoever asked for quiet
	}
	if err := o.useDefaultModel(note); err != nil {
		return err
	}
	lm, err := o.open()
	if err != nil {
		return err
	}
	defer lm.Close()
	lm.printNotes(stderr)
	m := lm.model
	tok := m.Tokenizer
	ids := tok.Encode(text, !o.NoBOS, o.Special)
	if len(ids) > lm.ctx {
		return fmt.Errorf("the prompt is %d tokens, longer than the context of %d: use a larger --ctx (the model was trained with %d) or a shorter prompt",
			len(ids), lm.ctx, m.Config.ContextLength)
	}
	if o.Seed < 0 {
		o.Sampler.Seed = rand.Uint64() >> 1
	} else {
		o.Sampler.Seed = uint64(o.Seed)
	}
	sess, err := m.NewSession(lm.ctx, o.Batch)
	if err != nil {
		return err
	}
	defer sess.Close()
	positions := lm.ctx // -n -1 generates until the context is full
	if o.N >= 0 {
		positions = min(lm.ctx, len(ids)+o.N)
	}
	capture, err := newRunCapture(o.CaptureDir, lm, sess, positions, o.CaptureMB)
	if err != nil {
		return err
	}
	if !o.Quiet && !o.JSON {
		fmt.Fprintf(stderr, "llamago: %s, %d layers, ctx %d, backend %s, seed %d, prompt %d tokens\n",
			m.Config.Name, m.Config.BlockCount, lm.ctx, lm.backend.Name(), o.Sampler.Seed, len(ids))
	}
	stream := tok.NewStream(o.Special)
	var textOut []byte
	var writeErr error
	emit := func(s string) {
		textOut = append(textOut, s...)
		if !o.JSON && writeErr == nil {
			_, writeErr = io.WriteString(stdout, s)
		}
	}
	// Text that could be the start of a stop string waits in stops; a stop string ends the output before
	// it (textOut then ends where it begins).
	stops := stopstr.NewStream(o.Stop)
	stopped := false
	var starts []int // starts[k]: where generated token k's text begins in the decoded text
	decoded := 0
	push := func(s string) {
		decoded += len(s)
		text, stop := stops.Push(s)
		emit(text)
		stopped = stop
	}
	if !o.JSON && !o.NoPrompt {
		if _, err := io.WriteString(stdout, text); err != nil {
			return err
		}
	}
	interrupted, stopWatching := watchInterrupt()
	defer stopWatching()
	start := time.Now()
	generate := sess.Generate
	if o.N == 0 { // llama.cpp's -n 0: the prompt only (timings, a capture), no new token
		generate = promptOnly(sess)
	}
	gen, st, err := generate(ids, engine.GenerateOptions{
		MaxTokens: o.N, Sampler: o.Sampler, IgnoreEOG: o.IgnoreEOS,
		OnToken: func(id int32) bool {
			starts = append(starts, decoded)
			if tok.IsEOG(id) && !o.IgnoreEOS && !o.Special {
				return true
			}
			push(stream.Push(id))
			return writeErr == nil && !interrupted.Load() && !stopped
		},
	})
	if err != nil {
		return err
	}
	if !stopped {
		push(stream.Flush())
		emit(stops.Flush())
	}
	if stopped { // the tokens are those whose text the output holds, as the server's stop keeps them
		keep := 0
		for keep < len(gen) && keep < len(starts) && starts[keep] < len(textOut) {
			keep++
		}
		gen = gen[:keep]
	}
	if writeErr != nil {
		return writeErr
	}
	reason := "length"
	switch {
	case stopped:
		reason = "stop"
	case interrupted.Load():
		reason = "interrupted"
	case len(gen) > 0 && tok.IsEOG(gen[len(gen)-1]) && !o.IgnoreEOS:
		reason = "eos"
	case sess.Pos() >= sess.Context():
		reason = "context full"
	}
	if capture != nil {
		if err := capture.write(stderr, ids, gen, text); err != nil {
			return err
		}
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(runResult{Text: string(textOut), PromptTokens: ids, Tokens: gen, Seed: o.Sampler.Seed,
			LoadMS: ms(lm.loadTime), PromptTPS: st.PromptTPS(), EvalTPS: st.GenTPS(), StopReason: reason, numerics: lm.numerics()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout)
	}
	if reason == "interrupted" { // like llama-cli: the timings of what was done, then exit status 130
		printTimings(stderr, lm.loadTime, st, time.Since(start))
		return errInterrupted
	}
	if !o.Quiet && !o.JSON {
		if reason == "context full" {
			if lm.ctx >= m.Config.ContextLength {
				fmt.Fprintf(stderr, "llamago: stopped: the context of %d tokens is full (the most this model was trained for)\n", lm.ctx)
			} else {
				fmt.Fprintf(stderr, "llamago: stopped: the context of %d tokens is full (use a larger --ctx, up to the model's %d)\n", lm.ctx, m.Config.ContextLength)
			}
		}
		printTimings(stderr, lm.loadTime, st, time.Since(start))
	}
	return nil
}

// promptOnly evaluates the prompt like Generate would, and generates nothing.
func promptOnly(sess *engine.Session) func([]int32, engine.GenerateOptions) ([]int32, engine.Stats, error) {
	return func(ids []int32, _ engine.GenerateOptions) ([]int32, engine.Stats, error) {
		start := time.Now()
		_, err := sess.Eval(ids, false)
		return []int32{}, engine.Stats{PromptTokens: len(ids), PromptTime: time.Since(start)}, err
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// printTimings writes llama.cpp-style performance lines.
func printTimings(w io.Writer, load time.Duration, st engine.Stats, total time.Duration) {
	per := func(d time.Duration, n int) (float64, float64) {
		if n == 0 || d <= 0 {
			return 0, 0
		}
		return ms(d) / float64(n), float64(n) / d.Seconds()
	}
	fmt.Fprintf(w, "llamago: load time        = %10.2f ms\n", ms(load))
	a, b := per(st.PromptTime, st.PromptTokens)
	fmt.Fprintf(w, "llamago: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)\n", ms(st.PromptTime), st.PromptTokens, a, b)
	a, b = per(st.GenTime, st.GenTokens)
	fmt.Fprintf(w, "llamago: eval time        = %10.2f ms / %5d runs   (%8.2f ms per token, %8.2f tokens per second)\n", ms(st.GenTime), st.GenTokens, a, b)
	fmt.Fprintf(w, "llamago: total time       = %10.2f ms\n", ms(total+load))
}
