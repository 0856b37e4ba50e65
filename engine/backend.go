// Package engine runs LLaMA-family models: it binds a GGUF file's weights by name (the tables of package
// arch) and drives forward passes through a Backend, which holds only the operations a LLaMA forward pass
// needs. The CPU backend here is the reference; the CUDA backend (build tag cuda) implements the same
// interface.
//
// Three levels, each built on the one before:
//   - Runner: a model instance with a paged KV cache (a pool of blocks of KVBlockSize positions that its
//     sequences share, block tables per sequence) and the activations of one step. A step evaluates chunks
//     of tokens of many sequences in one forward pass — prompt chunks and decode tokens mixed — so each
//     weight is read once for all of them; each token attends to its own sequence only.
//   - Scheduler: continuous batching on a Runner — admission, a per-step token budget that splits long
//     prompts, preemption when blocks run out, prefix sharing, cancellation through context.Context.
//   - Session: one sequence on a runner of its own, for the CLI's single-text commands.
//
// The root package llamago wraps them into the API for programs that embed the engine.
package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/llamago/llamago/gguf"
)

// Buffer is a backend's float32 activation buffer.
type Buffer interface {
	Len() int
}

// Weight is a backend's handle to a weight tensor, kept in its GGUF layout.
type Weight interface {
	Shape() (rows, cols int) // a 1-D tensor has rows == 1
	Type() gguf.Type
}

// KVCache is a paged key/value cache: a pool of Blocks() blocks of BlockSize() positions, each holding a key
// and a value of every layer for each of its positions. The sequences of a model instance share the pool;
// each has a block table (KVBatch) that lists the blocks of its positions 0, 1, … in order.
type KVCache interface {
	Blocks() int
	BlockSize() int
}

// KVSpec describes a paged KV cache: Blocks blocks of BlockSize positions (a multiple of 16), each position
// holding a key and a value of KVHeads heads of HeadDim values for every one of Layers layers, stored as
// Type: gguf.TypeF32 (the zero value: exact) or gguf.TypeF16 (half the bytes, each key and value rounded
// to half precision as llama.cpp's default cache does).
type KVSpec struct {
	Layers, Blocks, BlockSize, KVHeads, HeadDim int
	Type                                        gguf.Type
}

// KVTypes are the element types a KV cache may have.
func KVTypes() []gguf.Type { return []gguf.Type{gguf.TypeF32, gguf.TypeF16} }

// ParseKVType reads a KV cache element type by name ("f32", "f16"; any case).
func ParseKVType(name string) (gguf.Type, error) {
	t, err := gguf.ParseType(name)
	if err == nil && slices.Contains(KVTypes(), t) {
		return t, nil
	}
	return 0, fmt.Errorf("KV cache type %q must be f32 (exact; the default) or f16 (half the memory, as llama.cpp keeps it); quantized caches such as q8_0 are not supported", name)
}

// KVTypeName is how the command line and llama-bench name a KV cache type ("f16").
func KVTypeName(t gguf.Type) string { return strings.ToLower(t.String()) }

// kvElemBytes is the size of one element of a KV cache of type t (0 for a type no cache has).
func kvElemBytes(t gguf.Type) int64 {
	switch t {
	case gguf.TypeF32:
		return 4
	case gguf.TypeF16:
		return 2
	}
	return 0
}

// KVBatch says where the tokens of a batch live in a paged KV cache. Token t of the batch is at position
// Pos[t] of its sequence Seq[t]; its key and value go to slot Slot[t] = block·BlockSize + Pos[t] mod BlockSize
// of the cache, and it attends to the positions 0…Pos[t] of its sequence, whose blocks are listed, in position
// order, in Tables[Seq[t]·Stride : (Seq[t]+1)·Stride]. The tokens of one sequence are consecutive in the batch,
// in increasing position order.
type KVBatch struct {
	Pos    []int32
	Slot   []int32
	Seq    []int32
	Tables []int32
	Stride int
}

// Table returns the block table of sequence s.
func (b *KVBatch) Table(s int32) []int32 { return b.Tables[int(s)*b.Stride : (int(s)+1)*b.Stride] }

// Len is the number of tokens in the batch.
func (b *KVBatch) Len() int { return len(b.Pos) }

// RopeParams describes the rotary embedding.
type RopeParams struct {
	Dims      int     // dimensions of each head that rotate
	Base      float64 // frequency base
	FreqScale float64 // linear position scale (1/rope.scaling.factor)
	Factors   []float32
}

// AttentionParams describes one attention call.
type AttentionParams struct {
	Layer          int
	Heads, KVHeads int
	HeadDim        int
	Scale          float32 // applied to q·k, normally 1/√HeadDim
	// Capture, when not nil, receives the post-softmax probabilities of the batch's queries:
	// Capture[h][t][j] for head h, batch token t and key position j ≤ Pos[t] (a row of length Pos[t]+1).
	// Heads whose Capture[h] is nil are not recorded. Nil Capture costs nothing.
	Capture [][][]float32
}

// Backend is the set of operations the forward pass uses. Shapes are row-major: a batch of n tokens of a
// width d is n rows of d values. Every method may run asynchronously; Read waits for pending work.
type Backend interface {
	Name() string
	// LoadWeight prepares a weight for use: data is the tensor's bytes in the mapped file (rows of cols elements).
	LoadWeight(name string, typ gguf.Type, rows, cols int, data []byte) (Weight, error)
	// Alloc returns a zeroed buffer of n values.
	Alloc(n int) (Buffer, error)
	// View returns the values [off, off+n) of b as a buffer sharing b's storage.
	View(b Buffer, off, n int) Buffer
	// NewKVCache allocates the paged cache s describes; a backend refuses an element type it does not keep.
	NewKVCache(s KVSpec) (KVCache, error)

	// Embed: dst[t] = row ids[t] of table, dequantized.
	Embed(dst Buffer, table Weight, ids []int32) error
	// RMSNorm: dst[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ w, for n rows of w's width.
	RMSNorm(dst, x Buffer, w Weight, n int, eps float32) error
	// MatMul: dst[t][r] = Σ_c W[r][c]·x[t][c] for n rows of x.
	MatMul(dst Buffer, w Weight, x Buffer, n int) error
	// RoPE rotates q (n × heads × headDim) and k (n × kvHeads × headDim) in place at positions pos.
	RoPE(q, k Buffer, pos []int32, heads, kvHeads, headDim int, p RopeParams) error
	// StoreKV writes k and v (n × kvHeads·headDim) into the cache's layer at slots slots (see KVBatch).
	StoreKV(c KVCache, layer int, k, v Buffer, slots []int32) error
	// Attention: out[t] = Σ_{j ≤ Pos[t]} softmax_j(q[t]·K[j]·scale) V[j] per head, K and V the keys and values
	// of the positions of token t's sequence, read through its block table (query head h reads KV head
	// h / (Heads/KVHeads)).
	Attention(out, q Buffer, c KVCache, kv *KVBatch, p AttentionParams) error
	// SwiGLU: dst = silu(gate) ⊙ up over n values.
	SwiGLU(dst, gate, up Buffer, n int) error
	// Add: dst += x over n values.
	Add(dst, x Buffer, n int) error
	// Read copies len(dst) values of src starting at off into dst, waiting for pending work.
	Read(dst []float32, src Buffer, off int) error
	// Write copies src into dst starting at off.
	Write(dst Buffer, src []float32, off int) error
	// Close releases everything the backend allocated.
	Close() error
}

// Write uploads v to the start of buf.
func Write(b Backend, buf Buffer, v []float32) error { return b.Write(buf, v, 0) }

// MultiMatMuler is an optional fused operation a backend may offer: several matrix products of the same
// input (Q, K and V; gate and up), so the input is prepared once (the CPU rounds it to integers once).
// Unfused equivalent:
//
//	for i := range ws { MatMul(dsts[i], ws[i], x, n) }
type MultiMatMuler interface {
	MatMuls(dsts []Buffer, ws []Weight, x Buffer, n int) error
}

// The fused operations below are optional too: a device backend offers them to save kernel launches and
// round trips of intermediate results through memory. The functions of the same names run each on any
// backend: fused where it has the operation, else as the unfused equivalent given with it.

// MatMulAdder multiplies and adds to the destination (the output projections and the residual stream).
// Unfused equivalent, with tmp a buffer of n·rows values:
//
//	MatMul(tmp, w, x, n); Add(dst, tmp, n·rows)
type MatMulAdder interface {
	MatMulAdd(dst Buffer, w Weight, x Buffer, n int) error
}

// MatMulAddNormer adds a product to the residual stream and normalizes the result for the next sub-layer,
// n rows of w's row count. Unfused equivalent:
//
//	MatMulAdd(dst, w, x, n); RMSNorm(out, dst, norm, n, eps)
type MatMulAddNormer interface {
	MatMulAddNorm(dst Buffer, w Weight, x Buffer, n int, out Buffer, norm Weight, eps float32) error
}

// SwiGLUMatMuler runs the feed-forward's first half: dst = silu(gate·x) ⊙ (up·x), n rows of gate's row count.
// scratch, as large as dst, is the backend's to use (a backend that cannot fuse a pair of weights of different
// types computes one product there). Unfused equivalent:
//
//	MatMuls({dst, scratch}, {gate, up}, x, n); SwiGLU(dst, dst, scratch, n·rows)
type SwiGLUMatMuler interface {
	MatMulSwiGLU(dst, scratch Buffer, gate, up Weight, x Buffer, n int) error
}

// RoPEStorer rotates q and k and writes k and v into the cache in one step. Unfused equivalent:
//
//	RoPE(q, k, kv.Pos, heads, kvHeads, headDim, p); StoreKV(c, layer, k, v, kv.Slot)
type RoPEStorer interface {
	RoPEStoreKV(q, k, v Buffer, c KVCache, layer int, kv *KVBatch, heads, kvHeads, headDim int, p RopeParams) error
}

// MatMuls computes dsts[i] = ws[i]·x on b (see MultiMatMuler).
func MatMuls(b Backend, dsts []Buffer, ws []Weight, x Buffer, n int) error {
	if f, ok := b.(MultiMatMuler); ok {
		return f.MatMuls(dsts, ws, x, n)
	}
	for i := range ws {
		if err := b.MatMul(dsts[i], ws[i], x, n); err != nil {
			return err
		}
	}
	return nil
}

// MatMulAdd computes dst += w·x on b; tmp (n rows of w's row count) holds the product where b has no
// MatMulAdder.
func MatMulAdd(b Backend, dst, tmp Buffer, w Weight, x Buffer, n int) error {
	if f, ok := b.(MatMulAdder); ok {
		return f.MatMulAdd(dst, w, x, n)
	}
	rows, _ := w.Shape()
	if err := b.MatMul(tmp, w, x, n); err != nil {
		return err
	}
	return b.Add(dst, tmp, n*rows)
}

// MatMulAddNorm computes dst += w·x, then out = RMSNorm(dst)·norm, on b (see MatMulAddNormer); tmp as for
// MatMulAdd.
func MatMulAddNorm(b Backend, dst, tmp Buffer, w Weight, x Buffer, n int, out Buffer, norm Weight, eps float32) error {
	if f, ok := b.(MatMulAddNormer); ok {
		return f.MatMulAddNorm(dst, w, x, n, out, norm, eps)
	}
	if err := MatMulAdd(b, dst, tmp, w, x, n); err != nil {
		return err
	}
	return b.RMSNorm(out, dst, norm, n, eps)
}

// MatMulSwiGLU computes dsts[0] = silu(ws[0]·x) ⊙ (ws[1]·x) on b, with dsts[1] as the scratch (see
// SwiGLUMatMuler): gate and up, each in a slice the caller keeps, so that nothing is allocated per call.
func MatMulSwiGLU(b Backend, dsts []Buffer, ws []Weight, x Buffer, n int) error {
	if f, ok := b.(SwiGLUMatMuler); ok {
		return f.MatMulSwiGLU(dsts[0], dsts[1], ws[0], ws[1], x, n)
	}
	rows, _ := ws[0].Shape()
	if err := MatMuls(b, dsts, ws, x, n); err != nil {
		return err
	}
	return b.SwiGLU(dsts[0], dsts[0], dsts[1], n*rows)
}

// RoPEStoreKV rotates q and k at the batch's positions and stores k and v in the cache's layer (see
// RoPEStorer).
func RoPEStoreKV(b Backend, q, k, v Buffer, c KVCache, layer int, kv *KVBatch, heads, kvHeads, headDim int, p RopeParams) error {
	if f, ok := b.(RoPEStorer); ok {
		return f.RoPEStoreKV(q, k, v, c, layer, kv, heads, kvHeads, headDim, p)
	}
	if err := b.RoPE(q, k, kv.Pos, heads, kvHeads, headDim, p); err != nil {
		return err
	}
	return b.StoreKV(c, layer, k, v, kv.Slot)
}

// Passer is an optional backend capability: the engine brackets each backend's share of a forward pass
// with BeginPass and EndPass, so that a device backend may record the pass's kernels and launch them as one
// (CUDA graphs) instead of one by one. Between the two the engine reads nothing back to the host (a pass that
// captures attention is not bracketed); ok is false when an operation of the pass failed, and the backend
// then drops what it held back.
type Passer interface {
	BeginPass(tokens int)
	EndPass(ok bool) error
}

// Reporter is an optional backend capability: a line on what the backend did that its results do not show
// (a GPU's CUDA graphs: made, launched, given up), for benchmarks to print beside their numbers.
type Reporter interface {
	Report() string
}

// unfused is a backend with its optional operations hidden (LoadOptions.Unfused): only Backend's methods
// show through the embedded interface.
type unfused struct{ Backend }

// Reserver is an optional backend capability: before a session allocates its buffers and KV cache, the
// engine says how many bytes they take in all, and the shapes of its batches, so a device backend can take
// them — and the scratch space its operations need for such batches — as one arena up front (and fail early,
// with the size, when memory is short). Alloc and NewKVCache then draw from it. release gives the arena
// back (Runner.Close): a long-lived process that makes runners one after another — a server answering
// attention requests with a session each — would otherwise run out of device memory.
type Reserver interface {
	Reserve(r Reservation) (release func(), err error)
	// ScratchBytes is what Reserve takes beyond r.Bytes: the scratch its operations need for such batches.
	ScratchBytes(r Reservation) int64
}

// Reservation describes a session to a Reserver.
type Reservation struct {
	Bytes   int64 // the session's buffers and KV cache
	Batch   int   // tokens per forward pass, at most
	Heads   int   // attention query heads
	HeadDim int
}
