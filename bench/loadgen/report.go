package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// writeMarkdown writes the report as a markdown table, then the first errors of each level.
func writeMarkdown(w io.Writer, r *Report) {
	check := "not checked (temperature > 0)"
	if r.Checked {
		check = "greedy answers compared across levels"
	}
	fmt.Fprintf(w, "server %s; %d requests per level, %d tokens each (ignore_eos %v), temperature %g; %s\n\n",
		r.URL, r.Requests, r.MaxTokens, r.IgnoreEOS, r.Temperature, check)
	fmt.Fprintln(w, "| clients | requests | tokens/s aggregate | speedup vs 1 client | TTFT p50/p99 ms | ITL p50/p99 ms | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, l := range r.Levels {
		speed := "-"
		if l.Speedup != nil {
			speed = fmt.Sprintf("%.2f×", *l.Speedup)
		}
		fmt.Fprintf(w, "| %d | %d | %.2f | %s | %s / %s | %s / %s | %d |\n", l.Clients, l.Requests, l.TokensPerSec, speed,
			ms(l.TTFTp50), ms(l.TTFTp99), ms(l.ITLp50), ms(l.ITLp99), l.Errors)
	}
	for _, l := range r.Levels {
		if l.Errors == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%d clients: %d errors (%d greedy mismatches); the first:\n", l.Clients, l.Errors, l.Mismatches)
		for _, s := range l.ErrorSamples {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(s, "\n", " "))
		}
	}
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// writeJSON writes the report as one JSON object; percentiles that have no values are null.
func writeJSON(w io.Writer, r *Report) error {
	type level struct {
		Level
		TTFTp50 *float64 `json:"ttft_p50_ms"`
		TTFTp99 *float64 `json:"ttft_p99_ms"`
		ITLp50  *float64 `json:"itl_p50_ms"`
		ITLp99  *float64 `json:"itl_p99_ms"`
	}
	num := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	out := struct {
		*Report
		Levels []level `json:"levels"`
		Errors int     `json:"errors"`
	}{Report: r, Levels: []level{}, Errors: r.Errors()}
	for _, l := range r.Levels {
		out.Levels = append(out.Levels, level{Level: l, TTFTp50: num(l.TTFTp50), TTFTp99: num(l.TTFTp99), ITLp50: num(l.ITLp50), ITLp99: num(l.ITLp99)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
