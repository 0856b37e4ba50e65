//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/kernels"
	"gorgonia.org/cu"
)

// Backend runs the forward pass on one GPU.
type Backend struct {
	dev     cu.Device
	ctx     cu.CUContext
	stream  cu.Stream
	fns     map[string]cu.Function
	name    string
	ccMajor int
	ccMinor int
	mem     int64
	allocs  []cu.DevicePtr
	scratch map[string]*buf // small device arrays reused between calls (token ids, positions, capture)
	arena   arena           // the current session's activations and KV cache (Reserve)
	factors map[*float32]cu.DevicePtr
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
func Devices() ([]Device, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	var out []Device
	for i := 0; i < n; i++ {
		d, err := cu.GetDevice(i)
		if err != nil {
			return nil, fmt.Errorf("cuda: device %d: %w", i, err)
		}
		name, _ := d.Name()
		mem, _ := d.TotalMem()
		ma, mi, _ := d.ComputeCapability()
		sm, _ := d.Attribute(cu.MultiprocessorCount)
		out = append(out, Device{Index: i, Name: name, Memory: mem, CapMajor: ma, CapMinor: mi, Multiprocs: sm})
	}
	return out, nil
}

// New opens GPU index, makes a context and a stream, and loads every kernel module.
func New(index int) (*Backend, error) {
	devs, err := Devices()
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(devs) {
		return nil, fmt.Errorf("cuda: --device %d does not exist: %d GPU(s) found", index, len(devs))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := &Backend{fns: map[string]cu.Function{}, scratch: map[string]*buf{}, factors: map[*float32]cu.DevicePtr{}}
	d := devs[index]
	b.name = fmt.Sprintf("cuda:%d %s (sm_%d%d, %.1f GiB)", index, d.Name, d.CapMajor, d.CapMinor, float64(d.Memory)/(1<<30))
	b.ccMajor, b.ccMinor, b.mem = d.CapMajor, d.CapMinor, d.Memory
	if b.dev, err = cu.GetDevice(index); err != nil {
		return nil, err
	}
	if b.ctx, err = b.dev.MakeContext(cu.SchedAuto); err != nil {
		return nil, fmt.Errorf("cuda: creating a context on %s: %w", d.Name, err)
	}
	if b.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return nil, fmt.Errorf("cuda: creating a stream: %w", err)
	}
	for _, fam := range kernels.Families {
		src, err := kernels.PTX(fam)
		if err != nil {
			return nil, err
		}
		mod, err := cu.LoadData(src)
		if err != nil {
			return nil, fmt.Errorf("cuda: loading the %s kernels (PTX for compute_80) on %s: %w", fam, d.Name, err)
		}
		for _, k := range kernelNames[fam] {
			fn, err := mod.Function(k)
			if err != nil {
				return nil, fmt.Errorf("cuda: kernel %s missing from %s.ptx: %w", k, fam, err)
			}
			b.fns[k] = fn
		}
	}
	return b, nil
}

var kernelNames = map[string][]string{
	"matvec": {"matvec_f32", "matvec_f16", "matvec_q4_0", "matvec_q8_0", "matvec_q4_k", "matvec_q6_k",
		"embed_f32", "embed_f16", "embed_q4_0", "embed_q8_0", "embed_q4_k", "embed_q6_k"},
	"norm":      {"rmsnorm_f32", "swiglu_f32", "add_f32"},
	"rope":      {"rope_f32"},
	"attention": {"attention_f32"},
}

// typeSuffix names a weight type's kernels; types without kernels are refused at load time.
var typeSuffix = map[gguf.Type]string{gguf.TypeF32: "f32", gguf.TypeF16: "f16", gguf.TypeQ4_0: "q4_0",
	gguf.TypeQ8_0: "q8_0", gguf.TypeQ4_K: "q4_k", gguf.TypeQ6_K: "q6_k"}

// do runs fn with the backend's context current on this OS thread.
func (b *Backend) do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(b.ctx); err != nil {
		return fmt.Errorf("cuda: making the context current: %w", err)
	}
	return fn()
}

// launch enqueues kernel name on the stream. Arguments are device pointers, ints (passed as 64-bit) and
// float64s: gorgonia.org/cu copies every argument as 8 bytes.
func (b *Backend) launch(name string, grid, block, shared int, args ...any) error {
	fn, ok := b.fns[name]
	if !ok {
		return fmt.Errorf("cuda: no kernel %s", name)
	}
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case cu.DevicePtr:
			vals[i] = uint64(v)
		case int:
			vals[i] = uint64(int64(v))
		case float64:
			vals[i] = *(*uint64)(unsafe.Pointer(&v))
		default:
			return fmt.Errorf("cuda: kernel %s argument %d has unsupported type %T", name, i, a)
		}
		params[i] = unsafe.Pointer(&vals[i])
	}
	if grid == 0 {
		return nil
	}
	if err := fn.Launch(grid, 1, 1, block, 1, 1, shared, b.stream, params); err != nil {
		return fmt.Errorf("cuda: launching %s (grid %d, block %d, shared %d B): %w", name, grid, block, shared, err)
	}
	return nil
}

// alloc reserves n bytes, with an error that says how much memory is free.
func (b *Backend) alloc(n int64, what string) (cu.DevicePtr, error) {
	if n == 0 {
		n = 4
	}
	p, err := cu.MemAlloc(n)
	if err != nil {
		free, total, _ := cu.MemInfo()
		return 0, fmt.Errorf("cuda: out of GPU memory for %s: need %.1f MiB, %.1f of %.1f MiB free (use --gpu-layers to keep some layers on the CPU, or a smaller --ctx): %w",
			what, float64(n)/(1<<20), float64(free)/(1<<20), float64(total)/(1<<20), err)
	}
	b.allocs = append(b.allocs, p)
	return p, nil
}

// arena hands out consecutive, 256-byte aligned pieces of one device allocation.
type arena struct {
	base       cu.DevicePtr
	size, used int64
}

// Reserve implements engine.Reserver: one allocation for a session's buffers and KV cache.
func (b *Backend) Reserve(bytes int64) error {
	return b.do(func() error {
		// Room for the 256-byte alignment of each of a session's allocations (≈ a dozen).
		p, err := b.alloc(bytes+64*256, "the session (activations and KV cache)")
		if err != nil {
			return err
		}
		b.arena = arena{base: p, size: bytes + 64*256}
		return nil
	})
}

// take returns n bytes from the arena, or from a separate allocation when the arena has no room.
func (b *Backend) take(n int64, what string) (cu.DevicePtr, error) {
	off := (b.arena.used + 255) &^ 255
	if b.arena.base != 0 && off+n <= b.arena.size {
		b.arena.used = off + n
		return b.arena.base + cu.DevicePtr(off), nil
	}
	return b.alloc(n, what)
}

type buf struct {
	p cu.DevicePtr
	n int // float32s
}

func (x *buf) Len() int { return x.n }

type weight struct {
	p          cu.DevicePtr
	typ        gguf.Type
	rows, cols int
}

func (w *weight) Shape() (int, int) { return w.rows, w.cols }
func (w *weight) Type() gguf.Type   { return w.typ }

type kvCache struct {
	k, v             cu.DevicePtr
	positions, kvDim int
}

func (c *kvCache) Capacity() int { return c.positions }

func (b *Backend) Name() string { return b.name }

// FreeMemory is the device memory still free, in bytes.
func (b *Backend) FreeMemory() (int64, error) {
	var free int64
	err := b.do(func() error {
		var err error
		free, _, err = cu.MemInfo()
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
		if err := cu.MemcpyHtoD(w.p, unsafe.Pointer(&data[0]), int64(len(data))); err != nil {
			return fmt.Errorf("cuda: uploading %s: %w", name, err)
		}
		return nil
	})
	return w, err
}

func (b *Backend) Alloc(n int) (engine.Buffer, error) {
	var p cu.DevicePtr
	err := b.do(func() error {
		var err error
		if p, err = b.take(4*int64(n), "activations"); err != nil {
			return err
		}
		return cu.MemsetD32(p, 0, int64(n))
	})
	return &buf{p, n}, err
}

func (b *Backend) View(x engine.Buffer, off, n int) engine.Buffer {
	return &buf{x.(*buf).p + cu.DevicePtr(4*off), n}
}

func (b *Backend) NewKVCache(layers, positions, kvDim int) (engine.KVCache, error) {
	c := &kvCache{positions: positions, kvDim: kvDim}
	n := 4 * int64(layers) * int64(positions) * int64(kvDim)
	err := b.do(func() error {
		var err error
		if c.k, err = b.take(n, "the KV cache (keys)"); err != nil {
			return err
		}
		c.v, err = b.take(n, "the KV cache (values)")
		return err
	})
	return c, err
}

// ints uploads v into the named scratch array (grown as needed) and returns its device pointer.
func (b *Backend) ints(name string, v []int32) (cu.DevicePtr, error) {
	s := b.scratch[name]
	if s == nil || s.n < len(v) {
		p, err := b.alloc(4*int64(max(len(v), 64)), "scratch")
		if err != nil {
			return 0, err
		}
		s = &buf{p, max(len(v), 64)}
		b.scratch[name] = s
	}
	if len(v) > 0 {
		if err := cu.MemcpyHtoDAsync(s.p, unsafe.Pointer(&v[0]), 4*int64(len(v)), b.stream); err != nil {
			return 0, fmt.Errorf("cuda: uploading %s: %w", name, err)
		}
	}
	return s.p, nil
}

func dp(x engine.Buffer) cu.DevicePtr { return x.(*buf).p }

func (b *Backend) Embed(dst engine.Buffer, table engine.Weight, ids []int32) error {
	w := table.(*weight)
	for _, id := range ids {
		if id < 0 || int(id) >= w.rows {
			return fmt.Errorf("token id %d is outside the vocabulary of %d", id, w.rows)
		}
	}
	return b.do(func() error {
		p, err := b.ints("ids", ids)
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
	wt := w.(*weight)
	const rowsPerBlock = 8 // 256 threads, one warp per row
	return b.do(func() error {
		for t0 := 0; t0 < n; t0 += 8 { // the kernel handles up to 8 tokens per pass over the weights
			m := min(8, n-t0)
			err := b.launch("matvec_"+typeSuffix[wt.typ], (wt.rows+rowsPerBlock-1)/rowsPerBlock, 256, 0,
				dp(dst)+cu.DevicePtr(4*t0*wt.rows), wt.p, dp(x)+cu.DevicePtr(4*t0*wt.cols), wt.rows, wt.cols, m)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Backend) RoPE(q, k engine.Buffer, pos []int32, heads, kvHeads, headDim int, p engine.RopeParams) error {
	return b.do(func() error {
		pp, err := b.ints("pos", pos)
		if err != nil {
			return err
		}
		var fac cu.DevicePtr
		if len(p.Factors) > 0 {
			if fac = b.factors[&p.Factors[0]]; fac == 0 {
				if fac, err = b.alloc(4*int64(len(p.Factors)), "rope factors"); err != nil {
					return err
				}
				if err := cu.MemcpyHtoD(fac, unsafe.Pointer(&p.Factors[0]), 4*int64(len(p.Factors))); err != nil {
					return err
				}
				b.factors[&p.Factors[0]] = fac
			}
		}
		if err := b.launch("rope_f32", len(pos)*heads, 64, 0, dp(q), pp, heads, headDim, p.Dims, p.Base, p.FreqScale, fac); err != nil {
			return err
		}
		return b.launch("rope_f32", len(pos)*kvHeads, 64, 0, dp(k), pp, kvHeads, headDim, p.Dims, p.Base, p.FreqScale, fac)
	})
}

func (b *Backend) StoreKV(c engine.KVCache, layer int, k, v engine.Buffer, pos []int32) error {
	kv := c.(*kvCache)
	row := int64(4 * kv.kvDim)
	return b.do(func() error {
		for t, p := range pos {
			if int(p) >= kv.positions || p < 0 {
				return fmt.Errorf("position %d is outside the KV cache of %d positions", p, kv.positions)
			}
			off := cu.DevicePtr((int64(layer)*int64(kv.positions) + int64(p)) * row)
			src := cu.DevicePtr(int64(t) * row)
			if err := cu.MemcpyDtoDAsync(kv.k+off, dp(k)+src, row, b.stream); err != nil {
				return fmt.Errorf("cuda: storing keys: %w", err)
			}
			if err := cu.MemcpyDtoDAsync(kv.v+off, dp(v)+src, row, b.stream); err != nil {
				return fmt.Errorf("cuda: storing values: %w", err)
			}
		}
		return nil
	})
}

func (b *Backend) Attention(out, q engine.Buffer, c engine.KVCache, pos []int32, p engine.AttentionParams) error {
	kv := c.(*kvCache)
	if p.HeadDim > 1024 {
		return fmt.Errorf("cuda: head size %d is larger than the attention kernel's 1024", p.HeadDim)
	}
	block := max(32, (p.HeadDim+31)/32*32)
	maxPos := 0
	for _, ps := range pos {
		maxPos = max(maxPos, int(ps)+1)
	}
	off := cu.DevicePtr(int64(p.Layer) * int64(kv.positions) * int64(4*kv.kvDim))
	return b.do(func() error {
		pp, err := b.ints("pos", pos)
		if err != nil {
			return err
		}
		var capture cu.DevicePtr
		n := len(pos) * p.Heads * maxPos
		if p.Capture != nil {
			s := b.scratch["capture"]
			if s == nil || s.n < n {
				cp, err := b.alloc(4*int64(n), "attention capture")
				if err != nil {
					return err
				}
				s = &buf{cp, n}
				b.scratch["capture"] = s
			}
			capture = s.p
		}
		err = b.launch("attention_f32", len(pos)*p.Heads, block, 4*(block+32), dp(out), dp(q), kv.k+off, kv.v+off, pp,
			p.Heads, p.KVHeads, p.HeadDim, float64(p.Scale), capture, maxPos)
		if err != nil || p.Capture == nil {
			return err
		}
		host := make([]float32, n)
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&host[0]), capture, 4*int64(n), b.stream); err != nil {
			return err
		}
		if err := b.stream.Synchronize(); err != nil {
			return fmt.Errorf("cuda: attention capture: %w", err)
		}
		for h := range p.Capture {
			if p.Capture[h] == nil {
				continue
			}
			for t := range pos {
				copy(p.Capture[h][t], host[(t*p.Heads+h)*maxPos:])
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
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&dst[0]), dp(src)+cu.DevicePtr(4*off), 4*int64(len(dst)), b.stream); err != nil {
			return fmt.Errorf("cuda: reading results: %w", err)
		}
		if err := b.stream.Synchronize(); err != nil {
			return fmt.Errorf("cuda: a kernel failed (run with compute-sanitizer to find which): %w", err)
		}
		return nil
	})
}

func (b *Backend) Write(dst engine.Buffer, src []float32, off int) error {
	if len(src) == 0 {
		return nil
	}
	return b.do(func() error {
		// The copy is synchronous on the default stream: let queued kernels that may read dst finish first.
		if err := b.stream.Synchronize(); err != nil {
			return err
		}
		return cu.MemcpyHtoD(dp(dst)+cu.DevicePtr(4*off), unsafe.Pointer(&src[0]), 4*int64(len(src)))
	})
}

func (b *Backend) Close() error {
	return b.do(func() error {
		_ = b.stream.Synchronize()
		for _, p := range b.allocs {
			_ = cu.MemFree(p)
		}
		b.allocs = nil
		_ = b.stream.Destroy()
		return b.ctx.Destroy()
	})
}

var (
	_ engine.Backend  = (*Backend)(nil)
	_ engine.Reserver = (*Backend)(nil)
)
