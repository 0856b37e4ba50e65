// Command loadgen is a bounded load generator for `llamago serve`: a fixed number of streaming
// /v1/completions requests from 1, 4, 8 and 16 concurrent clients in turn (-clients), measuring aggregate
// generated tokens/s, time to first token and inter-token latency, and checking that greedy answers do not
// change with the load. It targets loopback only unless -allow-remote is given, and stops at -timeout.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080 -requests 32 -clients 1,4,8,16 -max-tokens 64
//
// It prints a markdown table (-json: one JSON object) and exits with status 1 when any request failed or
// a greedy answer differed between levels, 2 when the run could not be made.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := Config{}
	var clients string
	var asJSON, quiet bool
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "the server's base URL (loopback unless -allow-remote)")
	fs.StringVar(&c.Model, "model", "", "the model id to send (default: none, the server's model)")
	fs.IntVar(&c.Requests, "requests", 32, "requests per client level")
	fs.StringVar(&clients, "clients", "1,4,8,16", "concurrent clients of each level, a comma list run in turn")
	fs.IntVar(&c.MaxTokens, "max-tokens", 64, "max_tokens of each request")
	fs.BoolVar(&c.IgnoreEOS, "ignore-eos", true, "ask for ignore_eos, so that every request generates exactly -max-tokens")
	fs.Float64Var(&c.Temperature, "temperature", 0, "sampling temperature (0: greedy, and answers are compared across levels)")
	fs.Int64Var(&c.Seed, "seed", 1, "request i has seed SEED+i")
	fs.IntVar(&c.Warmup, "warmup", 1, "requests sent one at a time before the levels, not measured")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "the whole run's time limit")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a server that is not on loopback")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the markdown table")
	fs.BoolVar(&quiet, "q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q (flags only)\n", fs.Args())
		return 2
	}
	var err error
	if c.Clients, err = parseList(clients); err != nil {
		fmt.Fprintf(stderr, "loadgen: -clients: %v\n", err)
		return 2
	}
	if !quiet {
		c.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := Run(ctx, c)
	if rep == nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if asJSON {
		writeJSON(stdout, rep)
	} else {
		writeMarkdown(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if n := rep.Errors(); n > 0 {
		fmt.Fprintf(stderr, "loadgen: %d errors\n", n)
		return 1
	}
	return 0
}

// parseList reads "1,4,8,16".
func parseList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q has no levels", s)
	}
	return out, nil
}
