package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/llamago/llamago/gguf"
)

// BackendOptions are what opening a backend may use.
type BackendOptions struct {
	Threads int // CPU threads (0: all cores)
	Device  int // the device's index, for a backend with several
	// ActivationBits is the precision the CPU's quantized matrix products round activations to: 16 (0 means
	// 16: within ~1e-8 NMSE of exact logits) or 8 (llama.cpp's precision, faster 4-bit decoding on CPUs
	// with AVX-512 VNNI). See CPU.SetActivationBits. Other backends ignore it.
	ActivationBits int
}

// BackendDriver opens one kind of backend; a backend package registers its driver in an init function, the
// way database/sql drivers do, and a program links it in with a blank import.
type BackendDriver struct {
	// Available reports whether the machine can run the backend now (a GPU driver that sees a device); nil
	// means always.
	Available func() bool
	Open      func(BackendOptions) (Backend, error)
	// Uploads says whether loading copies the weights (a device backend: worth a progress bar) rather than
	// using the mapped file in place.
	Uploads bool
}

var (
	driversMu sync.RWMutex
	drivers   = map[string]BackendDriver{}
)

// RegisterBackend makes a backend available by name; registering a name twice is a programming error.
func RegisterBackend(name string, d BackendDriver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("engine: backend " + name + " registered twice")
	}
	drivers[name] = d
}

// Backends lists the registered backends, sorted.
func Backends() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	var names []string
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Driver returns a registered backend's driver.
func Driver(name string) (BackendDriver, bool) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}

// OpenBackend opens a registered backend.
func OpenBackend(name string, o BackendOptions) (Backend, error) {
	d, ok := Driver(name)
	if !ok {
		return nil, fmt.Errorf("backend %q is not in this build of llamago (it has: %s)", name, strings.Join(Backends(), ", "))
	}
	return d.Open(o)
}

// The capabilities below are optional interfaces a backend may implement.

// MemoryInfo is a backend with its own memory (a GPU): what is free now, for planning what fits.
type MemoryInfo interface {
	FreeMemory() (int64, error)
}

// TypeSupporter is a backend that computes with only some weight types (the CUDA backend); the others
// compute with every type the CPU can.
type TypeSupporter interface {
	SupportsType(t gguf.Type) bool
}

// KVTypeSupporter is a backend that keeps its KV cache in other element types than float32 (the CPU and
// CUDA backends: also half precision); a backend that is not one keeps float32 only.
type KVTypeSupporter interface {
	SupportsKVType(t gguf.Type) bool
}

// SupportsKVType reports whether b can keep a KV cache of type t.
func SupportsKVType(b Backend, t gguf.Type) bool {
	if ks, ok := b.(KVTypeSupporter); ok {
		return ks.SupportsKVType(t)
	}
	return t == gguf.TypeF32
}

// Threader is a backend that runs on CPU threads: how many.
type Threader interface {
	Threads() int
}

func init() {
	RegisterBackend("cpu", BackendDriver{Open: func(o BackendOptions) (Backend, error) {
		b := NewCPU(o.Threads)
		if o.ActivationBits != 0 {
			if err := b.SetActivationBits(o.ActivationBits); err != nil {
				b.Close()
				return nil, err
			}
		}
		return b, nil
	}})
}
