//go:build cuda || cudaemu

package cuda

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/engine/enginetest"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/llamago/llamago/kernels"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the backend conformance suite against the GPU (float64 references on the host),
// once for each number of weight rows a warp takes in one-token products (LLAMAGO_CUDA_ROWS) and each
// layout of the one-token Q4_0/Q8_0 products (LLAMAGO_CUDA_MATVEC).
func TestConformance(t *testing.T) {
	b := openGPU(t)
	defer b.Close()
	devs, _ := Devices()
	for _, d := range devs {
		t.Logf("device %d: %s, %.1f GiB, sm_%d%d, %d SMs", d.Index, d.Name, float64(d.Memory)/(1<<30), d.CapMajor, d.CapMinor, d.Multiprocs)
	}
	for _, blocks := range []bool{false, true} {
		for _, rows := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("blocks=%v,rows=%d", blocks, rows), func(t *testing.T) {
				b.blocks, b.rows = blocks, rows
				enginetest.Run(t, b)
			})
		}
	}
	// The tensor-core products on every product case, down to one token (by default from 32: the
	// cases of 33 tokens above take them).
	t.Run("mma_min=1", func(t *testing.T) {
		b.mmaMin = 1
		defer func() { b.mmaMin = 32 }()
		enginetest.RunMatching(t, b, "MatMul")
	})
	// The same without the cp.async stages (the weights read directly, as for rows of other lengths).
	t.Run("mma_min=1,stages=off", func(t *testing.T) {
		b.mmaMin, b.stages = 1, 0
		defer func() { b.mmaMin, b.stages = 32, 1 }()
		enginetest.RunMatching(t, b, "MatMul")
	})
	// Each attention kernel on every case it can take (auto, above, gives prompt chunks the tiles and
	// decoding batches the splits).
	b.blocks, b.rows = false, 2
	for _, attn := range []struct {
		name string
		mode int
	}{{"tiles", attnTiles}, {"splits", attnSplits}} {
		t.Run("attention="+attn.name, func(t *testing.T) {
			b.attn = attn.mode
			defer func() { b.attn = attnAuto }()
			enginetest.RunMatching(t, b, "Attention")
		})
	}
}

// openGPU opens device 0 for a test. It skips only where the driver sees no GPU: a GPU that is there but
// whose backend cannot start (a context refused, a PTX module the JIT rejects) fails the test, since on
// the GPU machine that is the failure to report, not a reason to skip.
func openGPU(t testing.TB) *Backend {
	t.Helper()
	devs, err := Devices()
	if err != nil || len(devs) == 0 {
		t.Skipf("no GPU: %v", err)
	}
	b, err := New(0)
	if err != nil {
		t.Fatalf("a GPU is there (%s) but the backend cannot start: %v", devs[0].Name, err)
	}
	return b
}

// faulty is a driver whose waits fail with err, as after a kernel's fault on a card (sticky).
type faulty struct {
	driver
	err error
}

func (f *faulty) sync() error       { return f.err }
func (f *faulty) sticky(error) bool { return true }

// TestFaultsNameTheKernel: with LLAMAGO_CUDA_SYNC=1 a kernel's fault comes back from its launch with the
// kernel's name and grid; without it, from the next read with the switch named; Healthy says the context is
// gone. (The fault is the driver's; the emulator has none to give.)
func TestFaultsNameTheKernel(t *testing.T) {
	b := openGPU(t)
	defer b.Close()
	x, err := b.Alloc(1000)
	require.NoError(t, err)
	y, err := b.Alloc(1000)
	require.NoError(t, err)
	real := b.drv
	b.drv = &faulty{driver: real, err: fmt.Errorf("CUDA_ERROR_ILLEGAL_ADDRESS (simulated)")}
	defer func() { b.drv = real }()

	b.syncLaunch = true
	err = b.Add(x, y, 1000)
	require.ErrorContains(t, err, "kernel add_f32 (grid 4, block 256, shared 0 B) failed")

	b.syncLaunch = false
	require.NoError(t, b.Add(x, y, 1000), "an asynchronous fault shows at the next wait")
	err = b.Read(make([]float32, 10), x, 0)
	require.ErrorContains(t, err, "LLAMAGO_CUDA_SYNC=1")
	require.ErrorContains(t, b.Healthy(), "context is unusable")
	b.drv = real
	require.NoError(t, b.Healthy())
}

// TestJITLog: the PTX JIT's logs, C strings in fixed buffers, become one line for the load error.
func TestJITLog(t *testing.T) {
	errLog := append([]byte("ptxas application ptx input, line 12; error   : Unknown symbol 'x'\n"), make([]byte, 64)...)
	info := make([]byte, 32)
	require.Equal(t, "ptxas application ptx input, line 12; error : Unknown symbol 'x'", jitLog(errLog, info))
	require.Equal(t, "", jitLog(make([]byte, 8), nil))
	require.Equal(t, "a | b", jitLog([]byte("a\x00junk"), []byte("b")))
	require.Len(t, jitLog(bytes.Repeat([]byte("x"), 5000)), 2000+len("…"))
}

// counting is a driver that counts kernel launches and host-to-device copies.
type counting struct {
	driver
	launches, uploads int
}

func (c *counting) launch(name string, grid, block, shared int, args []uint64) error {
	c.launches++
	return c.driver.launch(name, grid, block, shared, args)
}

func (c *counting) htodAsync(dst devPtr, src unsafe.Pointer, n int64) error {
	c.uploads++
	return c.driver.htodAsync(dst, src, n)
}

// TestLaunchesPerToken: decoding a token costs 6 kernel launches per layer (Q/K/V, RoPE with the KV store,
// attention with its merge, the output projection adding to the residual and normalizing it, gate/up with
// SwiGLU, down adding to the residual and normalizing it for the next layer, or with the final norm after the
// last layer) and 3 more (embedding, the first layer's norm, output), and two uploads (the token, and its
// position, slot and block table, which every layer's kernels then share); 16 launches per layer and 3 more
// when the model is loaded Unfused, with four uploads (the unfused RoPE and KV store are given only the
// positions and only the slots, so each uploads its own array before attention uploads the whole batch). A
// forward pass allocates no device memory: the session's Reserve and the cache took everything.
func TestLaunchesPerToken(t *testing.T) {
	for _, unfused := range []bool{false, true} {
		for _, layers := range []int{2, 5} {
			var buf bytes.Buffer
			require.NoError(t, synth.Write(&buf, synth.Options{Type: "Q4_0", Vocab: 300, Layers: layers, Heads: 4, KVHeads: 2, Seed: 3}))
			f, err := gguf.Parse(buf.Bytes())
			require.NoError(t, err)
			b := openGPU(t)
			m, err := engine.LoadWith(f, engine.LoadOptions{First: b, FirstLayers: -1, Unfused: unfused})
			require.NoError(t, err)
			s, err := m.NewSession(64, 16)
			require.NoError(t, err)
			_, err = s.Eval([]int32{1, 2, 3}, false)
			require.NoError(t, err)
			c := &counting{driver: b.drv}
			b.drv = c
			allocs := len(b.allocs)
			const tokens = 4
			for i := 0; i < tokens; i++ {
				_, err = s.Eval([]int32{int32(5 + i)}, false)
				require.NoError(t, err)
			}
			launches, uploads := 6*layers+3, 2
			if unfused {
				launches, uploads = 16*layers+3, 4
			}
			require.Equal(t, tokens*launches, c.launches, "launches (unfused=%v, %d layers)", unfused, layers)
			require.Equal(t, tokens*uploads, c.uploads, "uploads (unfused=%v, %d layers)", unfused, layers)
			require.Equal(t, allocs, len(b.allocs), "device allocations during decoding")
			require.NoError(t, b.Close())
		}
	}
}

// TestBatchTiles: a batch's query tiles are its runs of one sequence's consecutive tokens, cut at
// attnTileQueries, covering every token once in order.
func TestBatchTiles(t *testing.T) {
	seq := []int32{0, 0, 0, 1, 2, 2}
	for range 2*attnTileQueries + 3 {
		seq = append(seq, 3)
	}
	seq = append(seq, 0)
	got := batchTiles(nil, seq)
	want := []int32{0, 3, 3, 1, 4, 2, 6, attnTileQueries, 6 + attnTileQueries, attnTileQueries, 6 + 2*attnTileQueries, 3, int32(len(seq) - 1), 1}
	require.Equal(t, want, got)
	require.Empty(t, batchTiles(nil, nil))
}

// TestTileConstants: the host's tile size is the kernel's (attention_tile_f32 traps on another block size,
// and its shared memory is sized by the host).
func TestTileConstants(t *testing.T) {
	src, err := kernels.Sources.ReadFile("attention.cu")
	require.NoError(t, err)
	require.Contains(t, string(src), fmt.Sprintf("#define ATT_TQ %d ", attnTileQueries))
}
