package cpu

import "math"

// RopeTable holds cos/sin of the rotary embedding for positions [0, n) and the first dims/2 pairs.
// θ(p, i) = p · freqScale · base^(−2i/dims) / factor[i], computed in float64.
type RopeTable struct {
	Dims     int
	cos, sin []float32 // [pos][dims/2]
}

// NewRopeTable precomputes the table; factors (LLaMA 3.1 rope_freqs) may be nil.
func NewRopeTable(positions, dims int, base, freqScale float64, factors []float32) *RopeTable {
	half := dims / 2
	t := &RopeTable{Dims: dims, cos: make([]float32, positions*half), sin: make([]float32, positions*half)}
	inv := make([]float64, half)
	for i := range inv {
		inv[i] = freqScale * math.Pow(base, -2*float64(i)/float64(dims))
		if factors != nil {
			inv[i] /= float64(factors[i])
		}
	}
	for p := 0; p < positions; p++ {
		for i := 0; i < half; i++ {
			s, c := math.Sincos(float64(p) * inv[i])
			t.cos[p*half+i], t.sin[p*half+i] = float32(c), float32(s)
		}
	}
	return t
}

// Positions is how many positions the table covers.
func (t *RopeTable) Positions() int { return len(t.cos) / max(1, t.Dims/2) }

// Apply rotates, in every head of x (heads × headDim), the pairs (x[2i], x[2i+1]) for i < Dims/2
// by θ(pos, i) — llama.cpp's "normal" RoPE mode. Dimensions past Dims are left as they are.
func (t *RopeTable) Apply(x []float32, heads, headDim, pos int) {
	half := t.Dims / 2
	cs, sn := t.cos[pos*half:(pos+1)*half], t.sin[pos*half:(pos+1)*half]
	for h := 0; h < heads; h++ {
		v := x[h*headDim : h*headDim+t.Dims]
		for i := 0; i < half; i++ {
			a, b := v[2*i], v[2*i+1]
			v[2*i] = a*cs[i] - b*sn[i]
			v[2*i+1] = a*sn[i] + b*cs[i]
		}
	}
}
