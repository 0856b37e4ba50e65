package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// ErrNoKVBlocks is returned when the KV cache has no free block for a step: the caller waits for a sequence
// to finish, or frees (preempts) one.
var ErrNoKVBlocks = errors.New("no free KV cache blocks")

// blockDigest names the content of a full KV block: a SHA-256 of the previous block's digest and the
// block's tokens. Two blocks with the same digest hold the keys and values of the same tokens at the same
// positions after the same prefix (a collision would need a SHA-256 collision).
type blockDigest [sha256.Size]byte

// chainDigest is the digest of a block of tokens that follows a block of digest prev (zero for the first).
func chainDigest(prev blockDigest, tokens []int32) blockDigest {
	h := sha256.New()
	h.Write(prev[:])
	var b [4]byte
	for _, t := range tokens {
		binary.LittleEndian.PutUint32(b[:], uint32(t))
		h.Write(b[:])
	}
	var d blockDigest
	h.Sum(d[:0])
	return d
}

// blockPool hands out the blocks of a paged KV cache. Each block has a reference count: the sequences whose
// block tables list it. Full blocks can be published under the digest of their tokens (the prefix index);
// a sequence whose prompt starts with the same tokens then takes them instead of computing them again. A
// published block is never written again (its positions are all stored), so sharing needs no copy. Blocks no
// sequence references stay in the index until their space is needed; the least recently used goes first.
type blockPool struct {
	refs    []int32
	free    []int32 // blocks with no reference and no published content
	index   map[blockDigest]int32
	digest  []blockDigest // of a published block
	indexed []bool
	used    []int64 // when a published block was last released or taken (a clock, for eviction)
	clock   int64
	idle    int // published blocks no sequence references
}

func newBlockPool(blocks int) *blockPool {
	p := &blockPool{refs: make([]int32, blocks), free: make([]int32, blocks), index: map[blockDigest]int32{},
		digest: make([]blockDigest, blocks), indexed: make([]bool, blocks), used: make([]int64, blocks)}
	for i := range p.free {
		p.free[i] = int32(blocks - 1 - i) // taken from the end: block 0 first
	}
	return p
}

// Available is the number of blocks a sequence can take now: free ones and published ones nobody uses.
func (p *blockPool) Available() int { return len(p.free) + p.idle }

// InUse is the number of blocks some sequence references.
func (p *blockPool) InUse() int { return len(p.refs) - p.Available() }

// alloc takes a block for writing: a free one, else the least recently used published block nobody
// references (dropped from the index).
func (p *blockPool) alloc() (int32, bool) {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		p.refs[b] = 1
		return b, true
	}
	if p.idle == 0 {
		return 0, false
	}
	best := int32(-1)
	for b, r := range p.refs {
		if r == 0 && p.indexed[b] && (best < 0 || p.used[b] < p.used[best]) {
			best = int32(b)
		}
	}
	p.unpublish(best)
	p.idle--
	p.refs[best] = 1
	return best, true
}

func (p *blockPool) unpublish(b int32) {
	delete(p.index, p.digest[b])
	p.indexed[b] = false
}

// release drops one reference to b.
func (p *blockPool) release(b int32) {
	p.refs[b]--
	switch {
	case p.refs[b] > 0:
	case p.indexed[b]:
		p.clock++
		p.used[b] = p.clock
		p.idle++
	default:
		p.free = append(p.free, b)
	}
}

// lookup takes a reference to the published block of digest d, if there is one.
func (p *blockPool) lookup(d blockDigest) (int32, bool) {
	b, ok := p.index[d]
	if !ok {
		return 0, false
	}
	if p.refs[b] == 0 {
		p.idle--
	}
	p.refs[b]++
	p.clock++
	p.used[b] = p.clock
	return b, true
}

// publish records that block b (referenced, full) holds the tokens of digest d. When another block already
// holds them, b stays private.
func (p *blockPool) publish(b int32, d blockDigest) {
	if _, dup := p.index[d]; dup || p.indexed[b] {
		return
	}
	p.index[d] = b
	p.digest[b] = d
	p.indexed[b] = true
}
