package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchParallel: bench --parallel gives one JSON object per sequence count with its aggregate decoding
// speed, and --shared-prefix reports times to first token with and without the prefix cache (with it, the
// shared prefix's whole blocks are reused by every request).
func TestBenchParallel(t *testing.T) {
	p := synthTiny(t, "Q4_0")
	out, stderr, code := run(t, "bench", "-m", p, "-p", "8", "-n", "4", "-r", "1", "--parallel", "1,3", "--json")
	require.Zero(t, code, stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 2)
	for i, n := range []float64{1, 3} {
		require.Equal(t, n, rows[i]["parallel"])
		require.Positive(t, rows[i]["tokens_per_second"])
	}

	out, stderr, code = run(t, "bench", "-m", p, "-p", "4", "-n", "1", "-r", "1", "--parallel", "3", "--shared-prefix", "70", "--json")
	require.Zero(t, code, stderr)
	var pre []prefixResult
	require.NoError(t, json.Unmarshal([]byte(out), &pre))
	require.Len(t, pre, 2)
	require.False(t, pre[0].PrefixCache)
	require.Zero(t, pre[0].Reused)
	require.True(t, pre[1].PrefixCache)
	require.Equal(t, 3*64, pre[1].Reused, "two whole blocks of the 70-token prefix, for each of 3 requests")

	_, _, code = run(t, "bench", "-m", p, "--parallel", "0")
	require.Equal(t, 2, code)
	_, _, code = run(t, "bench", "-m", p, "--shared-prefix", "10")
	require.Equal(t, 2, code)
}

// TestBenchListsAndFormats: -p and -n take comma lists (one test each, as llama-bench), -o csv gives a
// header and a row per test, -o json the same as --json, and a wrong -o is a usage error.
func TestBenchListsAndFormats(t *testing.T) {
	p := synthTiny(t, "Q8_0")
	out, stderr, code := run(t, "bench", "-m", p, "-p", "8,16", "-n", "0", "-r", "1", "-o", "csv")
	require.Zero(t, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.True(t, strings.HasPrefix(lines[0], "model,type,size_bytes"), lines[0])
	require.Contains(t, lines[1], ",pp8,")
	require.Contains(t, lines[2], ",pp16,")

	out, stderr, code = run(t, "bench", "-m", p, "-p", "0", "-n", "2,3", "-r", "1", "-o", "json")
	require.Zero(t, code, stderr)
	var rows []benchResult
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 2)
	require.Equal(t, "tg2", rows[0].Test)
	require.Equal(t, "tg3", rows[1].Test)

	_, _, code = run(t, "bench", "-m", p, "-o", "xml")
	require.Equal(t, 2, code)
	_, stderr, code = run(t, "bench", "-m", p, "--json", "-o", "csv")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "ask for two formats")
	_, _, code = run(t, "bench", "-m", p, "-p", "8,16", "--parallel", "2")
	require.Equal(t, 2, code)

	// --parallel's CSV has the JSON's columns.
	out, stderr, code = run(t, "bench", "-m", p, "-p", "4", "-n", "2", "-r", "1", "--parallel", "1,2", "-o", "csv")
	require.Zero(t, code, stderr)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.True(t, strings.HasSuffix(lines[0], ",weights_bytes,speedup_over_one"), lines[0])
}

// TestBenchKVBlocks: --kv-blocks sizes the pool of --parallel, and a pool too small says what it needs.
func TestBenchKVBlocks(t *testing.T) {
	p := synthTiny(t, "Q4_0")
	_, stderr, code := run(t, "bench", "-m", p, "-p", "40", "-n", "40", "-r", "1", "--parallel", "4", "--kv-blocks", "4")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "4 sequences of 81 positions need 12 blocks")
	out, stderr, code := run(t, "bench", "-m", p, "-p", "40", "-n", "4", "-r", "1", "--parallel", "4", "--kv-blocks", "8", "--json")
	require.Zero(t, code, stderr)
	var rows []parallelResult
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 1)
	require.Positive(t, rows[0].TPS)
	_, _, code = run(t, "bench", "-m", p, "--kv-blocks", "4")
	require.Equal(t, 2, code)
}

// TestBenchDepth: -d runs every test again after that many tokens of context, named as llama-bench names
// them ("tg2 @ d16") with n_depth in the JSON; the default context makes room for the depth and the longest
// test, a --ctx too small for them is a usage error that says what they need, and -d goes without --parallel.
func TestBenchDepth(t *testing.T) {
	p := synthTiny(t, "Q4_0")
	out, stderr, code := run(t, "bench", "-m", p, "-p", "8", "-n", "2", "-d", "0,16", "-r", "1", "--json")
	require.Zero(t, code, stderr)
	var rows []benchResult
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 4)
	for i, want := range []struct {
		test  string
		depth int
	}{{"pp8", 0}, {"tg2", 0}, {"pp8 @ d16", 16}, {"tg2 @ d16", 16}} {
		require.Equal(t, want.test, rows[i].Test)
		require.Equal(t, want.depth, rows[i].Depth)
		require.Positive(t, rows[i].TPS)
	}

	out, stderr, code = run(t, "bench", "-m", p, "-p", "0", "-n", "2", "-d", "22", "-c", "24", "-r", "1")
	require.Zero(t, code, stderr)
	require.Contains(t, out, "| tg2 @ d22 |", "the test column widens to the longest name")

	// A depth past the model's training context: the note names what chose the context, not a --ctx.
	_, stderr, code = run(t, "bench", "-m", p, "-p", "0", "-n", "2", "-d", "600", "-r", "1")
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "note: -d 600 and a test of 2 tokens take 602 positions, more than the 512 positions the model was trained with")

	_, stderr, code = run(t, "bench", "-m", p, "-p", "8", "-n", "2", "-d", "20", "-c", "24")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "need a context of 28 positions")
	_, _, code = run(t, "bench", "-m", p, "-d", "-1")
	require.Equal(t, 2, code)
	_, _, code = run(t, "bench", "-m", p, "-p", "8", "-n", "2", "-d", "8", "--parallel", "2")
	require.Equal(t, 2, code)
	_, stderr, code = run(t, "bench", "-m", p, "-p", "8", "-n", "2", "-r", "1", "-c", "4", "--parallel", "2")
	require.Zero(t, code, "--parallel sizes its own context: a small --ctx is not a depth error: %s", stderr)
}

// TestBenchKVType: --kv-type f16 reaches the cache and the report names it as llama-bench does (type_k and
// type_v in JSON and CSV, a type_k column in the table only when not f32).
func TestBenchKVType(t *testing.T) {
	p := synthTiny(t, "Q4_0")
	out, stderr, code := run(t, "bench", "-m", p, "-p", "8", "-n", "2", "-d", "16", "-r", "1", "--kv-type", "f16", "--json")
	require.Zero(t, code, stderr)
	var rows []benchResult
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 2)
	for _, r := range rows {
		require.Equal(t, "f16", r.TypeK)
		require.Equal(t, "f16", r.TypeV)
		require.Positive(t, r.TPS)
	}
	// llama-bench's spelling, in capitals.
	out, stderr, code = run(t, "bench", "-m", p, "-p", "8", "-n", "0", "-r", "1", "-ctk", "F16", "-ctv", "f16")
	require.Zero(t, code, stderr)
	require.Contains(t, out, "| type_k |")
	require.Contains(t, out, "|    f16 |")
	out, stderr, code = run(t, "bench", "-m", p, "-p", "8", "-n", "0", "-r", "1", "-o", "csv")
	require.Zero(t, code, stderr)
	require.Contains(t, out, ",stddev,type_k,type_v\n", "new columns go last: scripts read the others by position")
	require.Contains(t, out, ",f32,f32\n")
	out, stderr, code = run(t, "bench", "-m", p, "-p", "0", "-n", "2", "-r", "1", "--parallel", "2", "--kv-type", "f16", "--json")
	require.Zero(t, code, stderr)
	require.Contains(t, out, `"type_k":"f16"`)
	out, stderr, code = run(t, "bench", "-m", p, "-p", "0", "-n", "2", "-r", "1", "--parallel", "2", "--kv-type", "f16")
	require.Zero(t, code, stderr)
	require.Contains(t, out, "generated per sequence, KV cache f16", "the parallel table's heading names the cache")
}
