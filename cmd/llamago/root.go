package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/llamago/llamago/cpu"
	"github.com/llamago/llamago/internal/atomicfile"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError marks an error in how a command was called (exit status 2, like flag errors).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "llamago",
		Short: "Run, inspect and make LLaMA-family GGUF models, in Go",
		Long: `llamago loads GGUF LLaMA-family models (float or quantized) and runs them on the CPU, or on NVIDIA
GPUs when built with -tags cuda. It also inspects model files, makes synthetic models of any shape
for tests and benchmarks, and captures attention for inspection.

Models: any llama.cpp GGUF file of the llama architecture (LLaMA 1/2/3, TinyLlama, Mistral-style).`,
		Example: `  llamago run -m model.gguf -p "Once upon a time" -n 64
  llamago attention -m model.gguf -p "The cat sat on the mat" -o attn/
  llamago inspect model.gguf
  llamago quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M
  llamago serve -m model.gguf --parallel 8          # OpenAI-compatible API on 127.0.0.1:8080
  llamago chat -m model.gguf                        # a conversation in the terminal
  llamago bench -m model.gguf
  llamago template -m model.gguf -i conversation.json   # the prompt a chat conversation becomes
  llamago synth --preset llama-1b --type Q4_0 -o tinyllama-shape.gguf   # no model at hand`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	var profile string
	root.PersistentFlags().StringVar(&profile, "cpuprofile", "", "write a Go CPU profile of the command to this file (for developers)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutputs(cmd, args); err != nil {
			return usageError{err}
		}
		if profile == "" {
			return nil
		}
		// Written beside its name and renamed into place when the command ends, failed or not: a profile
		// path that is the model (refused above) or a crash never leaves a truncated file under the name.
		f, err := atomicfile.Create(profile, "cpuprofile")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Abort()
			return err
		}
		profileMu.Lock()
		finishProfile = func() error { pprof.StopCPUProfile(); return f.Commit() }
		profileMu.Unlock()
		return nil
	}
	root.PersistentPostRunE = func(*cobra.Command, []string) error { return stopProfile() }
	root.AddCommand(newVersionCmd(), newInspectCmd(), newSynthCmd(), newRunCmd(), newTokenizeCmd(), newLogitsCmd(), newPerplexityCmd(), newAttentionCmd(), newBenchCmd(), newDevicesCmd(), newQuantizeCmd(), newServeCmd(), newChatCmd(), newTemplateCmd())
	usageArgs(root)
	return root
}

// usageArgs makes a wrong number of arguments a usage error (exit 2, like a bad flag) for c and every command
// under it, with the command's usage line: cobra's argument checks return plain errors, which exited 1.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{fmt.Errorf("%w: usage: %s (see '%s --help')", err, cmd.UseLine(), cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

var (
	profileMu     sync.Mutex
	finishProfile func() error // stops and commits the --cpuprofile, once
)

// stopProfile ends a --cpuprofile started by the command, if any.
func stopProfile() error {
	profileMu.Lock()
	f := finishProfile
	finishProfile = nil
	profileMu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// outputFlags are the flags that name a file or folder a command writes.
var outputFlags = []string{"dump", "npy", "output", "cpuprofile"}

// checkOutputs refuses an output flag that names the same file (symbolic and hard links included) as any
// other argument or flag value: "--dump m.gguf" on m.gguf, or a profile written over the model, replaced
// the input (F5).
func checkOutputs(cmd *cobra.Command, args []string) error {
	outs := map[string]string{}
	inputs := append([]string(nil), args...)
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if slices.Contains(outputFlags, f.Name) {
			outs[f.Name] = f.Value.String()
		} else if f.Value.Type() == "string" {
			inputs = append(inputs, f.Value.String())
		}
	})
	for name, out := range outs {
		if err := atomicfile.NotInput(out, inputs...); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil
}

// exitBug is the exit status of a panic: a bug in llamago, told apart from usage errors (2) and ordinary
// failures (1). 70 is EX_SOFTWARE, "internal software error", of BSD's sysexits.
const exitBug = 70

// reportBug writes what a recovered panic says, with the stack, and asks for a bug report; it returns exitBug.
func reportBug(w io.Writer, p any) int {
	fmt.Fprintf(w, "llamago: internal error (a bug in llamago): %v\n\n%s\n"+
		"llamago: please report it with the command line, the model file's name and this message\n", p, debug.Stack())
	return exitBug
}

// execute runs the CLI and returns the process exit status. A panic on the command's goroutine is caught
// here, reported with its stack and a request for a bug report, and exits with exitBug.
func execute(args []string) (code int) {
	defer func() {
		if p := recover(); p != nil {
			code = reportBug(os.Stderr, p)
		}
	}()
	if err := cpu.ModeError(); err != nil {
		fmt.Fprintln(os.Stderr, "llamago: warning:", err)
	}
	if !gpuBuild {
		if target, plan, forced := handOverTarget(args); target != "" {
			err := handOver(os.Stderr, target, args, plan)
			if forced { // --backend cuda: the CPU is not what was asked for
				fmt.Fprintln(os.Stderr, "llamago: could not hand over to the CUDA build:", err)
				return 1
			}
			fmt.Fprintf(os.Stderr, "llamago: could not hand over to the CUDA build (%v): running on the CPU\n", err)
		}
	}
	err := executeRoot(newRootCmd(), args)
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "llamago:", err)
	return exitCode(err)
}

// llamagoArgs is args with llama.cpp's spellings of the command's flags rewritten to llamago's (fixArgs).
func llamagoArgs(root *cobra.Command, args []string) ([]string, error) {
	c := anyCommand
	if cmd, _, err := root.Find(args); err == nil && cmd != root {
		lookup := func(name string) *pflag.Flag {
			for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
				if long, ok := strings.CutPrefix(name, "--"); ok {
					if f := fs.Lookup(long); f != nil {
						return f
					}
				} else if short, ok := strings.CutPrefix(name, "-"); ok && len(short) == 1 {
					if f := fs.ShorthandLookup(short); f != nil {
						return f
					}
				}
			}
			return nil
		}
		c = command{name: cmd.Name(),
			own: func(name string) bool { return lookup(name) != nil },
			has: func(long string) bool { return cmd.Flags().Lookup(long) != nil },
			takesValue: func(name string) bool {
				f := lookup(name)
				return f != nil && f.NoOptDefVal == "" // a bool flag's is "true": it takes no value
			}}
	}
	return fixArgs(args, c)
}

// exitCode is the exit status of a command that failed with err: 2 for a usage error, 130 when interrupted,
// else 1.
func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command "): // cobra's, for a mistyped command
		return 2
	case errors.Is(err, errInterrupted):
		return 130 // as a shell reports a process ended by SIGINT
	}
	return 1
}

// errInterrupted ends a command stopped by Ctrl-C (or SIGTERM) after it reported what it had done.
var errInterrupted = errors.New("interrupted")

// watchInterrupt catches the first SIGINT/SIGTERM and reports it through the returned flag, so a command
// can stop at its next step and still report; a second signal ends the process as usual. stop releases it.
func watchInterrupt() (*atomic.Bool, func()) {
	var flag atomic.Bool
	c := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-c:
			flag.Store(true)
			signal.Stop(c)
		case <-done:
		}
	}()
	return &flag, func() { signal.Stop(c); close(done) }
}

// executeRoot runs root on args after fixArgs, which leaves alone the flags the called command has
// itself (template's -i is its input, not llama.cpp's interactive mode).
func executeRoot(root *cobra.Command, args []string) error {
	args, err := llamagoArgs(root, args)
	if err != nil {
		return err
	}
	root.SetArgs(args)
	err = root.Execute()
	if perr := stopProfile(); perr != nil && err == nil { // when the command failed, its profile still lands
		err = fmt.Errorf("--cpuprofile: %w", perr)
	}
	return err
}
