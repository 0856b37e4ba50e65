//go:build cuda || cudaemu

package cuda

// Weights and the matrix products: one-token and batched products (fused Q/K/V, with the residual added
// and the next norm applied, with SwiGLU), and the embedding lookup.

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/kernels"
)

type weight struct {
	p          devPtr
	typ        gguf.Type
	rows, cols int
}

func (w *weight) Shape() (int, int) { return w.rows, w.cols }
func (w *weight) Type() gguf.Type   { return w.typ }

// weightPad is the padding after each weight on the device (see matmul_tc's stages, kernels/matvec.cu).
const weightPad = 16

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
		// weightPad bytes past the end: the tensor-core products copy rows as the aligned words that cover
		// them, which may reach a few bytes past the last row.
		if w.p, err = b.alloc(int64(len(data))+weightPad, "weight "+name); err != nil {
			return err
		}
		if err := b.drv.htod(w.p, unsafe.Pointer(&data[0]), int64(len(data))); err != nil {
			return fmt.Errorf("cuda: uploading %s: %w", name, err)
		}
		var pad [weightPad]byte // zeros, so that the padding a kernel's words reach is initialized memory
		if err := b.drv.htod(w.p+devPtr(len(data)), unsafe.Pointer(&pad[0]), weightPad); err != nil {
			return fmt.Errorf("cuda: uploading %s: %w", name, err)
		}
		return nil
	})
	return w, err
}

func (b *Backend) Embed(dst engine.Buffer, table engine.Weight, ids []int32) error {
	w := table.(*weight)
	for _, id := range ids {
		if id < 0 || int(id) >= w.rows {
			return fmt.Errorf("token id %d is outside the vocabulary of %d", id, w.rows)
		}
	}
	return b.do(func() error {
		p, err := b.ints(scratchIDs, ids)
		if err != nil {
			return err
		}
		return launch(b, "embed_"+typeSuffix[w.typ], len(ids), 256, 0, embedArgs{Dst: dp(dst), Table: w.p, IDs: p, Cols: w.cols})
	})
}

func (b *Backend) MatMul(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int) error {
	return b.MatMuls([]engine.Buffer{dst}, []engine.Weight{w}, x, n)
}

// MatMulAdd implements engine.MatMulAdder: the matrix product adds to dst as it stores (no second kernel).
func (b *Backend) MatMulAdd(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int) error {
	return b.matVec([]engine.Buffer{dst}, []engine.Weight{w}, x, n, true, nil)
}

// MatMulAddNorm implements engine.MatMulAddNormer: the product adds to dst, and the launch's last block to
// finish normalizes dst into out (no RMSNorm kernel).
func (b *Backend) MatMulAddNorm(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int, out engine.Buffer, norm engine.Weight, eps float32) error {
	return b.matVec([]engine.Buffer{dst}, []engine.Weight{w}, x, n, true, &normAfter{out: out, w: norm.(*weight), eps: eps})
}

// normAfter is the RMSNorm a product's last block applies to its destination (MatMulAddNorm).
type normAfter struct {
	out engine.Buffer
	w   *weight
	eps float32
}

// MatMuls implements engine.MultiMatMuler: up to three weights of one type and row length (Q, K and V; gate
// and up) go to the GPU as one launch per 8 tokens; others as one launch per weight.
func (b *Backend) MatMuls(dsts []engine.Buffer, ws []engine.Weight, x engine.Buffer, n int) error {
	return b.matVec(dsts, ws, x, n, false, nil)
}

// coalesced reports whether one-token products of type t read the activations coalesced.
func (b *Backend) coalesced(t gguf.Type) bool { return !b.blocks && coalescedType(t) }

// coalescedType reports whether type t has coalesced one-token kernels (kernels.CoalescedTypes).
func coalescedType(t gguf.Type) bool { return slices.Contains(kernels.CoalescedTypes, typeSuffix[t]) }

// fusable reports whether weights can share a launch: one type, one row length (and at most three).
func fusable(ws ...engine.Weight) bool {
	first := ws[0].(*weight)
	ok := len(ws) <= 3
	for _, w := range ws {
		wt := w.(*weight)
		ok = ok && wt.typ == first.typ && wt.cols == first.cols
	}
	return ok
}

// warpsPerBlock is the matrix products' block size in warps (256 threads).
const warpsPerBlock = 8

func (b *Backend) matVec(dsts []engine.Buffer, ws []engine.Weight, x engine.Buffer, n int, add bool, norm *normAfter) error {
	if !fusable(ws...) {
		for i := range ws {
			if err := b.matVec(dsts[i:i+1], ws[i:i+1], x, n, add, nil); err != nil {
				return err
			}
		}
		return nil
	}
	first := ws[0].(*weight)
	addArg := 0
	if add {
		addArg = 1
	}
	if b.tensorCores(first, n) {
		return b.do(func() error {
			for i, w := range ws {
				if err := b.matmulTC(dsts[i], w.(*weight), x, n, addArg); err != nil {
					return err
				}
			}
			if norm == nil {
				return nil
			}
			return launch(b, "rmsnorm_f32", n, 256, 0, rmsnormArgs{Dst: dp(norm.out), X: dp(dsts[0]), W: norm.w.p, Dim: first.rows, Eps: float64(norm.eps)})
		})
	}
	return b.do(func() error {
		for t0 := 0; t0 < n; t0 += 8 { // the kernels handle up to 8 tokens per pass over the weights
			tokens := min(8, n-t0)
			args := matvecArgs{X: dp(x) + devPtr(4*t0*first.cols), Cols: first.cols, Tokens: tokens, Add: addArg}
			out := []struct {
				dst, w *devPtr
				rows   *int
			}{{&args.Dst0, &args.W0, &args.Rows0}, {&args.Dst1, &args.W1, &args.Rows1}, {&args.Dst2, &args.W2, &args.Rows2}}
			total := 0
			for i, w := range ws {
				wt := w.(*weight)
				*out[i].dst, *out[i].w, *out[i].rows = dp(dsts[i])+devPtr(4*t0*wt.rows), wt.p, wt.rows
				total += wt.rows
			}
			// One token: R rows per warp share the activations (matvec1_rowsR, or matvec1c_rowsR reading
			// them coalesced); a batch: a row per warp.
			name, rows := "matvec_", 1
			if tokens == 1 && b.coalesced(first.typ) {
				name, rows = fmt.Sprintf("matvec1c_rows%d_", b.rows), b.rows
			} else if tokens == 1 && b.rows > 1 {
				name, rows = fmt.Sprintf("matvec1_rows%d_", b.rows), b.rows
			}
			if norm != nil { // one weight: the launch's last block normalizes its tokens' rows
				counter, err := b.scratchArray(scratchNormCount, 1)
				if err != nil {
					return err
				}
				args.NormW, args.NormOut, args.Eps, args.Counter = norm.w.p, dp(norm.out)+devPtr(4*t0*first.rows), float64(norm.eps), counter.p
			}
			perBlock := warpsPerBlock * rows
			err := launch(b, name+typeSuffix[first.typ], (total+perBlock-1)/perBlock, 32*warpsPerBlock, 0, args)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// MatMulSwiGLU implements engine.SwiGLUMatMuler: a warp computes a row of gate and the same row of up and
// stores silu(g)·u. Weights of different types take two products and a SwiGLU.
func (b *Backend) MatMulSwiGLU(dst, scratch engine.Buffer, gate, up engine.Weight, x engine.Buffer, n int) error {
	g, u := gate.(*weight), up.(*weight)
	if !fusable(gate, up) || g.rows != u.rows {
		if err := b.MatMuls([]engine.Buffer{dst, scratch}, []engine.Weight{gate, up}, x, n); err != nil {
			return err
		}
		return b.SwiGLU(dst, dst, scratch, n*g.rows)
	}
	if b.tensorCores(g, n) {
		if err := b.do(func() error {
			if err := b.matmulTC(dst, g, x, n, 0); err != nil {
				return err
			}
			return b.matmulTC(scratch, u, x, n, 0)
		}); err != nil {
			return err
		}
		return b.SwiGLU(dst, dst, scratch, n*g.rows)
	}
	return b.do(func() error {
		for t0 := 0; t0 < n; t0 += 8 {
			tokens := min(8, n-t0)
			name := "matvec_swiglu_"
			if tokens == 1 && b.coalesced(g.typ) {
				name = "matvec1c_swiglu_"
			} else if tokens == 1 {
				name = "matvec1_swiglu_"
			}
			err := launch(b, name+typeSuffix[g.typ], (g.rows+warpsPerBlock-1)/warpsPerBlock, 32*warpsPerBlock, 0, swigluMatvecArgs{
				Dst: dp(dst) + devPtr(4*t0*g.rows), Gate: g.p, Up: u.p, Rows: g.rows, X: dp(x) + devPtr(4*t0*g.cols), Cols: g.cols, Tokens: tokens})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// tcRows and tcTokens are matmul_tc_T's tile: a block per 64 rows × 64 tokens, 128 threads; its columns
// go 32 at a time.
const (
	tcRows, tcTokens, tcCols = 64, 64, 32
	tcThreads                = 128
)

// tensorCores reports whether n tokens against w take the tensor-core kernel: a type it has
// (kernels.TensorCoreTypes), rows of a whole number of its 32-column steps, and at least b.mmaMin tokens. Until a GPU
// measures the crossover (bench/gpu/run.sh sweeps LLAMAGO_CUDA_MMA_MIN), the default of 32 is a reasoned
// one: matvec_T reads the weights once per 8 tokens on the CUDA cores, the tile once per 64 on the tensor
// cores, so from 32 tokens (4 passes against 1, half the tile used) the tile reads a quarter of the
// weights' bytes and its products run at the tensor cores' rate.
func (b *Backend) tensorCores(w *weight, n int) bool {
	return n >= b.mmaMin && w.cols%tcCols == 0 && slices.Contains(kernels.TensorCoreTypes, typeSuffix[w.typ])
}

// matmulTC launches matmul_tc_T: dst = w·x for n tokens (added to dst when add is 1). Runs with the context
// current.
func (b *Backend) matmulTC(dst engine.Buffer, w *weight, x engine.Buffer, n, add int) error {
	grid := ((w.rows + tcRows - 1) / tcRows) * ((n + tcTokens - 1) / tcTokens)
	return launch(b, "matmul_tc_"+typeSuffix[w.typ], grid, tcThreads, 0, matmulTCArgs{Dst: dp(dst), W: w.p, X: dp(x),
		Rows: w.rows, Cols: w.cols, N: n, Add: add, Stages: b.stages})
}
