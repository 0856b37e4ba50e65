package engine

import (
	"fmt"
	"sort"
)

// CaptureSpec chooses which attention probabilities a session records.
type CaptureSpec struct {
	Layers   []int // nil or empty: every layer; else sorted, each once (AttentionCapture.Layers)
	Heads    []int // nil or empty: every head
	MaxBytes int64 // refuse captures whose estimate exceeds this (0: no limit)
}

// AttentionCapture holds post-softmax attention probabilities recorded during a session's evaluations:
// Probs[l][h][q] is the row of query position q (keys 0…q) for the l-th chosen layer and h-th chosen head.
type AttentionCapture struct {
	Layers []int
	Heads  []int
	Probs  [][][][]float32
	// index maps a model layer / head to its place in Layers / Heads (−1: not captured).
	layerIdx, headIdx []int
}

// Whole reports whether the capture holds every layer and every head of its model (what a rollout or an
// average over the captured ones may then be called: the model's).
func (c *AttentionCapture) Whole() (layers, heads bool) {
	return len(c.Layers) == len(c.layerIdx), len(c.Heads) == len(c.headIdx)
}

// megabytes writes a size in MB with the digits that tell small sizes apart (0.0123 MB, not 0.0).
func megabytes(b int64) string {
	mb := float64(b) / 1e6
	if mb >= 10 {
		return fmt.Sprintf("%.0f MB", mb)
	}
	return fmt.Sprintf("%.3g MB", mb)
}

// Positions is the number of query positions captured so far.
func (c *AttentionCapture) Positions() int {
	if len(c.Probs) == 0 || len(c.Probs[0]) == 0 {
		return 0
	}
	return len(c.Probs[0][0])
}

// Dense returns the capture as one float32 array [layers][heads][positions][positions] with zeros above
// the diagonal (future keys), the layout of attention.npy.
func (c *AttentionCapture) Dense() (shape []int, data []float32) {
	n := c.Positions()
	shape = []int{len(c.Layers), len(c.Heads), n, n}
	data = make([]float32, len(c.Layers)*len(c.Heads)*n*n)
	for l := range c.Probs {
		for h := range c.Probs[l] {
			base := (l*len(c.Heads) + h) * n * n
			for q, row := range c.Probs[l][h] {
				copy(data[base+q*n:], row)
			}
		}
	}
	return shape, data
}

// CaptureBytes estimates the memory a capture of positions query positions takes (the dense form).
func CaptureBytes(layers, heads, positions int) int64 {
	return int64(layers) * int64(heads) * int64(positions) * int64(positions) * 4
}

// resolve validates the spec against the model and fills in defaults.
func (spec CaptureSpec) resolve(c *Model) (layers, heads []int, err error) {
	pick := func(sel []int, n int, what string) ([]int, error) {
		if len(sel) == 0 {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out, nil
		}
		seen := map[int]bool{}
		var out []int
		for _, v := range sel {
			if v < 0 || v >= n {
				return nil, fmt.Errorf("%s %d does not exist: the model has %ss 0 to %d", what, v, what, n-1)
			}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		sort.Ints(out)
		return out, nil
	}
	if layers, err = pick(spec.Layers, c.Config.BlockCount, "layer"); err != nil {
		return nil, nil, err
	}
	heads, err = pick(spec.Heads, c.Config.HeadCount, "head")
	return layers, heads, err
}

// StartCapture makes the session record attention for the positions it evaluates from now on, up to
// positions more tokens. It refuses when the estimate exceeds spec.MaxBytes, saying what would fit.
func (s *Session) StartCapture(spec CaptureSpec, positions int) (*AttentionCapture, error) {
	layers, heads, err := spec.resolve(s.r.m)
	if err != nil {
		return nil, err
	}
	if need := CaptureBytes(len(layers), len(heads), s.Pos()+positions); spec.MaxBytes > 0 && need > spec.MaxBytes {
		return nil, fmt.Errorf("capturing %d layers × %d heads × %d² positions needs %s, more than the limit of %s: "+
			"choose fewer layers (--layers) or heads (--heads), a shorter prompt or fewer generated tokens, or raise --capture-max-mb",
			len(layers), len(heads), s.Pos()+positions, megabytes(need), megabytes(spec.MaxBytes))
	}
	c := &AttentionCapture{Layers: layers, Heads: heads, Probs: make([][][][]float32, len(layers))}
	c.layerIdx = indexOf(layers, s.r.m.Config.BlockCount)
	c.headIdx = indexOf(heads, s.r.m.Config.HeadCount)
	for l := range c.Probs {
		c.Probs[l] = make([][][]float32, len(heads))
	}
	// Rows of positions evaluated before the capture started stay empty (nil).
	for l := range c.Probs {
		for h := range c.Probs[l] {
			c.Probs[l][h] = make([][]float32, s.Pos())
		}
	}
	s.Capture = func(layer int, pos []int32) [][][]float32 {
		li := c.layerIdx[layer]
		if li < 0 {
			return nil
		}
		dst := make([][][]float32, s.r.m.Config.HeadCount)
		for h, hi := range c.headIdx {
			if hi < 0 {
				continue
			}
			rows := make([][]float32, len(pos))
			for t, p := range pos {
				rows[t] = make([]float32, p+1)
			}
			c.Probs[li][hi] = append(c.Probs[li][hi], rows...)
			dst[h] = rows
		}
		return dst
	}
	return c, nil
}

// StopCapture stops recording; the capture keeps what it has.
func (s *Session) StopCapture() { s.Capture = nil }

func indexOf(sel []int, n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = -1
	}
	for i, v := range sel {
		idx[v] = i
	}
	return idx
}
