package cpu

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a fixed set of worker goroutines that split loops by index range. Between jobs the workers spin
// for a short while before they park, so the hundreds of small parallel loops of one token's forward pass
// start without waiting for the scheduler to wake a thread; For itself allocates nothing. Each worker owns a
// scratch slice that kernels may use without allocating.
type Pool struct {
	threads int
	scratch [][]float32
	mu      sync.Mutex // one For at a time

	epoch   atomic.Uint64 // incremented for every job
	next    atomic.Int64  // ForChunks: the next chunk to take
	pending atomic.Int32  // workers still running the current job
	closed  atomic.Bool
	// panicked is the first panic of a worker in the current job, raised again by For.
	panicked atomic.Pointer[any]
	job      poolJob
	wake     []chan struct{}
	asleep   []atomic.Bool
	wg       sync.WaitGroup

	qrows []Q16Row // quantized activations of the current matrix product, reused between calls
	qbuf  []int16
	qd    []float32
	qs    []int32

	// actBits is the precision of activations in the integer kernels: 16 (the default) or 8
	// (SetActivationBits: llama.cpp's rounding for each weight type, see rounding).
	actBits int

	a16    act16   // activations of the current prompt-sized product (gemm)
	strips []strip // one unpacked weight strip per worker (gemm)
	af     actF    // transposed activations of the current prompt-sized float product (gemmFloat)

	tasks   poolTasks
	chunkFn func(lo, hi, worker int) // takeChunks, bound once
}

// poolTasks holds the bodies of the kernels' parallel loops with their arguments. Each body is a method value
// bound once in NewPool, so that starting a loop allocates nothing; the arguments are set before each loop,
// which is why a Pool runs one operation at a time (its callers do not share it between goroutines).
type poolTasks struct {
	rows      rowsTask
	quant     quantTask
	q16       q16Task
	quant16   quant16Task
	group16   group16Task
	gemm      gemmTask
	transpose transposeTask
	gemmF     gemmFTask
	gemv      gemvTask
	packed    packedTask

	rowsFn, quantFn, q16Fn, quant16Fn, group16Fn, gemmFn, transposeFn, gemmFFn, gemvFn, packedFn func(lo, hi, worker int)
}

func (t *poolTasks) bind() {
	t.rowsFn, t.quantFn, t.q16Fn, t.quant16Fn = t.rows.run, t.quant.run, t.q16.run, t.quant16.run
	t.gemmFn, t.transposeFn, t.gemmFFn, t.gemvFn = t.gemm.run, t.transpose.run, t.gemmF.run, t.gemv.run
	t.packedFn, t.group16Fn = t.packed.run, t.group16.run
}

type poolJob struct {
	fn         func(lo, hi, worker int)
	n, per, al int
	chunks     bool // ForChunks: workers take ranges of al from next until none is left
}

// spinFor is how long an idle worker polls for the next job before it parks; a parked worker looks for
// work again every parkRecheck even when not woken.
const (
	spinFor     = 200 * time.Microsecond
	parkRecheck = 20 * time.Millisecond
)

// SetActivationBits chooses how the quantized matrix products round activations: 16 bits (the default:
// within ~1e-8 NMSE of exact logits) or 8, as llama.cpp rounds them for each weight type (its precision,
// ~5e-4, and its logits; the 8-bit decode kernels, faster where the 16-bit ones cannot keep up with
// memory). Call it between products, not during one; packed weights have kernels at both precisions.
func (p *Pool) SetActivationBits(bits int) error {
	if bits != 16 && bits != 8 {
		return fmt.Errorf("activations can be rounded to 16 bits (the default) or 8 (llama.cpp's rounding), not %d", bits)
	}
	p.actBits = bits
	return nil
}

// ActivationBits is the precision SetActivationBits chose.
func (p *Pool) ActivationBits() int { return p.actBits }

// NewPool starts threads workers (GOMAXPROCS when threads ≤ 0); the caller of For is worker 0.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, scratch: make([][]float32, threads), wake: make([]chan struct{}, threads),
		asleep: make([]atomic.Bool, threads), strips: make([]strip, threads), actBits: 16}
	p.tasks.bind()
	p.chunkFn = p.takeChunks
	for w := 1; w < threads; w++ {
		p.wake[w] = make(chan struct{}, 1)
		p.wg.Add(1)
		go p.worker(w, p.epoch.Load()) // the epoch as of now: a job posted before the goroutine runs is not missed
	}
	return p
}

func (p *Pool) worker(w int, seen uint64) {
	defer p.wg.Done()
	recheck := time.NewTimer(time.Hour) // bounds a park: made once, so parking allocates nothing
	recheck.Stop()
	for {
		deadline := time.Now().Add(spinFor)
		for spins := 0; p.epoch.Load() == seen; spins++ {
			if p.closed.Load() {
				return
			}
			if spins&1023 == 1023 && time.Now().After(deadline) {
				// Park. This and For's epoch.Add are both read-modify-writes on purpose: a plain Store here
				// followed by the Load of epoch is ordered by Go's memory model, but emulators such as
				// qemu-user on x86 let that load pass the store (a lost wake-up that hung For), while an
				// atomic exchange is a full barrier everywhere.
				p.asleep[w].Swap(true)
				if p.epoch.Load() == seen && !p.closed.Load() {
					// Wait for For's wake-up, but look again now and then: should a wake-up ever be lost
					// anyway, the job waits a few milliseconds instead of hanging.
					recheck.Reset(parkRecheck)
					select {
					case <-p.wake[w]:
						recheck.Stop()
					case <-recheck.C:
					}
				}
				p.asleep[w].Store(false)
				deadline = time.Now().Add(spinFor)
			}
		}
		seen = p.epoch.Load()
		if p.closed.Load() {
			return
		}
		j := p.job
		if j.chunks {
			p.run(p.chunkFn, 0, 0, w)
		} else if lo, hi := min(j.n, w*j.per*j.al), min(j.n, (w+1)*j.per*j.al); lo < hi {
			p.run(j.fn, lo, hi, w)
		}
		p.pending.Add(-1)
	}
}

// Threads is the number of workers.
func (p *Pool) Threads() int { return p.threads }

// Scratch returns worker w's scratch slice with at least n elements.
func (p *Pool) Scratch(w, n int) []float32 {
	if cap(p.scratch[w]) < n {
		p.scratch[w] = make([]float32, n)
	}
	return p.scratch[w][:n]
}

// For runs fn over [0, n) split into one contiguous range per worker (ranges are multiples of align,
// except the last). It returns when all ranges are done. fn must not call For.
func (p *Pool) For(n, align int, fn func(lo, hi, worker int)) {
	if n <= 0 {
		return
	}
	if align < 1 {
		align = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	units := (n + align - 1) / align
	if p.threads == 1 || units == 1 {
		fn(0, n, 0)
		return
	}
	per := (units + p.threads - 1) / p.threads
	p.job = poolJob{fn: fn, n: n, per: per, al: align}
	p.pending.Store(int32(p.threads - 1))
	p.epoch.Add(1)
	p.wakeAll()
	fn(0, min(n, per*align), 0)
	p.wait()
}

// ForChunks runs fn over [0, n) in ranges that the workers take in order, each the next one left, until
// none is: a worker that runs slower (a busy sibling thread, another process on its core) takes fewer,
// instead of making the others wait for its fixed share. The ranges shrink as the work runs out (guided
// scheduling): each is 1/(2·threads) of what is left, in whole multiples of chunk and at least chunk (the
// last may be shorter), so that few ranges are taken while the workers finish within a small range of
// each other. It returns when all ranges are done. fn must not call For.
//
// Measured (2-core AMD EPYC, TinyLlama-shape Q4_0, 2 threads, 8-bit, three alternated pairs, ranges of a
// fixed quarter of a thread's share → guided): decoding one sequence 52.5/59.8/54.2 → 63.8/65.1/57.3 t/s
// (llamago bench -p 0 -n 128), eight 169.7/167.4/170.7 → 162.5/171.0/174.4 (--parallel 8: within noise).
func (p *Pool) ForChunks(n, chunk int, fn func(lo, hi, worker int)) {
	if n <= 0 {
		return
	}
	chunk = max(chunk, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.threads == 1 || n <= chunk {
		fn(0, n, 0)
		return
	}
	p.job = poolJob{fn: fn, n: n, al: chunk, chunks: true}
	p.next.Store(0)
	p.pending.Store(int32(p.threads - 1))
	p.epoch.Add(1)
	p.wakeAll()
	p.run(p.chunkFn, 0, 0, 0)
	p.wait()
}

// takeChunks runs the current ForChunks job's ranges, as long as there are any, on worker w.
func (p *Pool) takeChunks(_, _, w int) {
	j := &p.job
	for {
		lo := int(p.next.Load())
		if lo >= j.n {
			return
		}
		size := max(j.al, (j.n-lo)/(2*p.threads)/j.al*j.al)
		if p.next.CompareAndSwap(int64(lo), int64(lo+size)) {
			j.fn(lo, min(j.n, lo+size), w)
		}
	}
}

// wakeAll wakes the parked workers for a new job.
func (p *Pool) wakeAll() {
	for w := 1; w < p.threads; w++ {
		if p.asleep[w].Load() {
			select {
			case p.wake[w] <- struct{}{}:
			default:
			}
		}
	}
}

// wait spins until the workers are done with the current job, then raises a worker's panic.
func (p *Pool) wait() {
	for spins := 0; p.pending.Load() != 0; spins++ {
		if spins&255 == 255 {
			runtime.Gosched()
		}
	}
	p.job.fn = nil
	if v := p.panicked.Swap(nil); v != nil {
		panic(*v) // a worker's panic, raised again where it can be recovered (or reported as a bug)
	}
}

// run calls fn on a worker; a panic is kept for For to raise on its caller's goroutine, since a panic on
// a worker's own would end the process beyond anyone's recovery.
func (p *Pool) run(fn func(lo, hi, worker int), lo, hi, w int) {
	defer func() {
		if v := recover(); v != nil {
			msg := any(fmt.Sprintf("%v (in pool worker %d)\n%s", v, w, debug.Stack()))
			p.panicked.CompareAndSwap(nil, &msg)
		}
	}()
	fn(lo, hi, w)
}

// Close stops the workers.
func (p *Pool) Close() {
	p.closed.Store(true)
	for w := 1; w < p.threads; w++ {
		select {
		case p.wake[w] <- struct{}{}:
		default:
		}
	}
	p.wg.Wait()
}

// q16 returns n quantized-activation rows of cols values, reusing the pool's storage.
func (p *Pool) q16(n, cols int) []Q16Row {
	if cap(p.qbuf) < n*cols {
		p.qbuf = make([]int16, n*cols)
		p.qd = make([]float32, n*cols/32)
		p.qs = make([]int32, n*cols/32)
	}
	if cap(p.qrows) < n {
		p.qrows = make([]Q16Row, n)
	}
	rows := p.qrows[:n]
	for t := range rows {
		b0, b1 := t*cols/32, (t+1)*cols/32
		rows[t] = Q16Row{Q: p.qbuf[t*cols : (t+1)*cols], D: p.qd[b0:b1], S: p.qs[b0:b1]}
	}
	return rows
}
