package cpu

import (
	"runtime"
	"sync"
)

// Pool is a fixed set of worker goroutines that split loops by index range. Each worker owns a scratch
// slice that kernels may use without allocating.
type Pool struct {
	threads int
	tasks   chan poolTask
	scratch [][]float32
	wg      sync.WaitGroup
	mu      sync.Mutex // one For at a time: workers' scratch is shared between calls
}

type poolTask struct {
	fn     func(lo, hi, worker int)
	lo, hi int
	worker int
	done   *sync.WaitGroup
}

// NewPool starts threads workers (GOMAXPROCS when threads ≤ 0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, tasks: make(chan poolTask, threads), scratch: make([][]float32, threads)}
	for i := 1; i < threads; i++ { // the caller's goroutine is worker 0
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.tasks {
				t.fn(t.lo, t.hi, t.worker)
				t.done.Done()
			}
		}()
	}
	return p
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
	if align < 1 {
		align = 1
	}
	units := (n + align - 1) / align
	workers := min(p.threads, units)
	if workers <= 1 {
		if n > 0 {
			p.mu.Lock()
			fn(0, n, 0)
			p.mu.Unlock()
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var done sync.WaitGroup
	per := (units + workers - 1) / workers
	done.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := min(n, w*per*align), min(n, (w+1)*per*align)
		p.tasks <- poolTask{fn, lo, hi, w, &done}
	}
	fn(0, min(n, per*align), 0)
	done.Wait()
}

// Close stops the workers.
func (p *Pool) Close() {
	close(p.tasks)
	p.wg.Wait()
}
