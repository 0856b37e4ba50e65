//go:build cuda || cudaemu

package cuda

import (
	"bytes"
	"strings"
	"unsafe"
)

// devPtr is a device address.
type devPtr uintptr

// driver is what the backend needs from CUDA. driver_cu.go implements it on gorgonia.org/cu (build tag
// cuda, a real GPU); driver_emu.go on the CPU emulator of kernels/emu (build tag cudaemu), so that the
// backend's host code and its kernels run, and are tested, on machines without a GPU.
type driver interface {
	// devices lists the GPUs.
	devices() ([]Device, error)
	// open makes a context and a stream on device index and loads the kernel modules.
	open(index int) error
	// do runs fn with the context current on the calling OS thread.
	do(fn func() error) error
	// launch enqueues a kernel; every argument is 8 bytes (pointers, int64, float64 bits).
	launch(name string, grid, block, shared int, args []uint64) error
	alloc(n int64) (devPtr, error)
	free(p devPtr)
	memInfo() (free, total int64, err error)
	// memsetD32 sets n 4-byte values, ordered on the stream.
	memsetD32(p devPtr, v uint32, n int64) error
	// htod copies host to device, ordered on the stream, and returns when the copy is done.
	htod(dst devPtr, src unsafe.Pointer, n int64) error
	// htodAsync, dtohAsync and dtodAsync are ordered on the stream; the host memory of an asynchronous
	// copy must stay untouched until sync.
	htodAsync(dst devPtr, src unsafe.Pointer, n int64) error
	dtohAsync(dst unsafe.Pointer, src devPtr, n int64) error
	dtodAsync(dst, src devPtr, n int64) error
	// newGraph makes a graph of the launches recs (their arguments in words) in order, one after the other,
	// and instantiates it.
	newGraph(recs []launchRec, words []uint64) (graphExec, error)
	// sync waits for the stream; a kernel's failure is reported here.
	sync() error
	// sticky reports whether err leaves the context unusable (a kernel's fault: every later call fails).
	sticky(err error) bool
	close() error
}

// jitLog is what the PTX JIT wrote into its error and info log buffers (NUL-terminated C strings), one
// line, at most 2000 bytes: the reason a module failed to load.
func jitLog(bufs ...[]byte) string {
	var parts []string
	for _, b := range bufs {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		if s := strings.Join(strings.Fields(string(b)), " "); s != "" {
			parts = append(parts, s)
		}
	}
	s := strings.Join(parts, " | ")
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}
