//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"hash/maphash"
	"os"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

// Backend runs the forward pass on one GPU.
type Backend struct {
	drv     driver
	name    string
	ccMajor int
	ccMinor int
	mem     int64
	allocs  []devPtr
	scratch map[string]*scratch // device arrays reused between calls (token ids, positions, partials, capture)
	arena   *arena              // the newest runner's activations, KV cache and scratch (Reserve), or nil
	batch   int                 // tokens per forward pass of the current session (Reserve), or 0
	kvb     kvBatchCache        // the last KVBatch put on the device
	factors map[*float32]devPtr
	rows    int  // weight rows per warp in one-token matrix products (LLAMAGO_CUDA_ROWS)
	blocks  bool // one-token Q4_0/Q8_0 products with a lane per block, not coalesced (LLAMAGO_CUDA_MATVEC)
	attn    int  // the attention kernel: attnAuto, attnTiles or attnSplits (LLAMAGO_CUDA_ATTENTION)
	mmaMin  int  // products of at least this many tokens take the tensor cores (LLAMAGO_CUDA_MMA_MIN)
	stages  int  // 1: the tensor-core products stage the weights with cp.async; 0: direct (LLAMAGO_CUDA_STAGES)
	sms     int  // the GPU's multiprocessors
	// syncLaunch waits for every kernel as it is launched (LLAMAGO_CUDA_SYNC=1 or CUDA_LAUNCH_BLOCKING=1),
	// so that a fault names its kernel and grid instead of surfacing at the next read. For debugging: slow.
	syncLaunch bool
	graphs     graphs // CUDA graphs of decoding passes (graph.go); drv is its recorder
}

// The scratch arrays, by name (Reserve sizes them for a session; the ops find them by these names).
const (
	scratchIDs       = "ids"                // a batch's token ids
	scratchPos       = "pos"                // a batch's positions (RoPE)
	scratchSlot      = "slot"               // a batch's cache slots (StoreKV)
	scratchKV        = "kv batch"           // a batch's positions, slots and block tables (kvBatch)
	scratchPartials  = "attention partials" // each split's m, l and head of outputs
	scratchCounters  = "attention counters" // a query's finished splits (the last one merges them)
	scratchNormCount = "norm counter"       // a product's finished blocks (the last one normalizes)
	scratchCapture   = "attention capture"  // raw scores, then probabilities (inspection only)
	attnTargetBlocks = 512                  // attention blocks attentionSplits aims for in all
)

// scratch is a device array reused between calls; host, for arrays of ints, is what it holds now.
type scratch struct {
	p    devPtr
	n    int // 4-byte values
	host []int32
	own  bool // an allocation of its own (no arena held it), freed when the array is replaced
}

// Device describes a GPU.
type Device struct {
	Index      int
	Name       string
	Memory     int64
	CapMajor   int
	CapMinor   int
	Multiprocs int
}

// Devices lists the GPUs the driver sees.
func Devices() ([]Device, error) { return newDriver().devices() }

func init() {
	engine.RegisterBackend("cuda", engine.BackendDriver{
		Available: func() bool { devs, err := Devices(); return err == nil && len(devs) > 0 },
		Open:      func(o engine.BackendOptions) (engine.Backend, error) { return New(o.Device) },
		Uploads:   true,
	})
}

// New opens GPU index, makes a context and a stream, and loads every kernel module.
func New(index int) (*Backend, error) {
	drv := newDriver()
	devs, err := drv.devices()
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(devs) {
		return nil, fmt.Errorf("cuda: --device %d does not exist: %d GPU(s) found", index, len(devs))
	}
	b := &Backend{scratch: map[string]*scratch{}, factors: map[*float32]devPtr{}, rows: 2}
	b.graphs.rec = recorder{driver: drv, stats: &b.graphs.stats}
	b.graphs.seed, b.graphs.seen = maphash.MakeSeed(), map[uint64]bool{}
	b.drv = &b.graphs.rec
	if b.graphs.mode, err = graphMode(); err != nil {
		return nil, err
	}
	if v := os.Getenv("LLAMAGO_CUDA_ROWS"); v != "" {
		if _, err := fmt.Sscan(v, &b.rows); err != nil || (b.rows != 1 && b.rows != 2 && b.rows != 4) {
			return nil, fmt.Errorf("cuda: LLAMAGO_CUDA_ROWS=%q: the weight rows per warp of one-token products must be 1, 2 or 4", v)
		}
	}
	switch v := os.Getenv("LLAMAGO_CUDA_MATVEC"); v {
	case "", "coalesced":
	case "blocks":
		b.blocks = true
	default:
		return nil, fmt.Errorf("cuda: LLAMAGO_CUDA_MATVEC=%q: the layout of one-token Q4_0/Q8_0 products must be coalesced or blocks", v)
	}
	b.mmaMin = 32
	if v := os.Getenv("LLAMAGO_CUDA_MMA_MIN"); v != "" {
		if _, err := fmt.Sscan(v, &b.mmaMin); err != nil || b.mmaMin < 1 {
			return nil, fmt.Errorf("cuda: LLAMAGO_CUDA_MMA_MIN=%q: products of at least this many tokens take the tensor cores: a number from 1 (a large one turns them off)", v)
		}
	}
	switch v := os.Getenv("LLAMAGO_CUDA_STAGES"); v {
	case "", "on":
		b.stages = 1
	case "off":
	default:
		return nil, fmt.Errorf("cuda: LLAMAGO_CUDA_STAGES=%q: the tensor-core products' cp.async staging of the weights must be on or off", v)
	}
	switch v := os.Getenv("LLAMAGO_CUDA_ATTENTION"); v {
	case "", "auto":
	case "tiles":
		b.attn = attnTiles
	case "splits":
		b.attn = attnSplits
	default:
		return nil, fmt.Errorf("cuda: LLAMAGO_CUDA_ATTENTION=%q: the attention kernel must be auto, tiles (query tiles, for prompts) or splits (keys split across blocks, for decoding)", v)
	}
	b.syncLaunch = os.Getenv("LLAMAGO_CUDA_SYNC") == "1" || os.Getenv("CUDA_LAUNCH_BLOCKING") == "1"
	d := devs[index]
	b.name = fmt.Sprintf("cuda:%d %s (sm_%d%d, %.1f GiB)", index, d.Name, d.CapMajor, d.CapMinor, float64(d.Memory)/(1<<30))
	b.ccMajor, b.ccMinor, b.mem, b.sms = d.CapMajor, d.CapMinor, d.Memory, d.Multiprocs
	if err := drv.open(index); err != nil {
		return nil, err
	}
	return b, nil
}

// typeSuffix names a weight type's kernels; types without kernels are refused at load time.
var typeSuffix = map[gguf.Type]string{gguf.TypeF32: "f32", gguf.TypeF16: "f16", gguf.TypeQ4_0: "q4_0",
	gguf.TypeQ8_0: "q8_0", gguf.TypeQ4_K: "q4_k", gguf.TypeQ6_K: "q6_k"}

// do runs fn with the backend's context current on this OS thread.
func (b *Backend) do(fn func() error) error { return b.drv.do(fn) }

// Healthy waits for the queued work and reports a failure of it; after a sticky one (a kernel's fault) the
// context is unusable and every later operation fails the same way, which the error says.
func (b *Backend) Healthy() error {
	return b.do(func() error {
		err := b.drv.sync()
		switch {
		case err == nil:
			return nil
		case b.drv.sticky(err):
			return fmt.Errorf("cuda: a kernel faulted and the GPU context is unusable (LLAMAGO_CUDA_SYNC=1 names the kernel): %w", err)
		default:
			return fmt.Errorf("cuda: queued work failed: %w", err)
		}
	})
}

type buf struct {
	p devPtr
	n int // float32s
}

func (x *buf) Len() int { return x.n }

func (b *Backend) Name() string { return b.name }

// FreeMemory is the device memory still free, in bytes.
func (b *Backend) FreeMemory() (int64, error) {
	var free int64
	err := b.do(func() error {
		var err error
		free, _, err = b.drv.memInfo()
		return err
	})
	return free, err
}

func dp(x engine.Buffer) devPtr { return x.(*buf).p }

func (b *Backend) Close() error {
	return b.do(func() error {
		_ = b.drv.sync()
		b.graphs.destroy()
		for _, p := range b.allocs {
			b.drv.free(p)
		}
		b.allocs = nil
		return b.drv.close()
	})
}

var (
	_ engine.Backend         = (*Backend)(nil)
	_ engine.Reserver        = (*Backend)(nil)
	_ engine.MultiMatMuler   = (*Backend)(nil)
	_ engine.MatMulAdder     = (*Backend)(nil)
	_ engine.MatMulAddNormer = (*Backend)(nil)
	_ engine.SwiGLUMatMuler  = (*Backend)(nil)
	_ engine.RoPEStorer      = (*Backend)(nil)
	_ engine.Passer          = (*Backend)(nil)
)

// SupportsType reports whether the backend has kernels for weights of type t (engine.TypeSupporter).
func (b *Backend) SupportsType(t gguf.Type) bool {
	_, ok := typeSuffix[t]
	return ok
}
