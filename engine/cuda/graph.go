//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"hash/maphash"
	"os"
	"slices"
	"unsafe"
)

// CUDA graphs for decoding steps. A step of a few tokens is ~150 short kernels: launched one by one, the
// host spends microseconds on each and the GPU idles between them. So the backend records a pass's launches
// (engine.Passer: the engine brackets each pass) instead of making them, and at its end launches them as
// one graph: the first pass of a shape builds a graph of them (a chain of kernel nodes) and instantiates it;
// a later pass with the same kernels in the same order replays it, after setting the nodes whose grid or
// arguments changed (attention's key count grows by one each step; the buffers, weights and scratch arrays
// stay where they are, so most nodes keep theirs). A sequence of kernels seen for the first time launches
// one by one: the graph is made the second time. No stream capture: the graph is made from the records,
// so the uploads of a step's token ids and positions stay ordinary copies made before it.
//
// Recording defers every kernel of the pass to its end, while the copies of the pass's inputs (token ids,
// positions, block tables: recorder.htodAsync) happen at once. That is right because such an input is
// written once per pass, before the kernels that read it; an upload into memory that a kernel recorded
// earlier in the pass reads would reorder the two, so it makes the pass give up its graph first (abandon:
// the recorded kernels are launched, and the rest of the pass goes one by one). So does anything else that
// must stay in order with the kernels — a synchronization, a read back, a memset, a device-to-device copy.
//
// LLAMAGO_CUDA_GRAPHS: auto (passes of at most graphTokens tokens: decoding), on (every pass), off.

// graphTokens is the largest pass auto records: a prompt chunk's kernels are long enough that launching
// them one by one costs nothing that matters, and each new chunk length would be a graph of its own.
const graphTokens = 64

// graphCache is how many graphs a backend keeps (the least recently launched goes): decoding batches of
// different sizes take different kernels (tensor cores from LLAMAGO_CUDA_MMA_MIN tokens) and a split model
// different passes on each device.
const graphCache = 16

const (
	graphsAuto = iota
	graphsOn
	graphsOff
)

// launchRec is one recorded kernel launch.
type launchRec struct {
	name                string
	grid, block, shared int
	at, n               int // its argument words, words[at:at+n] of the recorder (or of the graph holding it)
}

// graphExec is an instantiated graph: a chain of kernel launches, launched as one. A node's grid, block,
// shared memory and arguments may change between launches; its kernel may not.
type graphExec interface {
	// set makes node i launch l (whose arguments are args) from the next launch on.
	set(i int, l launchRec, args []uint64) error
	// launch enqueues the graph on the stream.
	launch() error
	destroy()
}

// GraphStats counts what the graphs did (for tests and the GPU benchmark).
type GraphStats struct {
	Built     int // graphs made and instantiated
	Launched  int // passes launched as a graph
	Updated   int // nodes whose grid or arguments were set before a launch
	Abandoned int // passes that gave up their graph midway (an upload into memory a recorded kernel reads, a read back)
	Eager     int // passes launched one by one: not recorded (too many tokens, graphs off), or a first sight
}

// recorder is the driver as the backend sees it: while a pass records, kernel launches are kept (launch)
// and every other operation that must stay in order with them launches them first (abandon).
type recorder struct {
	driver
	on    bool
	recs  []launchRec
	words []uint64
	stats *GraphStats
}

func (r *recorder) args(l launchRec) []uint64 { return r.words[l.at : l.at+l.n] }

func (r *recorder) launch(name string, grid, block, shared int, args []uint64) error {
	if !r.on {
		return r.driver.launch(name, grid, block, shared, args)
	}
	r.recs = append(r.recs, launchRec{name: name, grid: grid, block: block, shared: shared, at: len(r.words), n: len(args)})
	r.words = append(r.words, args...)
	return nil
}

// flush launches the recorded kernels one by one and stops recording.
func (r *recorder) flush() error {
	r.on = false
	recs := r.recs
	r.recs = r.recs[:0]
	for _, l := range recs {
		if err := r.driver.launch(l.name, l.grid, l.block, l.shared, r.args(l)); err != nil {
			return fmt.Errorf("cuda: launching %s (grid %d, block %d, shared %d B): %w", l.name, l.grid, l.block, l.shared, err)
		}
	}
	r.words = r.words[:0]
	return nil
}

// abandon gives up the pass's graph: what was recorded is launched now, the rest of the pass one by one.
func (r *recorder) abandon() error {
	if !r.on {
		return nil
	}
	r.stats.Abandoned++
	return r.flush()
}

// reads reports whether a recorded launch has an argument in [p, p+n): a pointer into that memory. The
// backend's uploads go to whole scratch arrays, so the caller gives the whole array (guard): a kernel given
// a pointer to the middle of one is caught too.
func (r *recorder) reads(p devPtr, n int64) bool {
	for _, w := range r.words {
		if w >= uint64(p) && w < uint64(p)+uint64(n) {
			return true
		}
	}
	return false
}

// guard gives up the pass's graph before memory [p, p+n) changes, where a recorded kernel reads it.
func (r *recorder) guard(p devPtr, n int64) error {
	if r.on && r.reads(p, n) {
		return r.abandon()
	}
	return nil
}

func (r *recorder) htodAsync(dst devPtr, src unsafe.Pointer, n int64) error {
	if r.on && r.reads(dst, n) {
		if err := r.abandon(); err != nil {
			return err
		}
	}
	return r.driver.htodAsync(dst, src, n)
}

func (r *recorder) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	if err := r.abandon(); err != nil {
		return err
	}
	return r.driver.htod(dst, src, n)
}

func (r *recorder) dtohAsync(dst unsafe.Pointer, src devPtr, n int64) error {
	if err := r.abandon(); err != nil {
		return err
	}
	return r.driver.dtohAsync(dst, src, n)
}

func (r *recorder) dtodAsync(dst, src devPtr, n int64) error {
	if err := r.abandon(); err != nil {
		return err
	}
	return r.driver.dtodAsync(dst, src, n)
}

func (r *recorder) memsetD32(p devPtr, v uint32, n int64) error {
	if err := r.abandon(); err != nil {
		return err
	}
	return r.driver.memsetD32(p, v, n)
}

func (r *recorder) sync() error {
	if err := r.abandon(); err != nil {
		return err
	}
	return r.driver.sync()
}

// graphs is a backend's recorder and the graphs it made.
type graphs struct {
	rec    recorder
	mode   int
	cache  []*graphEntry   // most recently launched last
	seen   map[uint64]bool // graphKeys of kernel sequences seen without a graph
	seed   maphash.Seed
	stats  GraphStats
	failed error // why graphs were turned off for this backend (a driver refused one), or nil
}

// graphEntry is an instantiated graph and the launches its nodes make now.
type graphEntry struct {
	key   uint64 // graphKey of its kernels
	exec  graphExec
	recs  []launchRec
	words []uint64
}

// graphMode reads LLAMAGO_CUDA_GRAPHS.
func graphMode() (int, error) {
	switch v := os.Getenv("LLAMAGO_CUDA_GRAPHS"); v {
	case "", "auto":
		return graphsAuto, nil
	case "on", "1":
		return graphsOn, nil
	case "off", "0":
		return graphsOff, nil
	default:
		return 0, fmt.Errorf("cuda: LLAMAGO_CUDA_GRAPHS=%q: give auto (decoding passes launch as CUDA graphs), on (every pass) or off", v)
	}
}

// BeginPass implements engine.Passer: a pass of tokens tokens records its kernels where graphs are on for it.
func (b *Backend) BeginPass(tokens int) {
	g := &b.graphs
	// Nothing is recorded between passes: a pass that never ended (a panic in the middle of it, which the
	// scheduler survives) is dropped, as a failed one is.
	g.rec.on, g.rec.recs, g.rec.words = false, g.rec.recs[:0], g.rec.words[:0]
	if g.mode == graphsOff || b.syncLaunch || (g.mode == graphsAuto && tokens > graphTokens) {
		g.stats.Eager++
		return
	}
	g.rec.on = true
}

// EndPass implements engine.Passer: it launches the pass's kernels as a graph (ok), or drops them (an
// operation of the pass failed, and the engine discards the step).
func (b *Backend) EndPass(ok bool) error {
	r := &b.graphs.rec
	if !r.on || !ok {
		r.on, r.recs, r.words = false, r.recs[:0], r.words[:0]
		return nil
	}
	return b.do(b.launchPass)
}

// graphKey hashes the kernels of recs in order: the shape a graph is found by.
func (g *graphs) graphKey(recs []launchRec) uint64 {
	var h maphash.Hash
	h.SetSeed(g.seed)
	for _, l := range recs {
		h.WriteString(l.name)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// find returns the graph of the kernels of recs, moved to the end of the cache, or nil.
func (g *graphs) find(recs []launchRec) *graphEntry {
	key := g.graphKey(recs)
	for i, e := range g.cache {
		if e.key != key || len(e.recs) != len(recs) {
			continue
		}
		same := true
		for j := range recs {
			if e.recs[j].name != recs[j].name {
				same = false
				break
			}
		}
		if same {
			g.cache = append(append(g.cache[:i:i], g.cache[i+1:]...), e)
			return e
		}
	}
	return nil
}

// launchPass launches the recorded pass as a graph: the one of its kernels, updated, or a new one. Where
// the driver refuses graphs, the backend turns them off (saying why once, on standard error) and the pass
// goes one by one: a slower step, never a lost one.
func (b *Backend) launchPass() error {
	g := &b.graphs
	r := &g.rec
	r.on = false
	defer func() { r.recs, r.words = r.recs[:0], r.words[:0] }()
	e := g.find(r.recs)
	if e == nil {
		// A sequence of kernels gets a graph the second time it comes: batches that mix prompt chunks and
		// decoding vary in their kernels (a norm per run of logit rows), and one seen once would cost an
		// instantiation for nothing, and push out the graphs decoding replays.
		key := g.graphKey(r.recs)
		if !g.seen[key] {
			if len(g.seen) >= 4*graphCache {
				clear(g.seen)
			}
			g.seen[key] = true
			g.stats.Eager++
			return r.flush()
		}
		exec, err := b.drv.newGraph(r.recs, r.words)
		if err != nil {
			return b.graphsFailed(err)
		}
		e = &graphEntry{key: key, exec: exec, recs: slices.Clone(r.recs), words: slices.Clone(r.words)}
		if len(g.cache) == graphCache {
			g.cache[0].exec.destroy() // the driver frees it once a launch still running is done
			g.cache = g.cache[1:]
		}
		g.cache = append(g.cache, e)
		g.stats.Built++
	} else {
		for i, l := range r.recs {
			old, args := e.recs[i], r.args(l)
			if old.grid == l.grid && old.block == l.block && old.shared == l.shared && slices.Equal(e.words[old.at:old.at+old.n], args) {
				continue
			}
			if l.n != old.n {
				return b.graphsFailed(fmt.Errorf("kernel %s took %d arguments, now %d", l.name, old.n, l.n))
			}
			if err := e.exec.set(i, l, args); err != nil {
				return b.graphsFailed(fmt.Errorf("updating node %d (%s): %w", i, l.name, err))
			}
			copy(e.words[old.at:old.at+old.n], args)
			e.recs[i] = launchRec{name: l.name, grid: l.grid, block: l.block, shared: l.shared, at: old.at, n: old.n}
			g.stats.Updated++
		}
	}
	if err := e.exec.launch(); err != nil {
		return b.graphsFailed(fmt.Errorf("launching a graph of %d kernels: %w", len(r.recs), err))
	}
	g.stats.Launched++
	return nil
}

// graphsFailed turns the backend's graphs off after the driver refused one (err), destroys those it made,
// and launches the recorded pass one kernel at a time. A kernel's fault (sticky: an earlier pass's, which
// the driver reports at the next call) is returned as it is: it is not the graphs' doing. Errors of the
// pass's own launches (a grid the driver refuses) show here too, at the end of the pass rather than at the
// operation, and turn graphs off: LLAMAGO_CUDA_GRAPHS=off or LLAMAGO_CUDA_SYNC=1 puts them back in place.
func (b *Backend) graphsFailed(err error) error {
	g := &b.graphs
	if b.drv.sticky(err) {
		return fmt.Errorf("cuda: a kernel faulted and the GPU context is unusable (LLAMAGO_CUDA_SYNC=1 names the kernel): %w", err)
	}
	if g.failed == nil {
		fmt.Fprintf(os.Stderr, "llamago: %s: CUDA graphs off, kernels launched one by one (LLAMAGO_CUDA_GRAPHS=off hides this): %v\n", b.name, err)
	}
	g.failed, g.mode = err, graphsOff
	if serr := g.rec.driver.sync(); serr != nil {
		return serr
	}
	g.destroy()
	return g.rec.flush()
}

// destroy frees every graph (the stream must be idle).
func (g *graphs) destroy() {
	for _, e := range g.cache {
		e.exec.destroy()
	}
	g.cache = nil
}

// GraphStats reports what the backend's graphs did, and why they were turned off (nil: they were not).
func (b *Backend) GraphStats() (GraphStats, error) { return b.graphs.stats, b.graphs.failed }

// Report implements engine.Reporter: what the CUDA graphs did, and why they were turned off if they were.
func (b *Backend) Report() string {
	st, failed := b.GraphStats()
	r := fmt.Sprintf("%s: CUDA graphs: %d passes launched as graphs, %d built, %d nodes updated, %d passes gave theirs up, %d launched kernel by kernel",
		b.name, st.Launched, st.Built, st.Updated, st.Abandoned, st.Eager)
	if failed != nil {
		r += fmt.Sprintf(" (graphs turned off: %v)", failed)
	}
	return r
}
