//go:build cudaemu && !cuda

package cuda

/*
#cgo CXXFLAGS: -std=c++20 -O2 -I${SRCDIR}/../../kernels/emu -I${SRCDIR}/../../kernels
#include <stdint.h>
#include <stdlib.h>
int llamago_emu_launch(const char* name, unsigned grid, unsigned block, unsigned long shmem, const uint64_t* args, int nargs);
int llamago_emu_has(const char* name);
void llamago_emu_profile(int on);
void llamago_emu_profile_read(uint64_t* out);
*/
import "C"

import (
	"fmt"
	"os"
	"slices"
	"unsafe"

	"github.com/llamago/llamago/kernels"
)

// The kernels' sources, which emu.cc includes: referring to them makes their changes rebuild this package.
var _ = kernels.Sources

// emuMemory is the memory the emulated device reports.
const emuMemory = 8 << 30

// emuDriver runs the kernels on the CPU emulator of kernels/emu: device memory is C heap memory, every
// copy and launch completes before it returns.
type emuDriver struct {
	sizes map[devPtr]int64
	used  int64
}

func newDriver() driver { return &emuDriver{sizes: map[devPtr]int64{}} }

// devices shows one emulated GPU, or LLAMAGO_CUDA_EMU_DEVICES of them (at most 8), so that the layer split
// across GPUs runs in CI; each backend has a driver of its own, so each device counts its own memory.
func (d *emuDriver) devices() ([]Device, error) {
	n := 1
	if v := os.Getenv("LLAMAGO_CUDA_EMU_DEVICES"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 || n > 8 {
			return nil, fmt.Errorf("cuda emulator: LLAMAGO_CUDA_EMU_DEVICES=%q: give a number of devices from 1 to 8", v)
		}
	}
	var out []Device
	for i := range n {
		out = append(out, Device{Index: i, Name: "llamago CUDA emulator (CPU)", Memory: emuMemory, CapMajor: 8, CapMinor: 0, Multiprocs: 1})
	}
	return out, nil
}

// open checks that the emulator has every kernel the backend launches, as the real driver checks the PTX.
func (d *emuDriver) open(index int) error {
	for _, fam := range kernels.Families {
		for _, k := range kernels.Names[fam] {
			cname := C.CString(k)
			ok := C.llamago_emu_has(cname) != 0
			C.free(unsafe.Pointer(cname))
			if !ok {
				return fmt.Errorf("cuda emulator: kernel %s (%s) is not in engine/cuda/emu.cc", k, fam)
			}
		}
	}
	return nil
}

func (d *emuDriver) do(fn func() error) error { return fn() }

func (d *emuDriver) launch(name string, grid, block, shared int, args []uint64) error {
	if block < 1 || block > 1024 {
		return fmt.Errorf("invalid block size %d", block)
	}
	if shared > 48<<10 {
		return fmt.Errorf("%d bytes of shared memory exceed the 48 KiB a launch may ask without opting in", shared)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var a *C.uint64_t
	if len(args) > 0 {
		a = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	switch C.llamago_emu_launch(cname, C.uint(grid), C.uint(block), C.ulong(shared), a, C.int(len(args))) {
	case -1:
		return fmt.Errorf("no kernel %s in the emulator", name)
	case -2:
		return fmt.Errorf("kernel %s takes a different number of arguments than %d", name, len(args))
	}
	return nil
}

func (d *emuDriver) alloc(n int64) (devPtr, error) {
	if d.used+n > emuMemory {
		return 0, fmt.Errorf("CUDA_ERROR_OUT_OF_MEMORY (emulated)")
	}
	p := C.calloc(1, C.size_t(n))
	if p == nil {
		return 0, fmt.Errorf("calloc of %d bytes failed", n)
	}
	dp := devPtr(uintptr(p))
	d.sizes[dp] = n
	d.used += n
	return dp, nil
}

// free poisons the memory (0xFF bytes: NaNs as floats, -1 as ints) before giving it back, so that a use
// after free shows in a test's results instead of reading what happens to still be there.
func (d *emuDriver) free(p devPtr) {
	n, ok := d.sizes[p]
	if !ok {
		panic(fmt.Sprintf("cuda emulator: free of %#x, which is not an allocation (a piece of one, or freed twice)", uintptr(p)))
	}
	clear := unsafe.Slice((*byte)(hostPtr(p)), n)
	for i := range clear {
		clear[i] = 0xFF
	}
	d.used -= n
	delete(d.sizes, p)
	C.free(hostPtr(p))
}

func (d *emuDriver) memInfo() (int64, int64, error) { return emuMemory - d.used, emuMemory, nil }

// hostPtr is the host address of emulated device memory (C heap, never moved by Go).
func hostPtr(p devPtr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

func (d *emuDriver) memsetD32(p devPtr, v uint32, n int64) error {
	s := unsafe.Slice((*uint32)(hostPtr(p)), n)
	for i := range s {
		s[i] = v
	}
	return nil
}

func (d *emuDriver) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	copy(unsafe.Slice((*byte)(hostPtr(dst)), n), unsafe.Slice((*byte)(src), n))
	return nil
}

func (d *emuDriver) htodAsync(dst devPtr, src unsafe.Pointer, n int64) error {
	return d.htod(dst, src, n)
}

func (d *emuDriver) dtohAsync(dst unsafe.Pointer, src devPtr, n int64) error {
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(hostPtr(src)), n))
	return nil
}

func (d *emuDriver) dtodAsync(dst, src devPtr, n int64) error {
	copy(unsafe.Slice((*byte)(hostPtr(dst)), n), unsafe.Slice((*byte)(hostPtr(src)), n))
	return nil
}

// emuGraph is a graph on the emulator: its launches, made in order when it is launched.
type emuGraph struct {
	d     *emuDriver
	recs  []launchRec
	words []uint64
}

// emuGraphFail, when set (tests), is the error newGraph returns: a driver that refuses graphs.
var emuGraphFail error

func (d *emuDriver) newGraph(recs []launchRec, words []uint64) (graphExec, error) {
	if emuGraphFail != nil {
		return nil, emuGraphFail
	}
	for _, l := range recs { // as instantiation checks the nodes
		cname := C.CString(l.name)
		ok := C.llamago_emu_has(cname) != 0
		C.free(unsafe.Pointer(cname))
		if !ok {
			return nil, fmt.Errorf("no kernel %s in the emulator", l.name)
		}
	}
	return &emuGraph{d: d, recs: slices.Clone(recs), words: slices.Clone(words)}, nil
}

func (g *emuGraph) set(i int, l launchRec, args []uint64) error {
	old := g.recs[i]
	if l.name != old.name || len(args) != old.n {
		return fmt.Errorf("node %d runs %s with %d arguments, not %s with %d", i, old.name, old.n, l.name, len(args))
	}
	copy(g.words[old.at:old.at+old.n], args)
	g.recs[i] = launchRec{name: l.name, grid: l.grid, block: l.block, shared: l.shared, at: old.at, n: old.n}
	return nil
}

func (g *emuGraph) launch() error {
	for _, l := range g.recs {
		if err := g.d.launch(l.name, l.grid, l.block, l.shared, g.words[l.at:l.at+l.n]); err != nil {
			return fmt.Errorf("graph node %s: %w", l.name, err)
		}
	}
	return nil
}

func (g *emuGraph) destroy() { g.recs, g.words = nil, nil }

func (d *emuDriver) sync() error  { return nil }
func (d *emuDriver) close() error { return nil }

// sticky: the emulator's errors (an unknown kernel, a wrong argument count) leave it usable.
func (d *emuDriver) sticky(error) bool { return false }

// memProfile is the emulator's count of the loads kernels made through load/load_weight (common.cuh) while
// it was on: warp load instructions, distinct 128-byte lines they touched (≈ L1 wavefronts), bytes.
type memProfile struct{ instructions, lines, bytes uint64 }

// profileLoads runs fn with the emulator's memory profile on and returns its counts.
func profileLoads(fn func() error) (memProfile, error) {
	C.llamago_emu_profile(1)
	defer C.llamago_emu_profile(0)
	err := fn()
	var out [3]C.uint64_t
	C.llamago_emu_profile_read(&out[0])
	return memProfile{uint64(out[0]), uint64(out[1]), uint64(out[2])}, err
}
