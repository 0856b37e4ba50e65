package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/llamago/llamago/engine"
)

// parallelResult is one row of bench --parallel: N sequences decoding together, as llama-batched-bench
// measures them (PP: every sequence's prompt; TG: N·n tokens, N per step).
type parallelResult struct {
	Model       string    `json:"model"`
	Type        string    `json:"type"`
	Backend     string    `json:"backend"`
	Threads     int       `json:"threads"`
	Parallel    int       `json:"parallel"`
	NPrompt     int       `json:"n_prompt"`
	NGen        int       `json:"n_gen"`
	PromptTPS   float64   `json:"prompt_tokens_per_second"`
	TPS         float64   `json:"tokens_per_second"` // aggregate decoding speed
	StdDev      float64   `json:"stddev"`
	Samples     []float64 `json:"samples"`
	TotalTPS    float64   `json:"total_tokens_per_second"`
	SpeedupOver float64   `json:"speedup_over_one,omitempty"` // tokens_per_second / the N=1 row's
	// Memory: the model file (mapped), the KV pool and the step's activations as allocated, and the process's
	// peak resident set so far (it holds the largest N's runner when the list grows).
	WeightsBytes     int64  `json:"weights_bytes"`
	KVBytes          int64  `json:"kv_bytes"`
	TypeK            string `json:"type_k"` // the KV cache's element type, named as llama-bench names it
	TypeV            string `json:"type_v"`
	ActivationsBytes int64  `json:"activations_bytes"`
	PeakRSSBytes     int64  `json:"peak_rss_bytes,omitempty"`
}

// runBenchParallel measures aggregate decoding with each N of o.Parallel sequences: N prompts of -p random
// tokens read together, then -n steps that each decode one token of every sequence (greedy).
func runBenchParallel(w io.Writer, o benchOptions, lm *loadedModel, base benchResult) error {
	m := lm.model
	ctx := o.PP + o.TG + 1
	rng := rand.New(rand.NewPCG(1, 1))
	var results []parallelResult
	short := func(n int, err error) error {
		if errors.Is(err, engine.ErrNoKVBlocks) {
			return fmt.Errorf("%w: %d sequences of %d positions need %d blocks of %d (--kv-blocks %d)", err, n, ctx,
				n*((ctx+engine.KVBlockSize-1)/engine.KVBlockSize), engine.KVBlockSize, o.KVBlocks)
		}
		return err
	}
	for _, n := range o.Parallel {
		run, err := m.NewRunner(engine.RunnerOptions{Context: ctx, Batch: max(o.Batch, n), Sequences: n, Blocks: o.KVBlocks})
		if err != nil {
			return err
		}
		r := parallelResult{Model: base.Model, Type: base.Type, Backend: base.Backend, Threads: base.Threads, Parallel: n, NPrompt: o.PP, NGen: o.TG,
			WeightsBytes: base.SizeBytes, TypeK: base.TypeK, TypeV: base.TypeV}
		r.KVBytes, r.ActivationsBytes = run.Bytes()
		var ppTime, tgTime, total time.Duration
		for rep := 0; rep <= o.Reps; rep++ { // rep 0 warms up
			seqs := make([]*engine.Sequence, n)
			prompts := make([][]int32, n)
			for i := range seqs {
				seqs[i] = run.NewSequence()
				prompts[i] = make([]int32, max(o.PP, 1))
				for j := range prompts[i] {
					prompts[i][j] = int32(rng.IntN(m.Config.VocabSize))
				}
			}
			vocab := m.Config.VocabSize
			var logits []float32
			next := make([]int32, n)
			t0 := time.Now()
			// The prompts, o.Batch tokens per step, the last chunk of each asking for its logits.
			for i := 0; i < n; {
				var chunks []engine.Chunk
				for budget := max(o.Batch, n); i < n && budget > 0; {
					s := seqs[i]
					k := min(len(prompts[i])-s.Len(), budget)
					c := engine.Chunk{Seq: s, Tokens: prompts[i][s.Len() : s.Len()+k]}
					budget -= k
					if s.Len()+k == len(prompts[i]) {
						c.Logits = engine.LastLogits
						i++
					}
					chunks = append(chunks, c)
				}
				if logits, err = run.Step(chunks, logits); err != nil {
					return short(n, err)
				}
				row := 0
				for _, c := range chunks {
					if c.Logits == engine.LastLogits {
						next[slices.Index(seqs, c.Seq)] = engine.Argmax(logits[row*vocab : (row+1)*vocab])
						row++
					}
				}
			}
			t1 := time.Now()
			chunks := make([]engine.Chunk, n)
			for range o.TG {
				for i := range chunks {
					chunks[i] = engine.Chunk{Seq: seqs[i], Tokens: next[i : i+1], Logits: engine.LastLogits}
				}
				if logits, err = run.Step(chunks, logits); err != nil {
					return short(n, err)
				}
				for i := range next {
					next[i] = engine.Argmax(logits[i*vocab : (i+1)*vocab])
				}
			}
			t2 := time.Now()
			for _, s := range seqs {
				s.Free()
			}
			if rep > 0 {
				ppTime += t1.Sub(t0)
				tgTime += t2.Sub(t1)
				total += t2.Sub(t0)
				r.Samples = append(r.Samples, float64(n*o.TG)/t2.Sub(t1).Seconds())
			}
		}
		r.PromptTPS = float64(n*max(o.PP, 1)*o.Reps) / ppTime.Seconds()
		r.TPS, r.StdDev = meanStd(r.Samples)
		r.TotalTPS = float64(n*(max(o.PP, 1)+o.TG)*o.Reps) / total.Seconds()
		r.PeakRSSBytes = peakRSS()
		if len(results) > 0 && results[0].Parallel == 1 {
			r.SpeedupOver = r.TPS / results[0].TPS
		}
		results = append(results, r)
		run.Close() // a GPU's arena goes back before the next N takes its own
	}
	reportBackends(o.report, lm)
	switch o.Output {
	case "json":
		return json.NewEncoder(w).Encode(results)
	case "csv":
		return writeCSV(w, []string{"model", "type", "backend", "threads", "parallel", "n_prompt", "n_gen", "prompt_tokens_per_second",
			"tokens_per_second", "stddev", "total_tokens_per_second", "kv_bytes", "activations_bytes", "peak_rss_bytes", "type_k", "type_v", "weights_bytes", "speedup_over_one"},
			len(results), func(i int) []any {
				r := results[i]
				return []any{r.Model, r.Type, r.Backend, r.Threads, r.Parallel, r.NPrompt, r.NGen, r.PromptTPS, r.TPS, r.StdDev, r.TotalTPS,
					r.KVBytes, r.ActivationsBytes, r.PeakRSSBytes, r.TypeK, r.TypeV, r.WeightsBytes, r.SpeedupOver}
			})
	}
	fmt.Fprintf(w, "%s %s, %s, %d threads, prompts of %d tokens, %d generated per sequence, KV cache %s\n\n", base.Model, base.Type, base.Backend, base.Threads, o.PP, o.TG, base.TypeK)
	fmt.Fprintf(w, "| %8s | %12s | %18s | %10s | %8s | %9s | %11s | %9s |\n", "parallel", "prompt t/s", "decode t/s (all)", "total t/s", "vs one", "KV pool", "activations", "peak RSS")
	fmt.Fprintf(w, "| %8s | %12s | %18s | %10s | %8s | %9s | %11s | %9s |\n", "--------", "------------", "------------------", "----------", "--------", "---------", "-----------", "---------")
	for _, r := range results {
		vs := "-"
		if r.SpeedupOver > 0 {
			vs = fmt.Sprintf("%.2f×", r.SpeedupOver)
		}
		fmt.Fprintf(w, "| %8d | %12.2f | %9.2f ± %6.2f | %10.2f | %8s | %9s | %11s | %9s |\n", r.Parallel, r.PromptTPS, r.TPS, r.StdDev, r.TotalTPS, vs,
			humanBytes(uint64(r.KVBytes)), humanBytes(uint64(r.ActivationsBytes)), humanBytes(uint64(r.PeakRSSBytes)))
	}
	return nil
}

// prefixResult is one row of bench --shared-prefix: time to first token of N requests whose prompts begin
// with the same tokens, submitted together to the scheduler, with and without the prefix cache.
type prefixResult struct {
	Parallel    int     `json:"parallel"`
	Prefix      int     `json:"shared_prefix"`
	NPrompt     int     `json:"n_prompt"`
	PrefixCache bool    `json:"prefix_cache"`
	MeanTTFTMs  float64 `json:"mean_ttft_ms"`
	LastTTFTMs  float64 `json:"last_ttft_ms"`
	Reused      int     `json:"reused_tokens"`
}

// runBenchPrefix submits, for each N, N requests (the shared prefix, then -p own tokens, then -n generated)
// at once, first without and then with the prefix cache, and reports their times to first token. The first
// request goes alone first with the cache, as a system prompt would have been read before.
func runBenchPrefix(w io.Writer, o benchOptions, lm *loadedModel) error {
	m := lm.model
	rng := rand.New(rand.NewPCG(2, 2))
	toks := func(k int) []int32 {
		t := make([]int32, k)
		for i := range t {
			t[i] = int32(rng.IntN(m.Config.VocabSize))
		}
		return t
	}
	var results []prefixResult
	for _, n := range o.Parallel {
		prefix := toks(o.Prefix)
		prompts := make([][]int32, n)
		for i := range prompts {
			prompts[i] = append(append([]int32(nil), prefix...), toks(max(o.PP, 1))...)
		}
		for _, cache := range []bool{false, true} {
			run, err := m.NewRunner(engine.RunnerOptions{Context: o.Prefix + max(o.PP, 1) + o.TG + 1, Batch: max(o.Batch, n), Sequences: n,
				Blocks: o.KVBlocks, PrefixCache: cache})
			if err != nil {
				return err
			}
			sch := engine.NewScheduler(run, engine.SchedulerOptions{})
			gen := func(ps [][]int32) ([]engine.SeqStats, error) {
				var streams []*engine.Stream
				for _, p := range ps {
					st, err := sch.Submit(context.Background(), engine.Request{Prompt: p, MaxTokens: max(o.TG, 1), IgnoreEOG: true})
					if err != nil {
						return nil, err
					}
					streams = append(streams, st)
				}
				var stats []engine.SeqStats
				for _, st := range streams {
					for range st.Tokens() {
					}
					if err := st.Err(); err != nil {
						return nil, err
					}
					stats = append(stats, st.Stats())
				}
				return stats, nil
			}
			if cache { // the shared prefix read once before, by a request of its own
				if _, err := gen([][]int32{append(append([]int32(nil), prefix...), toks(1)...)}); err != nil {
					sch.Close()
					return err
				}
			}
			stats, err := gen(prompts)
			sch.Close()
			run.Close()
			if err != nil {
				return err
			}
			r := prefixResult{Parallel: n, Prefix: o.Prefix, NPrompt: o.PP, PrefixCache: cache}
			for _, s := range stats {
				r.MeanTTFTMs += float64(s.TTFT.Microseconds()) / 1e3 / float64(n)
				r.LastTTFTMs = max(r.LastTTFTMs, float64(s.TTFT.Microseconds())/1e3)
				r.Reused += s.ReusedTokens
			}
			results = append(results, r)
		}
	}
	switch o.Output {
	case "json":
		return json.NewEncoder(w).Encode(results)
	case "csv":
		return writeCSV(w, []string{"parallel", "shared_prefix", "n_prompt", "prefix_cache", "mean_ttft_ms", "last_ttft_ms", "reused_tokens"},
			len(results), func(i int) []any {
				r := results[i]
				return []any{r.Parallel, r.Prefix, r.NPrompt, r.PrefixCache, r.MeanTTFTMs, r.LastTTFTMs, r.Reused}
			})
	}
	fmt.Fprintf(w, "| %8s | %13s | %8s | %12s | %14s | %14s | %13s |\n", "parallel", "shared prefix", "own", "prefix cache", "mean TTFT ms", "last TTFT ms", "reused tokens")
	fmt.Fprintf(w, "| %8s | %13s | %8s | %12s | %14s | %14s | %13s |\n", "--------", "-------------", "--------", "------------", "--------------", "--------------", "-------------")
	for _, r := range results {
		fmt.Fprintf(w, "| %8d | %13d | %8d | %12v | %14.1f | %14.1f | %13d |\n", r.Parallel, r.Prefix, r.NPrompt, r.PrefixCache, r.MeanTTFTMs, r.LastTTFTMs, r.Reused)
	}
	return nil
}
