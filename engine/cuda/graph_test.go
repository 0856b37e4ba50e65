//go:build cuda || cudaemu

package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestGraphsMatchOneByOne drives two runners of the same model through the same decoding steps — batches
// that grow from one sequence to five and shrink again, and sequences that leave
// and start over — one backend launching passes as graphs (LLAMAGO_CUDA_GRAPHS=on: prompts too), the other
// kernel by kernel, and requires the same logits to the bit: a graph launches the same kernels with the same
// arguments. A shape seen before replays its graph with only the changed nodes set (attention's key count
// grows each step), and no step abandons its graph.
func TestGraphsMatchOneByOne(t *testing.T) {
	f := tinyModel(t, 2, 11)
	type side struct {
		b    *Backend
		r    *engine.Runner
		seqs []*engine.Sequence
	}
	open := func(mode int) *side {
		b := openGPU(t)
		b.graphs.mode = mode
		m, err := engine.Load(f, b)
		require.NoError(t, err)
		r, err := m.NewRunner(engine.RunnerOptions{Context: 96, Batch: 64, Sequences: 5})
		require.NoError(t, err)
		s := &side{b: b, r: r}
		for range 5 {
			s.seqs = append(s.seqs, r.NewSequence())
		}
		return s
	}
	graphs, eager := open(graphsOn), open(graphsOff)
	defer graphs.b.Close()
	defer eager.b.Close()

	rng := rand.New(rand.NewSource(5))
	steps := 0
	step := func(name string, which []int, tokens int) {
		steps++
		toks := make([][]int32, len(which))
		for i := range toks {
			for range tokens {
				toks[i] = append(toks[i], int32(1+rng.Intn(299)))
			}
		}
		var out [2][]float32
		for k, s := range []*side{graphs, eager} {
			var chunks []engine.Chunk
			for i, w := range which {
				chunks = append(chunks, engine.Chunk{Seq: s.seqs[w], Tokens: toks[i], Logits: engine.LastLogits})
			}
			var err error
			out[k], err = s.r.Step(chunks, nil)
			require.NoError(t, err, name)
		}
		require.True(t, slices.Equal(out[0], out[1]), "%s: logits of the graph differ from those launched one by one", name)
	}
	step("prompts", []int{0, 1, 2, 3, 4}, 7)
	for i := range 12 {
		n := 1 + min(i, 11-i, 4) // 1, 2, 3, 4, 5, 5, 5, 5, 4, 3, 2, 1 sequences
		step(fmt.Sprintf("decode %d sequences", n), []int{0, 1, 2, 3, 4}[:n], 1)
		if i == 6 {
			for _, s := range []*side{graphs, eager} {
				s.seqs[1].Free()
			}
		}
	}
	st, failed := graphs.b.GraphStats()
	t.Logf("graphs: %+v over %d steps", st, steps)
	require.NoError(t, failed)
	// Three sequences of kernels: the prompts (35 tokens: tensor cores, query tiles), one token (the
	// one-token products), 2 to 5 tokens (the same kernels, other grids and arguments). Each launches one
	// by one the first time; the second time gets a graph (the prompts' never comes).
	require.Equal(t, 3, st.Eager, "first sights")
	require.Equal(t, 2, st.Built)
	require.Equal(t, steps-3, st.Launched, "every other pass launched as a graph")
	require.Positive(t, st.Updated, "nodes set before a replay")
	require.Zero(t, st.Abandoned)
	est, _ := eager.b.GraphStats()
	require.Equal(t, steps, est.Eager)
	require.Zero(t, est.Launched)
}

// TestGraphsAuto: by default decoding passes launch as graphs (from the second token: the first is a first
// sight) and prompt chunks of more than graphTokens tokens one kernel at a time; a model loaded unfused
// (engine.LoadOptions.Unfused hides the fused operations, not the graphs) too.
func TestGraphsAuto(t *testing.T) {
	for _, unfused := range []bool{false, true} {
		b := openGPU(t)
		require.Equal(t, graphsAuto, b.graphs.mode)
		m, err := engine.LoadWith(tinyModel(t, 2, 3), engine.LoadOptions{First: b, FirstLayers: -1, Unfused: unfused})
		require.NoError(t, err)
		s, err := m.NewSession(128, 100)
		require.NoError(t, err)
		prompt := make([]int32, graphTokens+1)
		for i := range prompt {
			prompt[i] = int32(1 + i)
		}
		_, err = s.Eval(prompt, false)
		require.NoError(t, err)
		for i := range 3 {
			_, err = s.Eval([]int32{int32(7 + i)}, false)
			require.NoError(t, err)
		}
		st, _ := b.GraphStats()
		require.Equal(t, GraphStats{Built: 1, Launched: 2, Updated: st.Updated, Eager: 2}, st, "unfused=%v", unfused)
		require.Positive(t, st.Updated, "attention's key count changes each step")
		s.Close()
		require.NoError(t, b.Close())
	}
}

// pass runs fn as one pass of the backend (recorded where graphs are on) and ends it.
func pass(t *testing.T, b *Backend, fn func()) {
	t.Helper()
	b.BeginPass(1)
	fn()
	require.NoError(t, b.EndPass(true))
}

// TestGraphsKeepOrder: operations that must stay in order with the kernels a pass recorded launch those
// kernels first — an upload into memory one of them reads (a second batch of token ids into the array the
// first embedding reads), a write, a read back — and the pass goes on one kernel at a time; an upload into
// memory no recorded kernel reads does not end the graph. A failed pass drops what it recorded.
func TestGraphsKeepOrder(t *testing.T) {
	b := openGPU(t)
	defer b.Close()
	b.graphs.mode = graphsOn
	const cols = 8
	tableVals := make([]float32, 4*cols)
	for i := range tableVals {
		tableVals[i] = float32(i)
	}
	raw := make([]byte, 4*len(tableVals))
	for i, v := range tableVals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	table, err := b.LoadWeight("table", gguf.TypeF32, 4, cols, raw)
	require.NoError(t, err)
	d1, err := b.Alloc(2 * cols)
	require.NoError(t, err)
	d2, err := b.Alloc(2 * cols)
	require.NoError(t, err)
	read := func(x engine.Buffer, n int) []float32 {
		v := make([]float32, n)
		require.NoError(t, b.Read(v, x, 0))
		return v
	}

	// Two embeddings in one pass, each uploading its ids into the same scratch array.
	pass(t, b, func() {
		require.NoError(t, b.Embed(d1, table, []int32{1, 2}))
		require.NoError(t, b.Embed(d2, table, []int32{3, 0}))
	})
	require.Equal(t, append(slices.Clone(tableVals[cols:2*cols]), tableVals[2*cols:3*cols]...), read(d1, 2*cols))
	require.Equal(t, append(slices.Clone(tableVals[3*cols:]), tableVals[:cols]...), read(d2, 2*cols))
	st, _ := b.GraphStats()
	require.Equal(t, 1, st.Abandoned, "the second upload ends the graph")
	require.Zero(t, st.Launched)

	// x += y recorded, then y written on the host: the add must see the old y.
	x, err := b.Alloc(4)
	require.NoError(t, err)
	y, err := b.Alloc(4)
	require.NoError(t, err)
	require.NoError(t, engine.Write(b, y, []float32{1, 2, 3, 4}))
	pass(t, b, func() {
		require.NoError(t, b.Add(x, y, 4))
		require.NoError(t, engine.Write(b, y, []float32{10, 20, 30, 40}))
		require.NoError(t, b.Add(x, y, 4))
	})
	require.Equal(t, []float32{11, 22, 33, 44}, read(x, 4))
	st, _ = b.GraphStats()
	require.Equal(t, 2, st.Abandoned)

	// Ids uploaded while only an add of other memory is recorded: the pass stays a graph (the second time:
	// the first is a first sight).
	for i, ids := range [][]int32{{0, 0}, {3, 3}} {
		pass(t, b, func() {
			require.NoError(t, b.Add(x, y, 4))
			require.NoError(t, b.Embed(d1, table, ids))
		})
		require.Equal(t, []float32{float32(21 + 10*i), float32(42 + 20*i), float32(63 + 30*i), float32(84 + 40*i)}, read(x, 4))
		row := tableVals[ids[0]*cols : (ids[0]+1)*cols]
		require.Equal(t, append(slices.Clone(row), row...), read(d1, 2*cols))
	}
	st, _ = b.GraphStats()
	require.Equal(t, 2, st.Abandoned)
	require.Equal(t, 1, st.Launched)

	// A failed pass: nothing it recorded runs; nor does a pass that never ended (a panic in its middle).
	b.BeginPass(1)
	require.NoError(t, b.Add(x, y, 4))
	require.NoError(t, b.EndPass(false))
	b.BeginPass(1)
	require.NoError(t, b.Add(x, y, 4))
	pass(t, b, func() {})
	require.Equal(t, []float32{31, 62, 93, 124}, read(x, 4))

	// An upload into an array that a recorded kernel reads from its middle: the kernel runs first, on the
	// old values.
	bits := func(v ...float32) []int32 {
		out := make([]int32, len(v))
		for i, f := range v {
			out[i] = int32(math.Float32bits(f))
		}
		return out
	}
	pos, err := b.ints(scratchPos, bits(1, 2, 3, 4))
	require.NoError(t, err)
	b.BeginPass(1)
	require.NoError(t, launch(b, "add_f32", 1, 256, 0, addArgs{Dst: dp(x), X: pos + 8, N: 2})) // x[0:2] += 3, 4
	_, err = b.ints(scratchPos, bits(100, 100, 100, 100))
	require.NoError(t, err)
	require.NoError(t, b.EndPass(true))
	require.Equal(t, []float32{34, 66, 93, 124}, read(x, 4))
	st, _ = b.GraphStats()
	require.Equal(t, 3, st.Abandoned, "the upload into the array ends the graph")
}

// TestGraphCache: passes of more kernel sequences than the cache holds each get a graph (from their second
// sight), the least recently launched goes, and a shape seen again after its graph went is built again;
// every pass computes what it should.
func TestGraphCache(t *testing.T) {
	b := openGPU(t)
	defer b.Close()
	b.graphs.mode = graphsOn
	x, err := b.Alloc(300)
	require.NoError(t, err)
	y, err := b.Alloc(300)
	require.NoError(t, err)
	one := make([]float32, 300)
	for i := range one {
		one[i] = 1
	}
	require.NoError(t, engine.Write(b, y, one))
	want := float32(0)
	shapes := graphCache + 4
	for round := range 3 {
		for k := 1; k <= shapes; k++ { // k adds: another sequence of kernels for each k
			n := 1 + (k+round)%300 // values per add: the grid and arguments change, the kernels not
			pass(t, b, func() {
				for range k {
					require.NoError(t, b.Add(x, y, n))
				}
			})
			want += float32(k)
			v := make([]float32, 1)
			require.NoError(t, b.Read(v, x, 0))
			require.Equal(t, want, v[0], "round %d, %d adds", round, k)
		}
	}
	st, failed := b.GraphStats()
	require.NoError(t, failed)
	require.Len(t, b.graphs.cache, graphCache)
	require.Equal(t, shapes, st.Eager, "first sights")
	require.Equal(t, 2*shapes, st.Built, "each shape went before it came back")
	require.Equal(t, 2*shapes, st.Launched)
}
