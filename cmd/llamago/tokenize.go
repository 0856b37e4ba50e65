package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/llamago/llamago/engine/tokenizer"
	"github.com/llamago/llamago/gguf"
	"github.com/spf13/cobra"
)

type tokenizeOptions struct {
	Model   string
	Prompt  string
	File    string
	JSON    bool
	NoBOS   bool
	Special bool
	IDsOnly bool
}

func newTokenizeCmd() *cobra.Command {
	var o tokenizeOptions
	cmd := &cobra.Command{
		Use:   "tokenize -m MODEL [TEXT | -p TEXT | -f FILE]",
		Short: "Show how a model's tokenizer splits text: ids and pieces",
		Long: `Tokenize reads only the tokenizer from the model file (no weights) and prints one line per token:
its id and the text it stands for. BOS is added when the model asks for it (--no-bos leaves it out);
control tokens written in the text (like <s>) are parsed only with --special.`,
		Example: `  llamago tokenize -m model.gguf "The cat sat on the mat"
  llamago tokenize -m model.gguf --json --no-bos "Hello world"
  llamago tokenize -m model.gguf --special "<s>Hello</s>"
  echo "The cat sat on the mat" | llamago tokenize -m model.gguf --ids`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.Prompt != "" {
					return usagef("give the text as an argument or with -p, not both")
				}
				o.Prompt = args[0]
			}
			return runTokenize(cmd.OutOrStdout(), pipedStdin(cmd), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Model, "model", "m", "", "GGUF model (or vocabulary) file (required)")
	f.StringVarP(&o.Prompt, "prompt", "p", "", "the text (as llama-tokenize takes it; or give it as the argument)")
	f.StringVarP(&o.File, "file", "f", "", "read the text from this file instead of the argument (-: standard input); one trailing newline is dropped")
	f.BoolVar(&o.JSON, "json", false, `print {"ids": [...], "pieces": [...]}`)
	f.BoolVar(&o.NoBOS, "no-bos", false, "do not add BOS/EOS tokens")
	f.BoolVar(&o.Special, "special", false, "parse control tokens written in the text")
	f.BoolVar(&o.IDsOnly, "ids", false, "print only the ids, on one line")
	return cmd
}

func runTokenize(w io.Writer, stdin io.Reader, o tokenizeOptions) error {
	if o.Model == "" {
		return usagef("--model/-m is required")
	}
	text, err := promptText(stdin, o.Prompt, o.File)
	if err != nil {
		return err
	}
	f, err := gguf.Open(o.Model)
	if err != nil {
		return err
	}
	defer f.Close()
	tok, err := tokenizer.FromFile(f)
	if err != nil {
		return err
	}
	ids := tok.Encode(text, !o.NoBOS, o.Special)
	pieces := make([]string, len(ids))
	for i, id := range ids {
		pieces[i] = string(tok.AppendPiece(nil, id, true))
	}
	switch {
	case o.JSON:
		if ids == nil {
			ids = []int32{}
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			IDs    []int32  `json:"ids"`
			Pieces []string `json:"pieces"`
		}{ids, pieces})
	case o.IDsOnly:
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = fmt.Sprint(id)
		}
		_, err := fmt.Fprintf(w, "[%s]\n", strings.Join(s, ", "))
		return err
	}
	for i, id := range ids {
		if _, err := fmt.Fprintf(w, "%6d -> %q\n", id, pieces[i]); err != nil {
			return err
		}
	}
	return nil
}
