package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/llamago/llamago/internal/defaultmodel"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultModelUsage is the -m help of the commands that fall back to the built-in model.
const defaultModelUsage = "GGUF model file (default: the built-in " + defaultmodel.Name + ", a 260K-parameter TinyStories model)"

// allowDefaultModel marks the -m flag of a command whose model may be left out.
func allowDefaultModel(f *pflag.FlagSet) { f.Lookup("model").Usage = defaultModelUsage }

// useDefaultModel fills in the built-in model when -m was not given, and says so in one line on stderr.
func (mf *modelFlags) useDefaultModel(stderr io.Writer) error {
	if mf.Model != "" {
		return nil
	}
	if err := mf.checkFlags(); err != nil { // a bad flag is reported before the note
		return err
	}
	p, err := defaultmodel.Path()
	if err != nil {
		return err
	}
	mf.Model = p
	mf.name = defaultmodel.Name
	fmt.Fprintf(stderr, "llamago: no -m given: using the built-in %s model (a tiny TinyStories LLaMA; see the README for real models)\n", defaultmodel.Name)
	return nil
}

// noPositional replaces cobra.NoArgs for commands that take a model and a prompt as flags: a plain
// argument is most often a model path or a prompt typed as llama.cpp's or ollama's users do, so the
// error says which flag to use instead of calling it an unknown command.
func noPositional(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	a := args[0]
	if st, err := os.Stat(a); (err == nil && !st.IsDir()) || strings.HasSuffix(strings.ToLower(a), ".gguf") {
		return usagef("%q looks like a model file: give it with -m (llamago %s -m %s …)", a, cmd.Name(), a)
	}
	if cmd.Flags().Lookup("prompt") != nil {
		return usagef("unexpected argument %q: give the prompt with -p (llamago %s -p %q), -f FILE or on stdin", a, cmd.Name(), strings.Join(args, " "))
	}
	return usagef("unexpected argument %q: %s takes no arguments (see 'llamago %s --help')", a, cmd.Name(), cmd.Name())
}
