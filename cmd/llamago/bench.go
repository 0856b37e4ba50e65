package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/llamago/llamago/engine"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	modelFlags
	PPs, TGs []int // -p and -n: comma lists, one ppN / tgN test each
	Depths   []int // -d: tokens already in the context when each test starts (llama-bench's n_depth)
	PP, TG   int   // the one -p and -n of --parallel
	Reps     int
	JSON     bool
	Output   string    // md, json or csv
	Parallel []int     // sequences decoding together (bench --parallel)
	Prefix   int       // a prompt prefix the parallel requests share (bench --shared-prefix)
	KVBlocks int       // the KV pool of --parallel, in blocks (0: every sequence's whole context)
	report   io.Writer // where the backends' reports go (engine.Reporter), or nil
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench -m MODEL",
		Short: "Measure prompt processing (ppN) and text generation (tgN) speed, like llama-bench",
		Long: `Bench measures, on random tokens, prompt processing — N tokens evaluated in batches (ppN) — and
text generation — N tokens evaluated one at a time after an empty context (tgN) — repeating each -r
times and reporting tokens per second as mean ± standard deviation, with the model's size and type.
A warm-up run precedes the measured ones.

With -d D (a comma list, as llama-bench takes it), each test starts after D tokens already read into the
context instead ("tg128 @ d2048"): what a long conversation costs, where attention reads a long KV cache.
The D tokens are read before each run, outside its time.

With --parallel N1,N2,…, it measures batched decoding instead, as llama-batched-bench does: for each N,
N prompts of -p tokens are read, then N sequences decode -n tokens together, one token of each per step
(every weight read once per step for all of them). "decode t/s (all)" is the aggregate: N·n tokens over the
decoding time; "vs one" compares it with N = 1 when the list starts with 1.

With --shared-prefix P as well, it measures prefix sharing: N requests whose prompts begin with the same
P tokens (then -p tokens of their own) go to the scheduler together, without and with the prefix cache
(with it, the prefix was read once before, as a system prompt would be), and it reports their time to
first token.`,
		Example: `  llamago bench -m model.gguf
  llamago bench -m model.gguf -p 512 -n 128 -r 3 -t 2 --json
  llamago bench -m model.gguf -p 128,512 -n 32,128 -o csv               # lists, as llama-bench takes them
  llamago bench -m model.gguf -p 512 -n 128 -d 0,2048                   # the same tests after 2048 tokens of context
  llamago bench -m model.gguf -p 32 -n 128 --parallel 1,4,8,16          # aggregate decoding, N sequences
  llamago bench -m model.gguf -p 16 -n 1 --parallel 8 --shared-prefix 256 # TTFT with a common prefix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.report = cmd.ErrOrStderr()
			return runBench(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	o.modelFlags.bind(f)
	f.IntSliceVarP(&o.PPs, "n-prompt", "p", []int{512}, "prompt tokens for ppN, a comma list (0: skip)")
	f.IntSliceVarP(&o.TGs, "n-gen", "n", []int{128}, "generated tokens for tgN, a comma list (0: skip)")
	f.IntSliceVarP(&o.Depths, "n-depth", "d", []int{0}, "tokens already in the context when each test starts, a comma list (tests at depth D are named \"ppN @ dD\")")
	f.IntVarP(&o.Reps, "repetitions", "r", 3, "measured repetitions of each test")
	f.StringVarP(&o.Output, "output", "o", "md", "output format: md (a table), json or csv")
	f.BoolVar(&o.JSON, "json", false, "print results as JSON (-o json)")
	f.IntSliceVar(&o.Parallel, "parallel", nil, "measure batched decoding with these numbers of sequences (comma list, e.g. 1,4,8,16)")
	f.IntVar(&o.Prefix, "shared-prefix", 0, "with --parallel: prompts share this many leading tokens; measure time to first token with and without the prefix cache")
	f.IntVar(&o.KVBlocks, "kv-blocks", 0, "with --parallel: the KV cache in blocks of 32 positions shared by the sequences (default: room for every sequence's whole context)")
	return cmd
}

// benchResult is one test's measurement.
type benchResult struct {
	Model     string    `json:"model"`
	Type      string    `json:"type"`
	SizeBytes int64     `json:"size_bytes"`
	Params    uint64    `json:"params"`
	Backend   string    `json:"backend"`
	Threads   int       `json:"threads"`
	Test      string    `json:"test"`
	Depth     int       `json:"n_depth"`
	TypeK     string    `json:"type_k"` // the KV cache's keys and values, named as llama-bench names them
	TypeV     string    `json:"type_v"`
	TPS       float64   `json:"tokens_per_second"`
	StdDev    float64   `json:"stddev"`
	Samples   []float64 `json:"samples"`
}

func runBench(w io.Writer, o benchOptions) error {
	switch o.Output {
	case "md", "csv":
	case "json":
		o.JSON = true
	default:
		return usagef("-o must be md, json or csv, got %q", o.Output)
	}
	if o.JSON && o.Output == "csv" {
		return usagef("--json and -o csv ask for two formats: give one")
	}
	if o.JSON {
		o.Output = "json"
	}
	total := 0
	for _, v := range append(append([]int{}, o.PPs...), o.TGs...) {
		if v < 0 {
			return usagef("-p and -n must be ≥ 0, got %d", v)
		}
		total += v
	}
	if o.Reps <= 0 || total == 0 || len(o.PPs) == 0 || len(o.TGs) == 0 {
		return usagef("-p and -n must not all be 0 and -r must be positive")
	}
	if len(o.Depths) == 0 {
		o.Depths = []int{0}
	}
	for _, d := range o.Depths {
		if d < 0 {
			return usagef("-d must be ≥ 0, got %d", d)
		}
	}
	depth := slices.Max(o.Depths)
	if depth > 0 && len(o.Parallel) > 0 {
		return usagef("-d goes without --parallel (the sequences of --parallel start from their -p prompts)")
	}
	if len(o.Parallel) > 0 && (len(o.PPs) > 1 || len(o.TGs) > 1) {
		return usagef("with --parallel, -p and -n take one value each")
	}
	o.PP, o.TG = o.PPs[0], o.TGs[0]
	for _, n := range o.Parallel {
		if n <= 0 || n > 1024 {
			return usagef("--parallel takes sequence counts from 1 to 1024, got %d", n)
		}
	}
	if o.Prefix < 0 || o.Prefix > 0 && len(o.Parallel) == 0 {
		return usagef("--shared-prefix must be ≥ 0 and goes with --parallel")
	}
	if o.KVBlocks < 0 || o.KVBlocks > 0 && len(o.Parallel) == 0 {
		return usagef("--kv-blocks must be ≥ 0 and goes with --parallel")
	}
	longest := max(slices.Max(o.PPs), slices.Max(o.TGs))
	if o.Ctx == 0 {
		o.Ctx = max(depth+longest, 1)
		if depth > 0 {
			o.ctxFrom = fmt.Sprintf("-d %d and a test of %d tokens", depth, longest)
		}
	} else if depth+longest > o.Ctx && len(o.Parallel) == 0 { // --parallel sizes its own context
		return usagef("-d %d and a test of %d tokens need a context of %d positions, more than --ctx %d", depth, longest, depth+longest, o.Ctx)
	}
	lm, err := o.open()
	if err != nil {
		return err
	}
	defer lm.Close()
	if o.report != nil {
		lm.printNotes(o.report)
	}
	m := lm.model
	var params uint64
	for _, t := range lm.file.Tensors {
		params += t.Elements()
	}
	threads := o.Threads
	if cpuB, ok := lm.backend.(engine.Threader); ok {
		threads = cpuB.Threads()
	}
	base := benchResult{Model: filepath.Base(o.Model), Type: lm.file.WeightsTypeName(), SizeBytes: lm.file.Size(),
		Params: params, Backend: lm.backend.Name(), Threads: threads,
		TypeK: engine.KVTypeName(m.KVType()), TypeV: engine.KVTypeName(m.KVType())}
	if o.Prefix > 0 {
		return runBenchPrefix(w, o, lm)
	}
	if len(o.Parallel) > 0 {
		return runBenchParallel(w, o, lm, base)
	}
	sess, err := m.NewSession(lm.ctx, o.Batch)
	if err != nil {
		return err
	}
	defer sess.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	randTokens := func(n int) []int32 {
		t := make([]int32, n)
		for i := range t {
			t[i] = int32(rng.IntN(m.Config.VocabSize))
		}
		return t
	}
	measure := func(name string, n, depth int, once func() error) (benchResult, error) {
		r := base
		r.Test, r.Depth = fmt.Sprintf("%s%d", name, n), depth
		if depth > 0 {
			r.Test += fmt.Sprintf(" @ d%d", depth) // llama-bench's name for it
		}
		fill := randTokens(depth)
		for i := 0; i <= o.Reps; i++ { // run 0 warms up
			sess.Reset()
			if depth > 0 {
				if _, err := sess.Eval(fill, false); err != nil {
					return r, err
				}
			}
			t0 := time.Now()
			if err := once(); err != nil {
				return r, err
			}
			if i > 0 {
				r.Samples = append(r.Samples, float64(n)/time.Since(t0).Seconds())
			}
		}
		r.TPS, r.StdDev = meanStd(r.Samples)
		return r, nil
	}
	var results []benchResult
	for _, depth := range o.Depths {
		for _, pp := range o.PPs {
			if pp == 0 {
				continue
			}
			toks := randTokens(pp)
			r, err := measure("pp", pp, depth, func() error { _, err := sess.Eval(toks, false); return err })
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		for _, tg := range o.TGs {
			if tg == 0 {
				continue
			}
			toks := randTokens(tg)
			r, err := measure("tg", tg, depth, func() error {
				for _, t := range toks {
					if _, err := sess.Eval([]int32{t}, false); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	reportBackends(o.report, lm)
	switch o.Output {
	case "json":
		return json.NewEncoder(w).Encode(results)
	case "csv":
		return writeCSV(w, []string{"model", "type", "size_bytes", "params", "backend", "threads", "test", "n_depth", "tokens_per_second", "stddev", "type_k", "type_v"},
			len(results), func(i int) []any {
				r := results[i]
				return []any{r.Model, r.Type, r.SizeBytes, r.Params, r.Backend, r.Threads, r.Test, r.Depth, r.TPS, r.StdDev, r.TypeK, r.TypeV}
			})
	}
	sw := &stickyWriter{w: w} // a full disk or closed stdout is an error, not lost output (F14)
	w = sw
	tw := 8 // the test column: as wide as its longest name ("tg128 @ d2048")
	for _, r := range results {
		tw = max(tw, len(r.Test))
	}
	// As llama-bench, the KV cache's type gets a column only when it is not the default.
	kv := len(results) > 0 && results[0].TypeK != "f32"
	col := func(v string) string {
		if !kv {
			return ""
		}
		return fmt.Sprintf(" %6s |", v)
	}
	fmt.Fprintf(w, "| %-28s | %10s | %8s | %7s | %7s |%s %*s | %18s |\n", "model", "size", "params", "backend", "threads", col("type_k"), tw, "test", "t/s")
	d := func(n int) string { return strings.Repeat("-", n) }
	fmt.Fprintf(w, "| %s | %s | %s | %s | %s |%s %s | %s |\n", d(28), d(10), d(8), d(7), d(7), col(d(6)), d(tw), d(18))
	for _, r := range results {
		fmt.Fprintf(w, "| %-28s | %10s | %8s | %7s | %7d |%s %*s | %9.2f ± %6.2f |\n", r.Model+" "+r.Type, humanBytes(uint64(r.SizeBytes)),
			humanCount(r.Params), r.Backend, r.Threads, col(r.TypeK), tw, r.Test, r.TPS, r.StdDev)
	}
	return sw.err
}

// reportBackends writes what the model's backends report beyond the numbers (engine.Reporter: a GPU's CUDA
// graphs), a line each on w (standard error: the results on standard output stay a table or JSON).
func reportBackends(w io.Writer, lm *loadedModel) {
	if w == nil {
		return
	}
	for _, b := range append([]engine.Backend{lm.backend}, lm.others...) {
		if r, ok := b.(engine.Reporter); ok {
			fmt.Fprintf(w, "llamago: %s\n", r.Report())
		}
	}
}

// stickyWriter passes writes on and keeps the first error, so a report written with many Fprintf calls
// fails as a whole when its output does.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = fmt.Errorf("writing the output: %w", err)
	}
	return n, s.err
}

// writeCSV writes a header and n rows (row(i) gives row i's fields; floats with 3 decimals).
func writeCSV(w io.Writer, header []string, n int, row func(i int) []any) error {
	cw := csv.NewWriter(w)
	cw.Write(header)
	for i := range n {
		var fields []string
		for _, v := range row(i) {
			if f, ok := v.(float64); ok {
				fields = append(fields, fmt.Sprintf("%.3f", f))
			} else {
				fields = append(fields, fmt.Sprint(v))
			}
		}
		cw.Write(fields)
	}
	cw.Flush()
	return cw.Error()
}

func meanStd(x []float64) (float64, float64) {
	var s, s2 float64
	for _, v := range x {
		s += v
	}
	mean := s / float64(len(x))
	for _, v := range x {
		s2 += (v - mean) * (v - mean)
	}
	if len(x) < 2 {
		return mean, 0
	}
	return mean, math.Sqrt(s2 / float64(len(x)-1))
}
