package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/llamago/llamago/engine/attnviz"
	"github.com/llamago/llamago/internal/npy"
	"github.com/spf13/cobra"
)

type logitsOptions struct {
	modelFlags
	Prompt     string
	PromptFile string
	JSON       bool
	NPY        string
	NoBOS      bool
	Special    bool
	Top        int
}

func newLogitsCmd() *cobra.Command {
	var o logitsOptions
	cmd := &cobra.Command{
		Use:   "logits -m MODEL -p PROMPT",
		Short: "Print the logits of every prompt position (for checking a model against another engine)",
		Long: `Logits evaluates the prompt in one pass and reports, for every position, the logits of the next
token. By default it prints each position's token and the most likely next tokens; --json prints
{"tokens": [...], "logits": [[...], ...]} with every value, and --npy writes a float32 array
[positions, vocab] that NumPy reads.`,
		Example: `  llamago logits -m model.gguf -p "The cat sat on the mat"
  llamago logits -m model.gguf -p "Hello" --json > logits.json
  llamago logits -m model.gguf -f prompt.txt --npy logits.npy`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLogits(cmd.OutOrStdout(), cmd.ErrOrStderr(), pipedStdin(cmd), o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	f.StringVarP(&o.Prompt, "prompt", "p", "", "the prompt (default: standard input when it is piped)")
	f.StringVarP(&o.PromptFile, "file", "f", "", "read the prompt from this file (-: standard input); one trailing newline is dropped")
	f.BoolVar(&o.JSON, "json", false, "print every logit as JSON")
	f.StringVar(&o.NPY, "npy", "", "write the logits to this .npy file")
	f.BoolVar(&o.NoBOS, "no-bos", false, "do not add the BOS token the model asks for")
	f.BoolVar(&o.Special, "special", false, "parse control tokens written in the prompt")
	f.IntVar(&o.Top, "top", 5, "how many likely next tokens to show per position (text output)")
	return cmd
}

func runLogits(w, stderr io.Writer, stdin io.Reader, o logitsOptions) error {
	text, err := promptText(stdin, o.Prompt, o.PromptFile)
	if err != nil {
		return err
	}
	if o.JSON && o.NPY != "" {
		return usagef("choose --json or --npy, not both")
	}
	lm, err := o.open()
	if err != nil {
		return err
	}
	defer lm.Close()
	lm.printNotes(stderr)
	m := lm.model
	ids := m.Tokenizer.Encode(text, !o.NoBOS, o.Special)
	if len(ids) == 0 {
		return usagef("the prompt is empty: give one with -p")
	}
	ctx := max(lm.ctx, len(ids))
	if o.Ctx > 0 && len(ids) > o.Ctx {
		return fmt.Errorf("the prompt is %d tokens, longer than --ctx %d", len(ids), o.Ctx)
	}
	sess, err := m.NewSession(ctx, o.Batch)
	if err != nil {
		return err
	}
	defer sess.Close()
	logits, err := sess.Eval(ids, true)
	if err != nil {
		return err
	}
	v := m.Config.VocabSize
	switch {
	case o.NPY != "":
		if err := npy.WriteFloat32File(o.NPY, []int{len(ids), v}, logits); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stderr, "wrote %s: float32 [%d, %d] (positions, vocab); tokens %v\n", o.NPY, len(ids), v, ids)
		return err
	case o.JSON:
		bw := bufio.NewWriter(w)
		fmt.Fprint(bw, `{"tokens": [`)
		for i, id := range ids {
			if i > 0 {
				bw.WriteString(", ")
			}
			bw.WriteString(strconv.Itoa(int(id)))
		}
		fmt.Fprint(bw, `], "logits": [`)
		for p := range ids {
			if p > 0 {
				bw.WriteString(", ")
			}
			bw.WriteByte('[')
			for i, x := range logits[p*v : (p+1)*v] {
				if i > 0 {
					bw.WriteString(", ")
				}
				bw.WriteString(strconv.FormatFloat(float64(x), 'g', 9, 32))
			}
			bw.WriteByte(']')
		}
		fmt.Fprintln(bw, "]}")
		return bw.Flush()
	}
	tok := m.Tokenizer
	sw := &stickyWriter{w: w} // a full disk or closed stdout is an error, not lost output (F14)
	w = sw
	fmt.Fprintf(w, "pos     id token          → the %d most likely next tokens: logit (probability)\n", o.Top)
	for p, id := range ids {
		row := logits[p*v : (p+1)*v]
		lp := attnviz.LogSoftmax(row)
		order := make([]int, v)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
		fmt.Fprintf(w, "%4d %6d %-14q →", p, id, string(tok.AppendPiece(nil, id, true)))
		for _, c := range order[:min(o.Top, v)] {
			fmt.Fprintf(w, "  %q %.3f (%.3f)", string(tok.AppendPiece(nil, int32(c), true)), row[c], math.Exp(lp[c]))
		}
		fmt.Fprintln(w)
	}
	return sw.err
}
