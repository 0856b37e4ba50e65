// Package engine runs LLaMA-family models: it binds a GGUF file's weights by name, keeps the KV cache and
// drives a forward pass through a Backend, which holds only the operations a LLaMA forward pass needs.
// The CPU backend here is the reference; the CUDA backend (build tag cuda) implements the same interface.
package engine

import (
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

// KVCache holds keys and values for every layer and position of one sequence.
type KVCache interface {
	// Capacity is the number of positions the cache holds.
	Capacity() int
}

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
	// NewKVCache allocates a cache for layers × positions × kvDim keys and as many values.
	NewKVCache(layers, positions, kvDim int) (KVCache, error)

	// Embed: dst[t] = row ids[t] of table, dequantized.
	Embed(dst Buffer, table Weight, ids []int32) error
	// RMSNorm: dst[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ w, for n rows of w's width.
	RMSNorm(dst, x Buffer, w Weight, n int, eps float32) error
	// MatMul: dst[t][r] = Σ_c W[r][c]·x[t][c] for n rows of x.
	MatMul(dst Buffer, w Weight, x Buffer, n int) error
	// RoPE rotates q (n × heads × headDim) and k (n × kvHeads × headDim) in place at positions pos.
	RoPE(q, k Buffer, pos []int32, heads, kvHeads, headDim int, p RopeParams) error
	// StoreKV writes k and v (n × kvDim) into the cache at layer and positions pos.
	StoreKV(c KVCache, layer int, k, v Buffer, pos []int32) error
	// Attention: out[t] = Σ_{j ≤ pos[t]} softmax_j(q[t]·K[j]·scale) V[j] per head, K and V from the cache
	// (query head h reads KV head h / (Heads/KVHeads)).
	Attention(out, q Buffer, c KVCache, pos []int32, p AttentionParams) error
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

// Reserver is an optional backend capability: before a session allocates its buffers and KV cache, the
// engine says how many bytes they take in all, so a device backend can take them as one arena up front (and
// fail early, with the size, when memory is short). Alloc and NewKVCache then draw from it.
type Reserver interface {
	Reserve(bytes int64) error
}
