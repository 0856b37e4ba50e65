package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/llamago/llamago/internal/atomicfile"
	"github.com/llamago/llamago/internal/progress"
	"github.com/spf13/cobra"
)

type synthCmdOptions struct {
	synth.Options
	Out   string
	Quiet bool
}

func newSynthCmd() *cobra.Command {
	var o synthCmdOptions
	presets := make([]string, 0, len(synth.PresetNames))
	for _, n := range synth.PresetNames {
		p := synth.Presets[n]
		presets = append(presets, fmt.Sprintf("  %-10s vocab %d, embd %d, %d layers, %d heads (%d KV), ff %d, ctx %d",
			n, p.Vocab, p.Embd, p.Layers, p.Heads, p.KVHeads, p.FF, p.Ctx))
	}
	cmd := &cobra.Command{
		Use:   "synth -o OUT.gguf",
		Short: "Write a LLaMA-architecture GGUF model with random weights, of any shape and type",
		Long: `Synth writes a LLaMA-architecture model with random weights scaled like a trained model's (a
well-conditioned forward pass, logits with a clear argmax), for tests, benchmarks and GPU checks.
Start from a preset and override any hyperparameter. Output depends only on the flags and --seed.
The file is streamed with bounded memory, written beside OUT and renamed when complete.

Presets:
` + strings.Join(presets, "\n") + `

Types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS,
or the mixture Q4_K_M (Q6_K for output.weight and some attn_v/ffn_down, Q4_K elsewhere). Norm
weights are always F32. As in llama.cpp, a tensor whose row length is not a multiple of the type's
block size falls back to a type whose block fits (Q4_K → Q5_0, …, else F16).

Vocabulary: a built-in SentencePiece-style byte-level vocabulary of --vocab tokens, or copy the
tokenizer of another GGUF file with --vocab-from (its token count becomes --vocab).`,
		Example: `  llamago synth -o tiny.gguf                                   # tiny preset, F32
  llamago synth --preset llama-1b --type Q4_K_M -o tinyllama-shape.gguf
  llamago synth --preset llama2-7b --type Q4_0 -o 7b-q4_0.gguf
  llamago synth --embd 512 --layers 4 --heads 8 --kv-heads 1 --type Q8_0 -o mqa.gguf
  llamago synth --vocab-from ../shared/models/stories260K.gguf --type Q6_K -o s.gguf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSynth(cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Out, "output", "o", "", "the GGUF file to write (required)")
	f.StringVar(&o.Preset, "preset", "tiny", "shape to start from: "+strings.Join(synth.PresetNames, ", "))
	f.StringVarP(&o.Type, "type", "t", "F32", "weight type, or Q4_K_M")
	f.IntVar(&o.Vocab, "vocab", 0, "vocabulary size")
	f.IntVar(&o.Embd, "embd", 0, "embedding length (model width)")
	f.IntVar(&o.Layers, "layers", 0, "number of transformer blocks")
	f.IntVar(&o.Heads, "heads", 0, "attention heads")
	f.IntVar(&o.KVHeads, "kv-heads", 0, "key/value heads (1: multi-query, < heads: grouped-query)")
	f.IntVar(&o.FF, "ff", 0, "feed-forward length")
	f.IntVar(&o.Ctx, "ctx", 0, "context length written to the header")
	f.IntVar(&o.RopeDim, "rope-dim", 0, "dimensions of each head that RoPE rotates (default: the head size)")
	f.Float64Var(&o.RopeBase, "rope-base", 0, "RoPE frequency base")
	f.Float64Var(&o.RMSEps, "rms-eps", 0, "RMSNorm epsilon")
	f.BoolVar(&o.TiedEmbed, "tied-embeddings", false, "leave out output.weight (the output reuses token_embd.weight)")
	f.StringVar(&o.VocabFrom, "vocab-from", "", "copy the tokenizer from this GGUF file")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed")
	f.StringVar(&o.Name, "name", "", "general.name to write")
	f.IntVar(&o.Workers, "threads", 0, "generator threads (default: all cores)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func runSynth(stderr io.Writer, o synthCmdOptions) error {
	if o.Out == "" {
		return usagef("--output/-o is required: the GGUF file to write")
	}
	if o.VocabFrom != "" && o.Vocab == 0 {
		src, err := gguf.Open(o.VocabFrom)
		if err != nil {
			return fmt.Errorf("--vocab-from: %w", err)
		}
		toks, err := src.Metadata.Strings("tokenizer.ggml.tokens")
		src.Close()
		if err != nil {
			return fmt.Errorf("--vocab-from %s: %w", o.VocabFrom, err)
		}
		o.Vocab = len(toks)
	}
	// Every value the loader would refuse, and an unknown preset or type, is a usage error before any file
	// exists; a model larger than the free space is refused with its size instead of filling the disk.
	if err := synth.Check(o.Options); err != nil {
		return usageError{err}
	}
	need := synth.EstimateBytes(o.Options)
	if free := diskFree(filepath.Dir(o.Out)); free > 0 && need > free {
		return fmt.Errorf("this model would need about %s, more than the %s free in %s: choose a smaller shape or type",
			synth.HumanBytes(need), synth.HumanBytes(free), filepath.Dir(o.Out))
	}
	bar := progress.New(0, "synth "+o.Out, true, o.Quiet)
	started := time.Now()
	o.Progress = func(done, total int64) {
		if done == 0 || done == total || done%(1<<20) < 1<<16 {
			bar.SetTotal(total)
		}
		bar.Set(done)
	}
	o.Warn = func(format string, a ...any) { fmt.Fprintf(stderr, "llamago synth: note: "+format+"\n", a...) }
	tmp, err := atomicfile.Create(o.Out, "synth")
	if err != nil {
		return err
	}
	defer tmp.Abort()
	if err := synth.Write(tmp, o.Options); err != nil {
		return err
	}
	if err := tmp.Commit(); err != nil {
		return err
	}
	bar.Finish()
	st, err := os.Stat(o.Out)
	if err != nil {
		return err
	}
	f, err := gguf.Open(o.Out)
	if err != nil {
		return fmt.Errorf("wrote %s but cannot read it back: %w", o.Out, err)
	}
	defer f.Close()
	types := map[string]int{}
	var params uint64
	for _, t := range f.Tensors {
		types[t.Type.String()]++
		params += t.Elements()
	}
	var parts []string
	for t, n := range types {
		parts = append(parts, fmt.Sprintf("%s×%d", t, n))
	}
	sort.Strings(parts)
	fmt.Fprintf(stderr, "wrote %s: %s parameters, %s, tensors %s, in %s\n", o.Out, humanCount(params),
		humanBytes(uint64(st.Size())), strings.Join(parts, " "), time.Since(started).Round(time.Millisecond))
	return nil
}
