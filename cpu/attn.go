package cpu

// Attention over a key/value cache, a few queries at a time.
//
// Keys are stored in tiles of KTile positions, dimension-major inside a tile ([tile][kvDim][KTile]), so that
// one vector load reads one dimension of 16 consecutive keys: the scores of a query against 16 keys are
// hd multiply-adds with no horizontal sums, and up to four queries that read the same keys (the query heads
// of one KV head, GQA) share each load. Values stay one row per position ([position][kvDim]): the weighted sum
// adds whole rows.

// KTile is the number of positions in a key tile.
const KTile = 16

// KIndex returns where key (pos, dim) is in a tiled key array of kvDim dimensions per position.
func KIndex(pos, dim, kvDim int) int { return (pos/KTile)*kvDim*KTile + dim*KTile + pos%KTile }

// AttnQueries is up to four queries that attend to the same KV head. Q[i] (hd values) sees keys [0, N[i]);
// its output goes to Out[i] (hd values) and, when Probs[i] is not nil, its attention weights to Probs[i][:N[i]].
type AttnQueries struct {
	Count int
	Q     [4][]float32
	N     [4]int
	Out   [4][]float32
	Probs [4][]float32
}

// AttnScratch returns the scratch length Attend needs for queries that see at most n keys, in blocks of
// blockSize positions.
func AttnScratch(n, blockSize int) int { return 4 * (n + blockSize - 1) / blockSize * blockSize }

// Paged keys and values: a layer's cache is a pool of blocks of blockSize positions (a multiple of KTile).
// Block b holds its keys tiled ([tile][kvDim][KTile], see KIndex) at k[b·blockSize·kvDim:] and its values
// one row per position at v[b·blockSize·kvDim:]. A sequence's positions 0, 1, … are in the blocks its block
// table lists, blockSize positions per block.

// PagedKIndex returns where key (pos, dim) of a sequence is in a layer's paged keys, given the block that
// holds the position.
func PagedKIndex(block, pos, dim, kvDim, blockSize int) int {
	return block*blockSize*kvDim + KIndex(pos%blockSize, dim, kvDim)
}

// Attend computes softmax(scale·q·Kᵀ)·V for the queries in a, which belong to one sequence. k and v are one
// layer's paged keys and values, blocks the sequence's block table, off the first dimension of the KV head,
// hd its size; s is scratch of at least AttnScratch(max N, blockSize) values.
func Attend(a *AttnQueries, k, v []float32, blocks []int32, blockSize, kvDim, off, hd int, scale float32, s []float32) {
	nmax := 0
	for i := 0; i < a.Count; i++ {
		nmax = max(nmax, a.N[i])
		clear(a.Out[i][:hd])
	}
	nb := (nmax + blockSize - 1) / blockSize
	stride := nb * blockSize
	s = s[:4*stride]
	span := blockSize * kvDim
	for b, blk := range blocks[:nb] {
		base := int(blk) * span
		_ = k[base+span-1]
		attnScores(a, k[base+off*KTile:base+span], kvDim, hd, blockSize/KTile, s[b*blockSize:], stride, scale)
	}
	for i := 0; i < a.Count; i++ {
		row := s[i*stride : i*stride+nmax]
		Softmax(row[:a.N[i]])
		clear(row[a.N[i]:])
		if a.Probs[i] != nil {
			copy(a.Probs[i], row[:a.N[i]])
		}
	}
	for b, blk := range blocks[:nb] {
		base, n := int(blk)*span, min(blockSize, nmax-b*blockSize)
		_ = v[base+(n-1)*kvDim+off+hd-1]
		attnValues(a, s[b*blockSize:], stride, n, v[base+off:base+span], kvDim, hd)
	}
}

// attnScoresGo writes s[i·stride + j] = scale·Q[i]·K[j] for the tiles of keys.
func attnScoresGo(a *AttnQueries, k []float32, kvDim, hd, tiles int, s []float32, stride int, scale float32) {
	for i := 0; i < a.Count; i++ {
		q := a.Q[i][:hd]
		for t := 0; t < tiles; t++ {
			var acc [KTile]float32
			kt := k[t*kvDim*KTile:]
			for d, qd := range q {
				kd := kt[d*KTile : d*KTile+KTile]
				for j := range acc {
					acc[j] += qd * kd[j]
				}
			}
			for j := range acc {
				s[i*stride+t*KTile+j] = acc[j] * scale
			}
		}
	}
}

// attnValuesGo adds Σ_{j<n} s[i·stride + j]·V[j] to Out[i].
func attnValuesGo(a *AttnQueries, s []float32, stride, n int, v []float32, kvDim, hd int) {
	for i := 0; i < a.Count; i++ {
		o := a.Out[i][:hd]
		for j := 0; j < n; j++ {
			if p := s[i*stride+j]; p != 0 {
				AXPY(o, p, v[j*kvDim:j*kvDim+hd])
			}
		}
	}
}
