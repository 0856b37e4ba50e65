package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// pipedStdin returns the command's standard input when it is a pipe or a file (not a terminal, not
// /dev/null), else nil: a prompt is read from it only then, as llama.cpp's and ollama's users expect.
func pipedStdin(cmd *cobra.Command) io.Reader {
	in := cmd.InOrStdin()
	f, ok := in.(*os.File)
	if !ok {
		return in // set by a caller (tests, embedding programs): read it
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice != 0 {
		return nil
	}
	return f
}

// promptText returns the prompt from -p, from -f FILE (-f - is stdin) or, when neither is given, from
// stdin if it is piped (in != nil). Text read from a file or stdin loses one trailing newline, as
// llama.cpp's -f does, so an editor-saved prompt tokenizes like the same text given with -p.
// An empty prompt is an error.
func promptText(in io.Reader, prompt, file string) (string, error) {
	var text string
	switch {
	case prompt != "" && file != "":
		return "", usagef("give the prompt with -p or -f, not both")
	case file == "-" || (prompt == "" && file == "" && in != nil):
		if in == nil {
			return "", usagef("-f -: standard input is a terminal; pipe the prompt in (echo … | llamago …) or use -p")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return "", fmt.Errorf("prompt from standard input: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("prompt file: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	default:
		text = prompt
	}
	if text == "" {
		return "", usagef("the prompt is empty: give one with -p TEXT, -f FILE or on standard input")
	}
	return text, nil
}

// readTextFile reads a whole text file (perplexity's corpus: kept as it is).
func readTextFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("text file: %w", err)
	}
	return string(b), nil
}
