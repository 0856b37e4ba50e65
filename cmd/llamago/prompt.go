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
		b, err := readLimited(in, "the prompt on standard input", maxPromptBytes)
		if err != nil {
			return "", fmt.Errorf("prompt from standard input: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	case file != "":
		b, err := readFileLimited(file, maxPromptBytes)
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
	b, err := readFileLimited(path, maxTextBytes)
	if err != nil {
		return "", fmt.Errorf("text file: %w", err)
	}
	return string(b), nil
}

// Inputs read whole into memory are capped: -f /dev/zero must be an error, not an out-of-memory death.
const (
	maxPromptBytes = 64 << 20  // a prompt (run, logits, attention, tokenize): far past any context
	maxTextBytes   = 512 << 20 // perplexity's corpus
)

// readLimited reads r whole, refusing more than limit bytes.
func readLimited(r io.Reader, what string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than the %d MiB llamago reads", what, limit>>20)
	}
	return b, nil
}

// readFileLimited reads the file at path whole, refusing more than limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, limit)
}
