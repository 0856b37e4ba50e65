//go:build cuda || cudaemu

package cuda

// The KV cache and attention: RoPE, the cache stores, the batch's block tables on the device and the
// split attention kernel over the paged cache.

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

// kvCache is a paged cache: keys and values are each [layer][block][blockSize][kvDim], so that a layer's
// row of slot s = block·blockSize + offset is the kvDim values at s·kvDim (see kernels/attention.cu), each
// a float32 or a half-precision float (size 4 or 2 bytes; its kernels end in _f32 or _f16).
type kvCache struct {
	k, v                             devPtr
	layers, blocks, blockSize, kvDim int
	size                             int64 // bytes a value
	// The kernels that read and write a cache of its type, named once (a pass launches them per layer).
	attention, attentionTile, store, ropeStore string
}

func (c *kvCache) Blocks() int    { return c.blocks }
func (c *kvCache) BlockSize() int { return c.blockSize }

// slots is the number of rows of a layer.
func (c *kvCache) slots() int { return c.blocks * c.blockSize }

// layer is the byte offset of a layer's rows.
func (c *kvCache) layer(l int) devPtr {
	return devPtr(int64(l) * int64(c.slots()) * c.size * int64(c.kvDim))
}

// SupportsKVType implements engine.KVTypeSupporter: the kernels read and write float32 and half-precision
// caches.
func (b *Backend) SupportsKVType(t gguf.Type) bool { return t == gguf.TypeF32 || t == gguf.TypeF16 }

func (b *Backend) NewKVCache(s engine.KVSpec) (engine.KVCache, error) {
	layers, blocks, blockSize, kvHeads, headDim := s.Layers, s.Blocks, s.BlockSize, s.KVHeads, s.HeadDim
	if blocks <= 0 || blockSize <= 0 || kvHeads <= 0 || headDim <= 0 {
		return nil, fmt.Errorf("cuda: a KV cache needs blocks of positions and heads of values, got %d blocks of %d, %d heads of %d", blocks, blockSize, kvHeads, headDim)
	}
	kvDim := kvHeads * headDim
	c := &kvCache{layers: layers, blocks: blocks, blockSize: blockSize, kvDim: kvDim, size: 4}
	suffix := "_f32"
	switch s.Type {
	case gguf.TypeF32:
	case gguf.TypeF16:
		c.size, suffix = 2, "_f16"
	default:
		return nil, fmt.Errorf("cuda: a KV cache of %s is not supported: f32 or f16", engine.KVTypeName(s.Type))
	}
	c.attention, c.attentionTile, c.store, c.ropeStore = "attention"+suffix, "attention_tile"+suffix, "kv_store"+suffix, "rope_store"+suffix
	n := c.size * int64(layers) * int64(c.slots()) * int64(kvDim)
	err := b.do(func() error {
		var err error
		if c.k, _, err = b.take(n, "the KV cache (keys)"); err != nil {
			return err
		}
		if c.v, _, err = b.take(n, "the KV cache (values)"); err != nil {
			return err
		}
		// A batch's positions, slots and table offsets (3 per token), its query tiles (2 per token at
		// most), and the block tables of its sequences: every block of the pool at most, unless sequences
		// share prefix blocks (kvBatch then grows the array).
		return b.reserveScratch(scratchKV, 5*b.batch+blocks)
	})
	return c, err
}

// ropeFactors returns the device copy of a model's RoPE frequency factors (0 when it has none).
func (b *Backend) ropeFactors(p engine.RopeParams) (devPtr, error) {
	if len(p.Factors) == 0 {
		return 0, nil
	}
	fac := b.factors[&p.Factors[0]]
	if fac == 0 {
		var err error
		if fac, err = b.alloc(4*int64(len(p.Factors)), "rope factors"); err != nil {
			return 0, err
		}
		if err := b.drv.htod(fac, unsafe.Pointer(&p.Factors[0]), 4*int64(len(p.Factors))); err != nil {
			return 0, err
		}
		b.factors[&p.Factors[0]] = fac
	}
	return fac, nil
}

func (b *Backend) RoPE(q, k engine.Buffer, pos []int32, heads, kvHeads, headDim int, p engine.RopeParams) error {
	return b.withPositions(pos, func(pp devPtr) error {
		fac, err := b.ropeFactors(p)
		if err != nil {
			return err
		}
		a := ropeArgs{X: dp(q), Pos: pp, Heads: heads, HeadDim: headDim, RopeDim: p.Dims, Base: p.Base, FreqScale: p.FreqScale, Factors: fac}
		if err := launch(b, "rope_f32", len(pos)*heads, 64, 0, a); err != nil {
			return err
		}
		a.X, a.Heads = dp(k), kvHeads
		return launch(b, "rope_f32", len(pos)*kvHeads, 64, 0, a)
	})
}

// checkSlots checks a batch's slots against the cache.
func checkSlots(c *kvCache, slots []int32) error {
	for _, s := range slots {
		if s < 0 || int(s) >= c.slots() {
			return fmt.Errorf("slot %d is outside the KV cache of %d blocks of %d positions", s, c.blocks, c.blockSize)
		}
	}
	return nil
}

func (b *Backend) StoreKV(c engine.KVCache, layer int, k, v engine.Buffer, slots []int32) error {
	kv := c.(*kvCache)
	if err := checkSlots(kv, slots); err != nil {
		return err
	}
	off := kv.layer(layer)
	return b.do(func() error {
		sp, err := b.ints(scratchSlot, slots)
		if err != nil {
			return err
		}
		return launch(b, kv.store, len(slots), 256, 0, kvStoreArgs{KC: kv.k + off, VC: kv.v + off, K: dp(k), V: dp(v), Slot: sp, KVDim: kv.kvDim})
	})
}

// RoPEStoreKV implements engine.RoPEStorer: one launch rotates q and k and stores k and v in the cache.
func (b *Backend) RoPEStoreKV(q, k, v engine.Buffer, c engine.KVCache, layer int, kv *engine.KVBatch, heads, kvHeads, headDim int, p engine.RopeParams) error {
	cache := c.(*kvCache)
	off := cache.layer(layer)
	return b.do(func() error {
		d, err := b.kvBatch(cache, kv)
		if err != nil {
			return err
		}
		fac, err := b.ropeFactors(p)
		if err != nil {
			return err
		}
		return launch(b, cache.ropeStore, d.n*(heads+kvHeads), 64, 0, ropeStoreArgs{Q: dp(q), K: dp(k), V: dp(v),
			KC: cache.k + off, VC: cache.v + off, Pos: d.pos, Slot: d.slot, Heads: heads, KVHeads: kvHeads, HeadDim: headDim,
			RopeDim: p.Dims, Base: p.Base, FreqScale: p.FreqScale, Factors: fac})
	})
}

// devBatch is a KVBatch on the device: one int32 array (scratchKV) holding pos[n], slot[n] and tableOf[n],
// then the query tiles of attention_tile_f32 (first token and count of each run of up to attnTileQueries
// consecutive tokens of one sequence), then tables, the block table of each sequence of the batch cut to
// the blocks its tokens reach; token t's table starts at tables + tableOf[t].
type devBatch struct {
	pos, slot, tableOf, tiles, tables devPtr
	n, maxPos, nTiles, singles        int // tokens; the longest sequence reached (max pos + 1); tiles; those of one token
}

// attnTileQueries is attention_tile_f32's ATT_TQ, the queries of a tile (TestTileConstants), and
// attnTileThreads its block: 8 threads a query.
const (
	attnTileQueries = 16
	attnTileThreads = 8 * attnTileQueries
)

// batchTiles appends to dst the query tiles of a batch whose tokens belong to the sequences seq: each run of
// one sequence's consecutive tokens cut into tiles of up to attnTileQueries, as (first token, count).
func batchTiles(dst []int32, seq []int32) []int32 {
	for first := 0; first < len(seq); {
		end := first + 1
		for end < len(seq) && seq[end] == seq[first] && end-first < attnTileQueries {
			end++
		}
		dst = append(dst, int32(first), int32(end-first))
		first = end
	}
	return dst
}

// kvBatchCache is the KVBatch last put on the device (a copy, to recognize it), for the cache it was
// checked against: a forward pass's layers all use the same batch, which goes up once.
type kvBatchCache struct {
	src    engine.KVBatch
	cache  *kvCache
	dev    devBatch
	packed []int32
	ok     bool
}

func sameBatch(a, b *engine.KVBatch) bool {
	return a.Stride == b.Stride && slices.Equal(a.Pos, b.Pos) && slices.Equal(a.Slot, b.Slot) &&
		slices.Equal(a.Seq, b.Seq) && slices.Equal(a.Tables, b.Tables)
}

// kvBatch checks kv against the cache and puts it on the device, unless it is the batch already there.
// Runs with the context current.
func (b *Backend) kvBatch(c *kvCache, kv *engine.KVBatch) (devBatch, error) {
	kc := &b.kvb
	if kc.ok && kc.cache == c && sameBatch(&kc.src, kv) {
		return kc.dev, nil
	}
	kc.ok = false
	n := kv.Len()
	if len(kv.Slot) != n || len(kv.Seq) != n {
		return devBatch{}, fmt.Errorf("cuda: a KV batch of %d positions has %d slots and %d sequence indexes", n, len(kv.Slot), len(kv.Seq))
	}
	if err := checkSlots(c, kv.Slot); err != nil {
		return devBatch{}, err
	}
	packed := slices.Grow(kc.packed[:0], 6*n)
	packed = append(append(packed, kv.Pos...), kv.Slot...)
	packed = append(packed, make([]int32, n)...) // tableOf, filled below
	packed = batchTiles(packed, kv.Seq)
	tablesAt := len(packed)
	maxPos := 0
	for first := 0; first < n; {
		seq := kv.Seq[first]
		end := first + 1
		for end < n && kv.Seq[end] == seq {
			end++
		}
		if seq < 0 || kv.Stride <= 0 || (int(seq)+1)*kv.Stride > len(kv.Tables) {
			return devBatch{}, fmt.Errorf("cuda: sequence %d has no block table (%d entries of %d blocks)", seq, len(kv.Tables), kv.Stride)
		}
		reach := 0 // positions of the sequence that its tokens in the batch attend to
		for t := first; t < end; t++ {
			if p := kv.Pos[t]; p < 0 || int(p) >= kv.Stride*c.blockSize {
				return devBatch{}, fmt.Errorf("position %d is outside its block table of %d blocks of %d positions", p, kv.Stride, c.blockSize)
			}
			reach = max(reach, int(kv.Pos[t])+1)
			packed[2*n+t] = int32(len(packed) - tablesAt)
		}
		for _, blk := range kv.Table(seq)[:(reach+c.blockSize-1)/c.blockSize] {
			if blk < 0 || int(blk) >= c.blocks {
				return devBatch{}, fmt.Errorf("block %d is outside the KV cache of %d blocks", blk, c.blocks)
			}
			packed = append(packed, blk)
		}
		maxPos = max(maxPos, reach)
		first = end
	}
	kc.packed = packed
	if s := b.scratch[scratchKV]; s != nil && s.n < len(packed) {
		// Sequences that share prefix blocks list them more than once: grow by doubling, so that a pass
		// rarely allocates.
		if _, err := b.scratchArray(scratchKV, max(len(packed), 2*s.n)); err != nil {
			return devBatch{}, err
		}
	}
	p, err := b.ints(scratchKV, packed)
	if err != nil {
		return devBatch{}, err
	}
	singles := 0
	for i := 3*n + 1; i < tablesAt; i += 2 {
		if packed[i] == 1 {
			singles++
		}
	}
	kc.dev = devBatch{pos: p, slot: p + devPtr(4*n), tableOf: p + devPtr(8*n), tiles: p + devPtr(12*n),
		tables: p + devPtr(4*tablesAt), n: n, maxPos: maxPos, nTiles: (tablesAt - 3*n) / 2, singles: singles}
	kc.src.Pos = append(kc.src.Pos[:0], kv.Pos...)
	kc.src.Slot = append(kc.src.Slot[:0], kv.Slot...)
	kc.src.Seq = append(kc.src.Seq[:0], kv.Seq...)
	kc.src.Tables = append(kc.src.Tables[:0], kv.Tables...)
	kc.src.Stride, kc.cache, kc.ok = kv.Stride, c, true
	return kc.dev, nil
}

// attnThreads is the block size of the attention kernels (four warps).
const attnThreads = 128

// attentionSplits chooses how many blocks share one query's keys: enough blocks in all to fill the GPU
// (about attnTargetBlocks) when there are few queries, as in decoding, but no split shorter than 32 keys.
// A split takes whole cache blocks, chunk of them; maxPos keys (at least 1) fill splits·chunk cache blocks
// of blockSize.
func attentionSplits(queries, maxPos, blockSize int) (splits, chunk int) {
	want := (attnTargetBlocks + queries - 1) / queries
	splits = max(1, min(want, (maxPos+31)/32))
	blocks := (maxPos + blockSize - 1) / blockSize
	chunk = (blocks + splits - 1) / splits
	return (blocks + chunk - 1) / chunk, chunk
}

// splitAttention launches attention_f32 over d: each query's keys split across blocks (flash-decoding).
func (b *Backend) splitAttention(out, q engine.Buffer, cache *kvCache, off devPtr, d devBatch, p engine.AttentionParams, capture devPtr) error {
	queries, maxPos := d.n*p.Heads, d.maxPos
	splits, chunk := attentionSplits(queries, maxPos, cache.blockSize)
	part, err := b.scratchFloats(scratchPartials, queries*splits*(p.HeadDim+2))
	if err != nil {
		return err
	}
	counters, err := b.scratchArray(scratchCounters, queries)
	if err != nil {
		return err
	}
	shared := 4 * max((attnThreads/32)*(p.HeadDim+2), splits) // the warps' outputs, then the merge's weights
	return launch(b, cache.attention, queries*splits, attnThreads, shared, attentionArgs{Out: dp(out), Partials: part,
		Counters: counters.p, Q: dp(q), KC: cache.k + off, VC: cache.v + off, Pos: d.pos, TableOf: d.tableOf, Tables: d.tables,
		BlockSize: cache.blockSize, Heads: p.Heads, KVHeads: p.KVHeads, HeadDim: p.HeadDim, Scale: float64(p.Scale),
		Splits: splits, Chunk: chunk, Capture: capture, MaxPos: maxPos})
}

// Attention kernels (LLAMAGO_CUDA_ATTENTION): auto chooses per batch, tiles and splits force one kernel
// where it can run (for measuring, and for the conformance suite to check both on every case).
const (
	attnAuto = iota
	attnTiles
	attnSplits
)

// attnMaxShared is the dynamic shared memory a kernel may take without opting in (48 KiB on every GPU).
const attnMaxShared = 48 << 10

// tileAttention reports whether batch d takes attention_tile_f32, and its shared memory. It can where the
// head size is at most 128 and cache blocks are whole multiples of 8 positions. It does, unless forced,
// where it saves key reads without losing the GPU's parallelism: the tiles hold two queries or more on
// average (prompt chunks: every key and value is read once per tile instead of once per query), at most a
// quarter of them one query (a chunk batched with many decoding sequences, each a tile of one query that
// walks its whole context in one block, keeps the split kernel), and tiles × heads fill the GPU's
// multiprocessors at least once (a short prompt at a long context is better split along its keys).
// Decoding batches keep attention_f32.
func (b *Backend) tileAttention(d devBatch, heads, headDim, blockSize int) (int, bool) {
	shared := 4 * (attnTileQueries*(headDim+8) + blockSize*(headDim+1) + blockSize*headDim + attnTileQueries*(blockSize+8))
	if headDim > 128 || blockSize%8 != 0 || shared > attnMaxShared || b.attn == attnSplits {
		return 0, false
	}
	return shared, b.attn == attnTiles || (d.n >= 2*d.nTiles && 4*d.singles <= d.nTiles && d.nTiles*heads >= b.sms)
}

func (b *Backend) Attention(out, q engine.Buffer, c engine.KVCache, kv *engine.KVBatch, p engine.AttentionParams) error {
	cache := c.(*kvCache)
	if p.KVHeads*p.HeadDim != cache.kvDim || p.Layer < 0 || p.Layer >= cache.layers {
		return fmt.Errorf("cuda: attention in layer %d over %d KV heads of %d values, but the KV cache holds %d layers of %d values a position", p.Layer, p.KVHeads, p.HeadDim, cache.layers, cache.kvDim)
	}
	if p.HeadDim > 256 {
		return fmt.Errorf("cuda: head size %d is larger than the attention kernel's 256: run this model with --backend cpu", p.HeadDim)
	}
	if kv.Len() == 0 {
		return nil
	}
	off := cache.layer(p.Layer)
	return b.do(func() error {
		d, err := b.kvBatch(cache, kv)
		if err != nil {
			return err
		}
		queries, maxPos := d.n*p.Heads, d.maxPos
		var capture devPtr
		n := queries * maxPos
		if p.Capture != nil {
			if capture, err = b.scratchFloats(scratchCapture, n); err != nil {
				return err
			}
		}
		if shared, ok := b.tileAttention(d, p.Heads, p.HeadDim, cache.blockSize); ok {
			err = launch(b, cache.attentionTile, d.nTiles*p.Heads, attnTileThreads, shared, tileAttentionArgs{Out: dp(out),
				Q: dp(q), KC: cache.k + off, VC: cache.v + off, Pos: d.pos, TableOf: d.tableOf, Tables: d.tables, Tiles: d.tiles,
				BlockSize: cache.blockSize, Heads: p.Heads, KVHeads: p.KVHeads, HeadDim: p.HeadDim, Scale: float64(p.Scale),
				Capture: capture, MaxPos: maxPos})
		} else {
			err = b.splitAttention(out, q, cache, off, d, p, capture)
		}
		if err != nil || p.Capture == nil {
			return err
		}
		host := make([]float32, n)
		if err := b.drv.dtohAsync(unsafe.Pointer(&host[0]), capture, 4*int64(n)); err != nil {
			return err
		}
		if err := b.drv.sync(); err != nil {
			return fmt.Errorf("cuda: attention capture: %w", err)
		}
		for h := range p.Capture {
			if p.Capture[h] == nil {
				continue
			}
			for t, row := range p.Capture[h] {
				if t < d.n && row != nil { // tokens not captured have no row
					copy(row, host[(t*p.Heads+h)*maxPos:(t*p.Heads+h)*maxPos+int(kv.Pos[t])+1])
				}
			}
		}
		return nil
	})
}
