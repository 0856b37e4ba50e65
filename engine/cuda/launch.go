//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/llamago/llamago/kernels"
)

// Typed kernel launches. Every kernel's arguments are a struct below, its fields in the order of the
// kernel's C parameters: devPtr for a pointer, int for a long long, float64 for a double — 8 bytes each,
// as the kernels are written (kernels/*.cu), so a struct is its argument array as the driver wants it.
// kernelArgs says which struct each kernel takes; launch refuses any other, and TestKernelSignatures
// checks every struct against the kernel's parameters in the compiled PTX (count, order, integer or
// float), so an argument added to a kernel and not here fails in CI, not on a GPU.

// matvecArgs: matvec_*, matvec1_rows*_*, matvec1c_rows*_* — up to three weights sharing x (fused Q/K/V),
// then, for one weight, the normalization of its output rows by the launch's last block (NormW ≠ 0).
type matvecArgs struct {
	Dst0, W0          devPtr
	Rows0             int
	Dst1, W1          devPtr
	Rows1             int
	Dst2, W2          devPtr
	Rows2             int
	X                 devPtr
	Cols, Tokens, Add int
	NormW, NormOut    devPtr
	Eps               float64
	Counter           devPtr
}

// swigluMatvecArgs: matvec_swiglu_*, matvec1_swiglu_*, matvec1c_swiglu_* — dst = silu(gate·x) ⊙ (up·x).
type swigluMatvecArgs struct {
	Dst, Gate, Up devPtr
	Rows          int
	X             devPtr
	Cols, Tokens  int
}

// embedArgs: embed_* — dst[t] = the table's row ids[t].
type embedArgs struct {
	Dst, Table, IDs devPtr
	Cols            int
}

// matmulTCArgs: matmul_tc_* — Stages 0 reads the weights directly instead of through cp.async stages.
type matmulTCArgs struct {
	Dst, W, X     devPtr
	Rows, Cols, N int
	Add, Stages   int
}

type rmsnormArgs struct {
	Dst, X, W devPtr
	Dim       int
	Eps       float64
}

type swigluArgs struct {
	Dst, Gate, Up devPtr
	N             int
}

type addArgs struct {
	Dst, X devPtr
	N      int
}

type ropeArgs struct {
	X, Pos                  devPtr
	Heads, HeadDim, RopeDim int
	Base, FreqScale         float64
	Factors                 devPtr
}

type ropeStoreArgs struct {
	Q, K, V, KC, VC, Pos, Slot       devPtr
	Heads, KVHeads, HeadDim, RopeDim int
	Base, FreqScale                  float64
	Factors                          devPtr
}

type kvStoreArgs struct {
	KC, VC, K, V, Slot devPtr
	KVDim              int
}

type tileAttentionArgs struct {
	Out, Q, KC, VC, Pos, TableOf, Tables, Tiles devPtr
	BlockSize, Heads, KVHeads, HeadDim          int
	Scale                                       float64
	Capture                                     devPtr
	MaxPos                                      int
}

type attentionArgs struct {
	Out, Partials, Counters, Q, KC, VC, Pos, TableOf, Tables devPtr
	BlockSize, Heads, KVHeads, HeadDim                       int
	Scale                                                    float64
	Splits, Chunk                                            int
	Capture                                                  devPtr
	MaxPos                                                   int
}

// kernelArgTypes maps each kernel of kernels.Names to its argument struct, made once: launch looks its
// kernel up on every call (a token is ~150 launches).
var kernelArgTypes = func() map[string]reflect.Type {
	byName := map[string]any{"rmsnorm_f32": rmsnormArgs{}, "swiglu_f32": swigluArgs{}, "add_f32": addArgs{},
		"rope_f32": ropeArgs{}, "rope_store_f32": ropeStoreArgs{}, "kv_store_f32": kvStoreArgs{},
		"attention_f32": attentionArgs{}, "attention_tile_f32": tileAttentionArgs{},
		"rope_store_f16": ropeStoreArgs{}, "kv_store_f16": kvStoreArgs{}, "attention_f16": attentionArgs{}, "attention_tile_f16": tileAttentionArgs{}}
	out := map[string]reflect.Type{}
	for _, fam := range kernels.Families {
		for _, name := range kernels.Names[fam] {
			v := byName[name]
			switch {
			case strings.Contains(name, "swiglu_") && strings.HasPrefix(name, "matvec"):
				v = swigluMatvecArgs{}
			case strings.HasPrefix(name, "matmul_tc_"):
				v = matmulTCArgs{}
			case strings.HasPrefix(name, "matvec"):
				v = matvecArgs{}
			case strings.HasPrefix(name, "embed_"):
				v = embedArgs{}
			}
			if v != nil {
				out[name] = reflect.TypeOf(v)
			}
		}
	}
	return out
}()

// kernelArgs is the argument struct of kernel name (a name of kernels.Names), or nil for an unknown one.
func kernelArgs(name string) reflect.Type { return kernelArgTypes[name] }

// launch enqueues kernel name with its arguments (its kernelArgs struct) on the stream: grid blocks of
// block threads, shared bytes of dynamic shared memory. A grid of 0 launches nothing.
func launch[A any](b *Backend, name string, grid, block, shared int, args A) error {
	if t := kernelArgs(name); t != reflect.TypeFor[A]() {
		return fmt.Errorf("cuda: kernel %s takes %v, not %T", name, t, args)
	}
	if grid == 0 {
		return nil
	}
	vals := unsafe.Slice((*uint64)(unsafe.Pointer(&args)), unsafe.Sizeof(args)/8)
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
