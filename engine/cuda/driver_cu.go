//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/llamago/llamago/kernels"
	"gorgonia.org/cu"
)

// cuDriver is the driver on a real GPU, through gorgonia.org/cu.
type cuDriver struct {
	dev    cu.Device
	ctx    cu.CUContext
	stream cu.Stream
	fns    map[string]cu.Function
}

func newDriver() driver { return &cuDriver{fns: map[string]cu.Function{}} }

func (d *cuDriver) devices() ([]Device, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	var out []Device
	for i := 0; i < n; i++ {
		dev, err := cu.GetDevice(i)
		if err != nil {
			return nil, fmt.Errorf("cuda: device %d: %w", i, err)
		}
		name, _ := dev.Name()
		mem, _ := dev.TotalMem()
		ma, mi, _ := dev.ComputeCapability()
		sm, _ := dev.Attribute(cu.MultiprocessorCount)
		out = append(out, Device{Index: i, Name: name, Memory: mem, CapMajor: ma, CapMinor: mi, Multiprocs: sm})
	}
	return out, nil
}

func (d *cuDriver) open(index int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var err error
	if d.dev, err = cu.GetDevice(index); err != nil {
		return err
	}
	name, _ := d.dev.Name()
	if d.ctx, err = d.dev.MakeContext(cu.SchedAuto); err != nil {
		return fmt.Errorf("cuda: creating a context on %s: %w", name, err)
	}
	if d.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return fmt.Errorf("cuda: creating a stream: %w", err)
	}
	for _, fam := range kernels.Families {
		src, err := kernels.PTX(fam)
		if err != nil {
			return err
		}
		mod, err := loadModule(src)
		if err != nil {
			return fmt.Errorf("cuda: loading the %s kernels (PTX for compute_80) on %s: %w", fam, name, err)
		}
		for _, k := range kernels.Names[fam] {
			fn, err := mod.Function(k)
			if err != nil {
				return fmt.Errorf("cuda: kernel %s missing from %s.ptx: %w", k, fam, err)
			}
			d.fns[k] = fn
		}
	}
	return nil
}

// loadModule JIT-compiles a PTX module for the current context; a failure carries the JIT's error log
// (a bare CUDA_ERROR_INVALID_PTX says nothing of which instruction or resource was refused).
func loadModule(src string) (cu.Module, error) {
	errLog, infoLog := &cu.JITErrorLogBuffer{Buffer: make([]byte, 16<<10)}, &cu.JITInfoLogBuffer{Buffer: make([]byte, 16<<10)}
	mod, err := cu.LoadDataEx(src, errLog, infoLog)
	// The driver wrote into the buffers through the addresses the options carry: keep them alive past it.
	runtime.KeepAlive(errLog)
	runtime.KeepAlive(infoLog)
	if err != nil {
		if msg := jitLog(errLog.Buffer, infoLog.Buffer); msg != "" {
			return mod, fmt.Errorf("%w; the JIT said: %s", err, msg)
		}
		return mod, err
	}
	return mod, nil
}

func (d *cuDriver) do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("cuda: making the context current: %w", err)
	}
	return fn()
}

// launch is in graph_cu.go, with the other calls made through cgo directly.

func (d *cuDriver) alloc(n int64) (devPtr, error) {
	p, err := cu.MemAlloc(n)
	return devPtr(p), err
}

func (d *cuDriver) free(p devPtr) { _ = cu.MemFree(cu.DevicePtr(p)) }

func (d *cuDriver) memInfo() (int64, int64, error) { return cu.MemInfo() }

// memsetD32 and htod go through the backend's stream: it is a non-blocking stream, which does not wait
// for work on the legacy default stream where cuMemsetD32 and cuMemcpyHtoD would run (and those may return
// before they finish), so a kernel could otherwise read the memory before it is set.
func (d *cuDriver) memsetD32(p devPtr, v uint32, n int64) error {
	return cu.MemsetD32Async(cu.DevicePtr(p), uint(v), n, d.stream)
}

func (d *cuDriver) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	if err := cu.MemcpyHtoDAsync(cu.DevicePtr(dst), src, n, d.stream); err != nil {
		return err
	}
	return d.stream.Synchronize()
}

func (d *cuDriver) htodAsync(dst devPtr, src unsafe.Pointer, n int64) error {
	return cu.MemcpyHtoDAsync(cu.DevicePtr(dst), src, n, d.stream)
}

func (d *cuDriver) dtohAsync(dst unsafe.Pointer, src devPtr, n int64) error {
	return cu.MemcpyDtoHAsync(dst, cu.DevicePtr(src), n, d.stream)
}

func (d *cuDriver) dtodAsync(dst, src devPtr, n int64) error {
	return cu.MemcpyDtoDAsync(cu.DevicePtr(dst), cu.DevicePtr(src), n, d.stream)
}

func (d *cuDriver) sync() error { return d.stream.Synchronize() }

// sticky reports the errors after which the context is unusable: every later call fails the same way.
func (d *cuDriver) sticky(err error) bool {
	for _, e := range []error{cu.IllegalAddress, cu.LaunchFailed, cu.MisalignedAddress, cu.IllegalInstruction,
		cu.HardwareStackError, cu.InvalidAddressSpace, cu.InvalidPc, cu.Assert, cu.LaunchTimeout, cu.EccUncorrectable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (d *cuDriver) close() error {
	_ = d.stream.Synchronize()
	_ = d.stream.Destroy()
	return d.ctx.Destroy()
}
