//go:build cuda || cudaemu

package cuda

// Device memory: allocations, the arena a runner reserves (and gives back), the scratch arrays the ops
// share, buffers and the copies between host and device.

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/llamago/llamago/engine"
)

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
// them up by name at each use, so a runner still open, which may have shared them, gets new ones at its
// next use (from the newest arena left, else allocations of their own). The caller holds the model's step
// lock (Runner.Close), so no forward pass is using them.
func (b *Backend) release(a *arena) {
	_ = b.do(func() error {
		_ = b.drv.sync() // kernels still reading the arena finish first
		for name, sc := range b.scratch {
			if sc.p >= a.base && sc.p < a.base+devPtr(a.size) || slices.Contains(a.extra, sc.p) {
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
	p, own, err := b.take(4*int64(n), name)
	if err != nil {
		return err
	}
	if err := b.drv.memsetD32(p, 0, int64(n)); err != nil { // counters start at zero
		return err
	}
	if old := b.scratch[name]; old != nil && old.own { // (a piece of an arena goes with the arena)
		if err := b.drv.sync(); err != nil {
			return err
		}
		b.free(old.p)
	}
	b.scratch[name] = &scratch{p: p, n: n, own: own}
	if name == scratchKV {
		b.kvb.ok = false // the batch on the device was in the old array
	}
	return nil
}

// take returns n bytes from the arena, or from a separate allocation (the arena's, freed with it, where
// there is one) when the arena has no room. own reports an allocation that no arena holds, which the caller
// frees when done with it (only the base of an allocation may be freed: a piece of an arena never).
func (b *Backend) take(n int64, what string) (p devPtr, own bool, err error) {
	a := b.arena
	if a == nil {
		p, err = b.alloc(n, what)
		return p, err == nil, err
	}
	if off := (a.used + 255) &^ 255; off+n <= a.size {
		a.used = off + n
		return a.base + devPtr(off), false, nil
	}
	if p, err = b.alloc(n, what); err == nil {
		a.extra = append(a.extra, p)
	}
	return p, false, err
}

func (b *Backend) Alloc(n int) (engine.Buffer, error) {
	var p devPtr
	err := b.do(func() error {
		var err error
		if p, _, err = b.take(4*int64(n), "activations"); err != nil {
			return err
		}
		return b.drv.memsetD32(p, 0, int64(n))
	})
	return &buf{p, n}, err
}

func (b *Backend) View(x engine.Buffer, off, n int) engine.Buffer {
	return &buf{x.(*buf).p + devPtr(4*off), n}
}

// scratchArray returns the named scratch array of at least n 4-byte values, allocated on first use or
// when too small (a session's Reserve allocates them up front; a runner whose arrays went with another's
// arena gets them again here).
func (b *Backend) scratchArray(name string, n int) (*scratch, error) {
	s := b.scratch[name]
	if s == nil || s.n < n {
		n = max(n, 64)
		p, own, err := b.take(4*int64(n), name) // the newest runner's arena, freed with it
		if err != nil {
			return nil, err
		}
		if err := b.drv.memsetD32(p, 0, int64(n)); err != nil { // counters start at zero
			return nil, err
		}
		if s != nil && s.own { // the smaller array, once kernels are done with it (a piece of an arena goes with the arena)
			if err := b.drv.sync(); err != nil {
				return nil, err
			}
			b.free(s.p)
		}
		s = &scratch{p: p, n: n, own: own}
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
		if err := b.graphs.rec.guard(s.p, 4*int64(s.n)); err != nil { // a recorded kernel reads the old values
			return 0, err
		}
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
