//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"os"
	"slices"
	"unsafe"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/kernels"
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
	// syncLaunch waits for every kernel as it is launched (LLAMAGO_CUDA_SYNC=1 or CUDA_LAUNCH_BLOCKING=1),
	// so that a fault names its kernel and grid instead of surfacing at the next read. For debugging: slow.
	syncLaunch bool
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
	b := &Backend{drv: drv, scratch: map[string]*scratch{}, factors: map[*float32]devPtr{}, rows: 2}
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
	b.syncLaunch = os.Getenv("LLAMAGO_CUDA_SYNC") == "1" || os.Getenv("CUDA_LAUNCH_BLOCKING") == "1"
	d := devs[index]
	b.name = fmt.Sprintf("cuda:%d %s (sm_%d%d, %.1f GiB)", index, d.Name, d.CapMajor, d.CapMinor, float64(d.Memory)/(1<<30))
	b.ccMajor, b.ccMinor, b.mem = d.CapMajor, d.CapMinor, d.Memory
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

// launch enqueues kernel name on the stream. Arguments are device pointers, ints (passed as 64-bit) and
// float64s: every kernel argument is 8 bytes (gorgonia.org/cu copies them so).
func (b *Backend) launch(name string, grid, block, shared int, args ...any) error {
	vals := make([]uint64, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case devPtr:
			vals[i] = uint64(v)
		case int:
			vals[i] = uint64(int64(v))
		case float64:
			vals[i] = math.Float64bits(v)
		default:
			return fmt.Errorf("cuda: kernel %s argument %d has unsupported type %T", name, i, a)
		}
	}
	if grid == 0 {
		return nil
	}
	if err := b.drv.launch(name, grid, block, shared, vals); err != nil {
		return fmt.Errorf("cuda: launching %s (grid %d, block %d, shared %d B): %w", name, grid, block, shared, err)
	}
	if b.syncLaunch {
		if err := b.drv.sync(); err != nil {
			return fmt.Errorf("cuda: kernel %s (grid %d, block %d, shared %d B) failed: %w", name, grid, block, shared, err)
		}
	}
	return nil
}

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

// alloc reserves n bytes, with an error that says how much memory is free.
func (b *Backend) alloc(n int64, what string) (devPtr, error) {
	if n == 0 {
		n = 4
	}
	p, err := b.drv.alloc(n)
	if err != nil {
		free, total, _ := b.drv.memInfo()
		return 0, fmt.Errorf("cuda: out of GPU memory for %s: need %.1f MiB, %.1f of %.1f MiB free (use --gpu-layers to keep some layers on the CPU, or a smaller --ctx): %w",
			what, float64(n)/(1<<20), float64(free)/(1<<20), float64(total)/(1<<20), err)
	}
	b.allocs = append(b.allocs, p)
	return p, nil
}

// arena hands out consecutive, 256-byte aligned pieces of one device allocation; extra holds what was
// allocated apart for it when it had no room left, which its release frees too.
type arena struct {
	base       devPtr
	size, used int64
	extra      []devPtr
}

// Reserve implements engine.Reserver: one allocation for a session's buffers and KV cache, and for the
// scratch arrays its batches need (token ids, positions, attention partials), so that a forward pass
// allocates nothing. Only attention capture, asked for by inspection commands, allocates on first use.
func (b *Backend) Reserve(r engine.Reservation) (release func(), err error) {
	scratches := reservedScratch(r)
	size := r.Bytes + b.ScratchBytes(r)
	var a *arena
	err = b.do(func() error {
		p, err := b.alloc(size, "the session (activations, KV cache and scratch)")
		if err != nil {
			return err
		}
		a = &arena{base: p, size: size}
		b.arena, b.batch = a, r.Batch
		for _, sc := range scratches {
			if err := b.reserveScratch(sc.name, sc.n); err != nil {
				return err
			}
		}
		return nil
	})
	if a == nil {
		return nil, err
	}
	release = func() { b.release(a) }
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// release frees arena a once the queued work is done. Scratch arrays in it are forgotten: the ops look
// them up by name at each use, so a runner still open, which may have shared them, gets new ones (outside
// any arena) at its next use.
func (b *Backend) release(a *arena) {
	_ = b.do(func() error {
		_ = b.drv.sync() // kernels still reading the arena finish first
		for name, sc := range b.scratch {
			if sc.p >= a.base && sc.p < a.base+devPtr(a.size) {
				delete(b.scratch, name)
				if name == scratchKV {
					b.kvb.ok = false
				}
			}
		}
		for _, p := range append(a.extra, a.base) {
			b.free(p)
		}
		a.extra, a.base, a.size, a.used = nil, 0, 0, 0
		if b.arena == a {
			b.arena = nil
		}
		return nil
	})
}

// free gives back an allocation of alloc.
func (b *Backend) free(p devPtr) {
	if i := slices.Index(b.allocs, p); i >= 0 {
		b.allocs = slices.Delete(b.allocs, i, i+1)
		b.drv.free(p)
	}
}

// ScratchBytes implements engine.Reserver: the arena Reserve takes beyond r.Bytes (scratch arrays and
// alignment), so that a memory plan counts it.
func (b *Backend) ScratchBytes(r engine.Reservation) int64 {
	size := int64(64 * 256) // room for the 256-byte alignment of each of a session's allocations (≈ a dozen)
	for _, sc := range reservedScratch(r) {
		size += 4*int64(sc.n) + 256
	}
	return size
}

// reservedScratch lists the scratch arrays Reserve sizes for r's batches.
func reservedScratch(r engine.Reservation) []struct {
	name string
	n    int
} {
	queries := r.Batch * r.Heads
	return []struct {
		name string
		n    int
	}{
		{scratchIDs, r.Batch},
		{scratchPos, r.Batch},
		{scratchSlot, r.Batch},
		// The block tables are sized with the cache (NewKVCache); here room for a block per token.
		{scratchKV, 4 * r.Batch},
		// attentionSplits keeps queries·splits < queries + attnTargetBlocks.
		{scratchPartials, (queries + attnTargetBlocks - 1) * (r.HeadDim + 2)},
		{scratchCounters, queries},
		{scratchNormCount, 1},
	}
}

// reserveScratch makes the named scratch array hold at least n 4-byte values, from the arena when it has
// room (Reserve, NewKVCache: before any forward pass).
func (b *Backend) reserveScratch(name string, n int) error {
	if old := b.scratch[name]; old != nil && old.n >= n {
		return nil
	}
	p, err := b.take(4*int64(n), name)
	if err != nil {
		return err
	}
	if err := b.drv.memsetD32(p, 0, int64(n)); err != nil { // counters start at zero
		return err
	}
	if old := b.scratch[name]; old != nil { // an allocation of its own, or a piece of an arena (kept)
		if err := b.drv.sync(); err != nil {
			return err
		}
		b.free(old.p)
	}
	b.scratch[name] = &scratch{p: p, n: n}
	if name == scratchKV {
		b.kvb.ok = false // the batch on the device was in the old array
	}
	return nil
}

// take returns n bytes from the arena, or from a separate allocation (the arena's, where there is one)
// when the arena has no room.
func (b *Backend) take(n int64, what string) (devPtr, error) {
	a := b.arena
	if a == nil {
		return b.alloc(n, what)
	}
	if off := (a.used + 255) &^ 255; off+n <= a.size {
		a.used = off + n
		return a.base + devPtr(off), nil
	}
	p, err := b.alloc(n, what)
	if err == nil {
		a.extra = append(a.extra, p)
	}
	return p, err
}

type buf struct {
	p devPtr
	n int // float32s
}

func (x *buf) Len() int { return x.n }

type weight struct {
	p          devPtr
	typ        gguf.Type
	rows, cols int
}

func (w *weight) Shape() (int, int) { return w.rows, w.cols }
func (w *weight) Type() gguf.Type   { return w.typ }

// kvCache is a paged cache: keys and values are each [layer][block][blockSize][kvDim], so that a layer's
// row of slot s = block·blockSize + offset is the kvDim floats at s·kvDim (see kernels/attention.cu).
type kvCache struct {
	k, v                     devPtr
	blocks, blockSize, kvDim int
}

func (c *kvCache) Blocks() int    { return c.blocks }
func (c *kvCache) BlockSize() int { return c.blockSize }

// slots is the number of rows of a layer.
func (c *kvCache) slots() int { return c.blocks * c.blockSize }

// layer is the byte offset of a layer's rows.
func (c *kvCache) layer(l int) devPtr { return devPtr(int64(l) * int64(c.slots()) * int64(4*c.kvDim)) }

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

func (b *Backend) LoadWeight(name string, typ gguf.Type, rows, cols int, data []byte) (engine.Weight, error) {
	var err error
	w := &weight{typ: typ, rows: rows, cols: cols}
	if rows == 1 && typ != gguf.TypeF32 { // 1-D weights (norms) are used as float32
		vals := make([]float32, cols)
		if err := gguf.Dequantize(typ, data, vals); err != nil {
			return nil, fmt.Errorf("weight %s: %w", name, err)
		}
		data, w.typ = unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), 4*cols), gguf.TypeF32
	} else if _, ok := typeSuffix[typ]; !ok {
		return nil, fmt.Errorf("weight %s: type %s has no CUDA kernels yet (supported: F32, F16, Q4_0, Q8_0, Q4_K, Q6_K); use --backend cpu", name, typ)
	}
	err = b.do(func() error {
		if w.p, err = b.alloc(int64(len(data)), "weight "+name); err != nil {
			return err
		}
		if err := b.drv.htod(w.p, unsafe.Pointer(&data[0]), int64(len(data))); err != nil {
			return fmt.Errorf("cuda: uploading %s: %w", name, err)
		}
		return nil
	})
	return w, err
}

func (b *Backend) Alloc(n int) (engine.Buffer, error) {
	var p devPtr
	err := b.do(func() error {
		var err error
		if p, err = b.take(4*int64(n), "activations"); err != nil {
			return err
		}
		return b.drv.memsetD32(p, 0, int64(n))
	})
	return &buf{p, n}, err
}

func (b *Backend) View(x engine.Buffer, off, n int) engine.Buffer {
	return &buf{x.(*buf).p + devPtr(4*off), n}
}

func (b *Backend) NewKVCache(layers, blocks, blockSize, kvDim int) (engine.KVCache, error) {
	if blocks <= 0 || blockSize <= 0 {
		return nil, fmt.Errorf("cuda: a KV cache needs blocks of positions, got %d blocks of %d", blocks, blockSize)
	}
	c := &kvCache{blocks: blocks, blockSize: blockSize, kvDim: kvDim}
	n := 4 * int64(layers) * int64(c.slots()) * int64(kvDim)
	err := b.do(func() error {
		var err error
		if c.k, err = b.take(n, "the KV cache (keys)"); err != nil {
			return err
		}
		if c.v, err = b.take(n, "the KV cache (values)"); err != nil {
			return err
		}
		// A batch's positions, slots and table offsets (3 per token), and the block tables of its
		// sequences: every block of the pool at most, unless sequences share prefix blocks (kvBatch then
		// grows the array).
		return b.reserveScratch(scratchKV, 3*b.batch+blocks)
	})
	return c, err
}

// scratchArray returns the named scratch array of at least n 4-byte values, allocated on first use or
// when too small (a session's Reserve allocates them up front; a runner whose arrays went with another's
// arena gets them again here).
func (b *Backend) scratchArray(name string, n int) (*scratch, error) {
	s := b.scratch[name]
	if s == nil || s.n < n {
		n = max(n, 64)
		p, err := b.take(4*int64(n), name) // the newest runner's arena, freed with it
		if err != nil {
			return nil, err
		}
		if err := b.drv.memsetD32(p, 0, int64(n)); err != nil { // counters start at zero
			return nil, err
		}
		if s != nil { // the smaller array, where it was an allocation of its own, once kernels are done with it
			if err := b.drv.sync(); err != nil {
				return nil, err
			}
			b.free(s.p)
		}
		s = &scratch{p: p, n: n}
		b.scratch[name] = s
	}
	return s, nil
}

// ints puts v into the named scratch array and returns its device pointer. An array that already holds v
// is not uploaded again: a forward pass's batch (kvBatch) serves every layer's RoPE, KV store and attention.
func (b *Backend) ints(name string, v []int32) (devPtr, error) {
	s, err := b.scratchArray(name, len(v))
	if err != nil {
		return 0, err
	}
	if len(v) > 0 && !slices.Equal(s.host, v) {
		if err := b.drv.htodAsync(s.p, unsafe.Pointer(&v[0]), 4*int64(len(v))); err != nil {
			s.host = s.host[:0]
			return 0, fmt.Errorf("cuda: uploading %s: %w", name, err)
		}
		s.host = append(s.host[:0], v...)
	}
	return s.p, nil
}

// withPositions runs fn with the context current and pos on the device (uploaded when it changed).
func (b *Backend) withPositions(pos []int32, fn func(pp devPtr) error) error {
	return b.do(func() error {
		pp, err := b.ints(scratchPos, pos)
		if err != nil {
			return err
		}
		return fn(pp)
	})
}

// scratchFloats returns the named scratch array of at least n float32s.
func (b *Backend) scratchFloats(name string, n int) (devPtr, error) {
	s, err := b.scratchArray(name, n)
	if err != nil {
		return 0, err
	}
	return s.p, nil
}

func dp(x engine.Buffer) devPtr { return x.(*buf).p }

func (b *Backend) Embed(dst engine.Buffer, table engine.Weight, ids []int32) error {
	w := table.(*weight)
	for _, id := range ids {
		if id < 0 || int(id) >= w.rows {
			return fmt.Errorf("token id %d is outside the vocabulary of %d", id, w.rows)
		}
	}
	return b.do(func() error {
		p, err := b.ints(scratchIDs, ids)
		if err != nil {
			return err
		}
		return b.launch("embed_"+typeSuffix[w.typ], len(ids), 256, 0, dp(dst), w.p, p, w.cols)
	})
}

func (b *Backend) RMSNorm(dst, x engine.Buffer, w engine.Weight, n int, eps float32) error {
	wt := w.(*weight)
	return b.do(func() error {
		return b.launch("rmsnorm_f32", n, 256, 0, dp(dst), dp(x), wt.p, wt.cols, float64(eps))
	})
}

func (b *Backend) MatMul(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int) error {
	return b.MatMuls([]engine.Buffer{dst}, []engine.Weight{w}, x, n)
}

// MatMulAdd implements engine.MatMulAdder: the matrix product adds to dst as it stores (no second kernel).
func (b *Backend) MatMulAdd(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int) error {
	return b.matVec([]engine.Buffer{dst}, []engine.Weight{w}, x, n, true, nil)
}

// MatMulAddNorm implements engine.MatMulAddNormer: the product adds to dst, and the launch's last block to
// finish normalizes dst into out (no RMSNorm kernel).
func (b *Backend) MatMulAddNorm(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int, out engine.Buffer, norm engine.Weight, eps float32) error {
	return b.matVec([]engine.Buffer{dst}, []engine.Weight{w}, x, n, true, &normAfter{out: out, w: norm.(*weight), eps: eps})
}

// normAfter is the RMSNorm a product's last block applies to its destination (MatMulAddNorm).
type normAfter struct {
	out engine.Buffer
	w   *weight
	eps float32
}

// MatMuls implements engine.MultiMatMuler: up to three weights of one type and row length (Q, K and V; gate
// and up) go to the GPU as one launch per 8 tokens; others as one launch per weight.
func (b *Backend) MatMuls(dsts []engine.Buffer, ws []engine.Weight, x engine.Buffer, n int) error {
	return b.matVec(dsts, ws, x, n, false, nil)
}

// coalesced reports whether one-token products of type t read the activations coalesced.
func (b *Backend) coalesced(t gguf.Type) bool { return !b.blocks && coalescedType(t) }

// coalescedType reports whether type t has coalesced one-token kernels (kernels.CoalescedTypes).
func coalescedType(t gguf.Type) bool { return slices.Contains(kernels.CoalescedTypes, typeSuffix[t]) }

// fusable reports whether weights can share a launch: one type, one row length (and at most three).
func fusable(ws ...engine.Weight) bool {
	first := ws[0].(*weight)
	ok := len(ws) <= 3
	for _, w := range ws {
		wt := w.(*weight)
		ok = ok && wt.typ == first.typ && wt.cols == first.cols
	}
	return ok
}

// warpsPerBlock is the matrix products' block size in warps (256 threads).
const warpsPerBlock = 8

func (b *Backend) matVec(dsts []engine.Buffer, ws []engine.Weight, x engine.Buffer, n int, add bool, norm *normAfter) error {
	if !fusable(ws...) {
		for i := range ws {
			if err := b.matVec(dsts[i:i+1], ws[i:i+1], x, n, add, nil); err != nil {
				return err
			}
		}
		return nil
	}
	first := ws[0].(*weight)
	addArg := 0
	if add {
		addArg = 1
	}
	return b.do(func() error {
		for t0 := 0; t0 < n; t0 += 8 { // the kernels handle up to 8 tokens per pass over the weights
			tokens := min(8, n-t0)
			args := []any{devPtr(0), devPtr(0), 0, devPtr(0), devPtr(0), 0, devPtr(0), devPtr(0), 0}
			total := 0
			for i, w := range ws {
				wt := w.(*weight)
				args[3*i] = dp(dsts[i]) + devPtr(4*t0*wt.rows)
				args[3*i+1] = wt.p
				args[3*i+2] = wt.rows
				total += wt.rows
			}
			// One token: R rows per warp share the activations (matvec1_rowsR, or matvec1c_rowsR reading
			// them coalesced); a batch: a row per warp.
			name, rows := "matvec_", 1
			if tokens == 1 && b.coalesced(first.typ) {
				name, rows = fmt.Sprintf("matvec1c_rows%d_", b.rows), b.rows
			} else if tokens == 1 && b.rows > 1 {
				name, rows = fmt.Sprintf("matvec1_rows%d_", b.rows), b.rows
			}
			args = append(args, dp(x)+devPtr(4*t0*first.cols), first.cols, tokens, addArg, devPtr(0), devPtr(0), 0.0, devPtr(0))
			if norm != nil { // one weight: the launch's last block normalizes its tokens' rows
				counter, err := b.scratchArray(scratchNormCount, 1)
				if err != nil {
					return err
				}
				args[13], args[14], args[15], args[16] = norm.w.p, dp(norm.out)+devPtr(4*t0*first.rows), float64(norm.eps), counter.p
			}
			perBlock := warpsPerBlock * rows
			err := b.launch(name+typeSuffix[first.typ], (total+perBlock-1)/perBlock, 32*warpsPerBlock, 0, args...)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// MatMulSwiGLU implements engine.SwiGLUMatMuler: a warp computes a row of gate and the same row of up and
// stores silu(g)·u. Weights of different types take two products and a SwiGLU.
func (b *Backend) MatMulSwiGLU(dst, scratch engine.Buffer, gate, up engine.Weight, x engine.Buffer, n int) error {
	g, u := gate.(*weight), up.(*weight)
	if !fusable(gate, up) || g.rows != u.rows {
		if err := b.MatMuls([]engine.Buffer{dst, scratch}, []engine.Weight{gate, up}, x, n); err != nil {
			return err
		}
		return b.SwiGLU(dst, dst, scratch, n*g.rows)
	}
	return b.do(func() error {
		for t0 := 0; t0 < n; t0 += 8 {
			tokens := min(8, n-t0)
			name := "matvec_swiglu_"
			if tokens == 1 && b.coalesced(g.typ) {
				name = "matvec1c_swiglu_"
			} else if tokens == 1 {
				name = "matvec1_swiglu_"
			}
			err := b.launch(name+typeSuffix[g.typ], (g.rows+warpsPerBlock-1)/warpsPerBlock, 32*warpsPerBlock, 0,
				dp(dst)+devPtr(4*t0*g.rows), g.p, u.p, g.rows, dp(x)+devPtr(4*t0*g.cols), g.cols, tokens)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ropeFactors returns the device copy of a model's RoPE frequency factors (0 when it has none).
func (b *Backend) ropeFactors(p engine.RopeParams) (devPtr, error) {
	if len(p.Factors) == 0 {
		return 0, nil
	}
	fac := b.factors[&p.Factors[0]]
	if fac == 0 {
		var err error
		if fac, err = b.alloc(4*int64(len(p.Factors)), "rope factors"); err != nil {
			return 0, err
		}
		if err := b.drv.htod(fac, unsafe.Pointer(&p.Factors[0]), 4*int64(len(p.Factors))); err != nil {
			return 0, err
		}
		b.factors[&p.Factors[0]] = fac
	}
	return fac, nil
}

func (b *Backend) RoPE(q, k engine.Buffer, pos []int32, heads, kvHeads, headDim int, p engine.RopeParams) error {
	return b.withPositions(pos, func(pp devPtr) error {
		fac, err := b.ropeFactors(p)
		if err != nil {
			return err
		}
		if err := b.launch("rope_f32", len(pos)*heads, 64, 0, dp(q), pp, heads, headDim, p.Dims, p.Base, p.FreqScale, fac); err != nil {
			return err
		}
		return b.launch("rope_f32", len(pos)*kvHeads, 64, 0, dp(k), pp, kvHeads, headDim, p.Dims, p.Base, p.FreqScale, fac)
	})
}

// checkSlots checks a batch's slots against the cache.
func checkSlots(c *kvCache, slots []int32) error {
	for _, s := range slots {
		if s < 0 || int(s) >= c.slots() {
			return fmt.Errorf("slot %d is outside the KV cache of %d blocks of %d positions", s, c.blocks, c.blockSize)
		}
	}
	return nil
}

func (b *Backend) StoreKV(c engine.KVCache, layer int, k, v engine.Buffer, slots []int32) error {
	kv := c.(*kvCache)
	if err := checkSlots(kv, slots); err != nil {
		return err
	}
	off := kv.layer(layer)
	return b.do(func() error {
		sp, err := b.ints(scratchSlot, slots)
		if err != nil {
			return err
		}
		return b.launch("kv_store_f32", len(slots), 256, 0, kv.k+off, kv.v+off, dp(k), dp(v), sp, kv.kvDim)
	})
}

// RoPEStoreKV implements engine.RoPEStorer: one launch rotates q and k and stores k and v in the cache.
func (b *Backend) RoPEStoreKV(q, k, v engine.Buffer, c engine.KVCache, layer int, kv *engine.KVBatch, heads, kvHeads, headDim int, p engine.RopeParams) error {
	cache := c.(*kvCache)
	off := cache.layer(layer)
	return b.do(func() error {
		d, err := b.kvBatch(cache, kv)
		if err != nil {
			return err
		}
		fac, err := b.ropeFactors(p)
		if err != nil {
			return err
		}
		return b.launch("rope_store_f32", d.n*(heads+kvHeads), 64, 0, dp(q), dp(k), dp(v), cache.k+off, cache.v+off,
			d.pos, d.slot, heads, kvHeads, headDim, p.Dims, p.Base, p.FreqScale, fac)
	})
}

// devBatch is a KVBatch on the device: one int32 array (scratchKV) holding pos[n], slot[n] and tableOf[n],
// then tables, the block table of each sequence of the batch cut to the blocks its tokens reach; token t's
// table starts at tables + tableOf[t].
type devBatch struct {
	pos, slot, tableOf, tables devPtr
	n, maxPos                  int // tokens; the longest sequence reached (max pos + 1)
}

// kvBatchCache is the KVBatch last put on the device (a copy, to recognize it), for the cache it was
// checked against: a forward pass's layers all use the same batch, which goes up once.
type kvBatchCache struct {
	src    engine.KVBatch
	cache  *kvCache
	dev    devBatch
	packed []int32
	ok     bool
}

func sameBatch(a, b *engine.KVBatch) bool {
	return a.Stride == b.Stride && slices.Equal(a.Pos, b.Pos) && slices.Equal(a.Slot, b.Slot) &&
		slices.Equal(a.Seq, b.Seq) && slices.Equal(a.Tables, b.Tables)
}

// kvBatch checks kv against the cache and puts it on the device, unless it is the batch already there.
// Runs with the context current.
func (b *Backend) kvBatch(c *kvCache, kv *engine.KVBatch) (devBatch, error) {
	kc := &b.kvb
	if kc.ok && kc.cache == c && sameBatch(&kc.src, kv) {
		return kc.dev, nil
	}
	kc.ok = false
	n := kv.Len()
	if len(kv.Slot) != n || len(kv.Seq) != n {
		return devBatch{}, fmt.Errorf("cuda: a KV batch of %d positions has %d slots and %d sequence indexes", n, len(kv.Slot), len(kv.Seq))
	}
	if err := checkSlots(c, kv.Slot); err != nil {
		return devBatch{}, err
	}
	packed := slices.Grow(kc.packed[:0], 4*n)
	packed = append(append(packed, kv.Pos...), kv.Slot...)
	packed = append(packed, make([]int32, n)...) // tableOf, filled below
	maxPos := 0
	for first := 0; first < n; {
		seq := kv.Seq[first]
		end := first + 1
		for end < n && kv.Seq[end] == seq {
			end++
		}
		if seq < 0 || kv.Stride <= 0 || (int(seq)+1)*kv.Stride > len(kv.Tables) {
			return devBatch{}, fmt.Errorf("cuda: sequence %d has no block table (%d entries of %d blocks)", seq, len(kv.Tables), kv.Stride)
		}
		reach := 0 // positions of the sequence that its tokens in the batch attend to
		for t := first; t < end; t++ {
			if p := kv.Pos[t]; p < 0 || int(p) >= kv.Stride*c.blockSize {
				return devBatch{}, fmt.Errorf("position %d is outside its block table of %d blocks of %d positions", p, kv.Stride, c.blockSize)
			}
			reach = max(reach, int(kv.Pos[t])+1)
			packed[2*n+t] = int32(len(packed) - 3*n)
		}
		for _, blk := range kv.Table(seq)[:(reach+c.blockSize-1)/c.blockSize] {
			if blk < 0 || int(blk) >= c.blocks {
				return devBatch{}, fmt.Errorf("block %d is outside the KV cache of %d blocks", blk, c.blocks)
			}
			packed = append(packed, blk)
		}
		maxPos = max(maxPos, reach)
		first = end
	}
	kc.packed = packed
	if s := b.scratch[scratchKV]; s != nil && s.n < len(packed) {
		// Sequences that share prefix blocks list them more than once: grow by doubling, so that a pass
		// rarely allocates.
		if _, err := b.scratchArray(scratchKV, max(len(packed), 2*s.n)); err != nil {
			return devBatch{}, err
		}
	}
	p, err := b.ints(scratchKV, packed)
	if err != nil {
		return devBatch{}, err
	}
	kc.dev = devBatch{pos: p, slot: p + devPtr(4*n), tableOf: p + devPtr(8*n), tables: p + devPtr(12*n), n: n, maxPos: maxPos}
	kc.src.Pos = append(kc.src.Pos[:0], kv.Pos...)
	kc.src.Slot = append(kc.src.Slot[:0], kv.Slot...)
	kc.src.Seq = append(kc.src.Seq[:0], kv.Seq...)
	kc.src.Tables = append(kc.src.Tables[:0], kv.Tables...)
	kc.src.Stride, kc.cache, kc.ok = kv.Stride, c, true
	return kc.dev, nil
}

// attnThreads is the block size of the attention kernels (four warps).
const attnThreads = 128

// attentionSplits chooses how many blocks share one query's keys: enough blocks in all to fill the GPU
// (about attnTargetBlocks) when there are few queries, as in decoding, but no split shorter than 32 keys.
// A split takes whole cache blocks, chunk of them; maxPos keys (at least 1) fill splits·chunk cache blocks
// of blockSize.
func attentionSplits(queries, maxPos, blockSize int) (splits, chunk int) {
	want := (attnTargetBlocks + queries - 1) / queries
	splits = max(1, min(want, (maxPos+31)/32))
	blocks := (maxPos + blockSize - 1) / blockSize
	chunk = (blocks + splits - 1) / splits
	return (blocks + chunk - 1) / chunk, chunk
}

func (b *Backend) Attention(out, q engine.Buffer, c engine.KVCache, kv *engine.KVBatch, p engine.AttentionParams) error {
	cache := c.(*kvCache)
	if p.HeadDim > 256 {
		return fmt.Errorf("cuda: head size %d is larger than the attention kernel's 256: run this model with --backend cpu", p.HeadDim)
	}
	if kv.Len() == 0 {
		return nil
	}
	off := cache.layer(p.Layer)
	return b.do(func() error {
		d, err := b.kvBatch(cache, kv)
		if err != nil {
			return err
		}
		queries, maxPos := d.n*p.Heads, d.maxPos
		splits, chunk := attentionSplits(queries, maxPos, cache.blockSize)
		part, err := b.scratchFloats(scratchPartials, queries*splits*(p.HeadDim+2))
		if err != nil {
			return err
		}
		var capture devPtr
		n := queries * maxPos
		if p.Capture != nil {
			if capture, err = b.scratchFloats(scratchCapture, n); err != nil {
				return err
			}
		}
		counters, err := b.scratchArray(scratchCounters, queries)
		if err != nil {
			return err
		}
		shared := 4 * max((attnThreads/32)*(p.HeadDim+2), splits) // the warps' outputs, then the merge's weights
		err = b.launch("attention_f32", queries*splits, attnThreads, shared, dp(out), part, counters.p, dp(q),
			cache.k+off, cache.v+off, d.pos, d.tableOf, d.tables, cache.blockSize, p.Heads, p.KVHeads, p.HeadDim,
			float64(p.Scale), splits, chunk, capture, maxPos)
		if err != nil || p.Capture == nil {
			return err
		}
		host := make([]float32, n)
		if err := b.drv.dtohAsync(unsafe.Pointer(&host[0]), capture, 4*int64(n)); err != nil {
			return err
		}
		if err := b.drv.sync(); err != nil {
			return fmt.Errorf("cuda: attention capture: %w", err)
		}
		for h := range p.Capture {
			if p.Capture[h] == nil {
				continue
			}
			for t, row := range p.Capture[h] {
				if t < d.n && row != nil { // tokens not captured have no row
					copy(row, host[(t*p.Heads+h)*maxPos:(t*p.Heads+h)*maxPos+int(kv.Pos[t])+1])
				}
			}
		}
		return nil
	})
}

func (b *Backend) SwiGLU(dst, gate, up engine.Buffer, n int) error {
	return b.do(func() error { return b.launch("swiglu_f32", (n+255)/256, 256, 0, dp(dst), dp(gate), dp(up), n) })
}

func (b *Backend) Add(dst, x engine.Buffer, n int) error {
	return b.do(func() error { return b.launch("add_f32", (n+255)/256, 256, 0, dp(dst), dp(x), n) })
}

func (b *Backend) Read(dst []float32, src engine.Buffer, off int) error {
	if len(dst) == 0 {
		return nil
	}
	return b.do(func() error {
		if err := b.drv.dtohAsync(unsafe.Pointer(&dst[0]), dp(src)+devPtr(4*off), 4*int64(len(dst))); err != nil {
			return fmt.Errorf("cuda: reading results: %w", err)
		}
		if err := b.drv.sync(); err != nil {
			return fmt.Errorf("cuda: a kernel failed (LLAMAGO_CUDA_SYNC=1 names it; compute-sanitizer finds the faulting access): %w", err)
		}
		return nil
	})
}

func (b *Backend) Write(dst engine.Buffer, src []float32, off int) error {
	if len(src) == 0 {
		return nil
	}
	return b.do(func() error {
		// On the stream, after the queued kernels that may read dst; htod waits for the copy, so src may change.
		return b.drv.htod(dp(dst)+devPtr(4*off), unsafe.Pointer(&src[0]), 4*int64(len(src)))
	})
}

func (b *Backend) Close() error {
	return b.do(func() error {
		_ = b.drv.sync()
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
)

// SupportsType reports whether the backend has kernels for weights of type t (engine.TypeSupporter).
func (b *Backend) SupportsType(t gguf.Type) bool {
	_, ok := typeSuffix[t]
	return ok
}
