// Package enginetest is the backend conformance suite: every operation of an engine.Backend is run on
// random inputs of several shapes and compared with a float64 scalar reference by normalized mean squared
// error (NMSE = Σ(got−want)²/Σwant²), with a threshold per operation; a NaN or Inf fails. The CPU backend
// runs it in its tests, the CUDA backend on a GPU machine.
package enginetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
)

// Case is one operation on one shape.
type Case struct {
	Name      string
	Threshold float64
	Run       func(b engine.Backend, r *rand.Rand) (got []float32, want []float64, err error)
	Weights   []gguf.Type // weight types the case loads
	KV        gguf.Type   // the element type of the KV cache the case makes (F32 unless said)
}

// Run runs every case of Cases against b as subtests.
func Run(t *testing.T, b engine.Backend) { RunMatching(t, b, "") }

// RunMatching runs the cases of Cases whose name contains part (every case for ""): a backend with
// several kernels for one operation runs that operation's cases once for each.
func RunMatching(t *testing.T, b engine.Backend, part string) {
	for _, c := range Cases() {
		if !strings.Contains(c.Name, part) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			if ts, ok := b.(engine.TypeSupporter); ok { // skip the cases that need the others
				for _, typ := range c.Weights {
					if !ts.SupportsType(typ) {
						t.Skipf("%s has no %s kernels", b.Name(), typ)
					}
				}
			}
			if !engine.SupportsKVType(b, c.KV) {
				t.Skipf("%s keeps no KV cache of %s", b.Name(), c.KV)
			}
			r := rand.New(rand.NewPCG(42, uint64(len(c.Name))))
			got, want, err := c.Run(b, r)
			if err != nil {
				t.Fatal(err)
			}
			e, err := NMSE(got, want)
			if err != nil {
				t.Fatal(err)
			}
			if e > c.Threshold {
				t.Fatalf("NMSE %.3g exceeds %.3g", e, c.Threshold)
			}
			t.Logf("NMSE %.3g (threshold %.3g)", e, c.Threshold)
		})
		if h, ok := b.(Healthier); ok {
			if err := h.Healthy(); err != nil {
				t.Fatalf("after case %s: %v (the remaining cases are not run: they would fail the same way)", c.Name, err)
			}
		}
	}
}

// Healthier is a backend that can tell whether it is still usable after a case: on a GPU a kernel's fault
// poisons the context, and every later case would fail with the same error, burying the first failure.
type Healthier interface{ Healthy() error }

// NMSE compares got with want; a non-finite value or a length mismatch is an error.
func NMSE(got []float32, want []float64) (float64, error) {
	if len(got) != len(want) {
		return 0, fmt.Errorf("got %d values, want %d", len(got), len(want))
	}
	var num, den float64
	for i, g := range got {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			return 0, fmt.Errorf("value %d is %v", i, g)
		}
		d := float64(g) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return num, nil
	}
	return num / den, nil
}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

func upload(b engine.Backend, v []float32) (engine.Buffer, error) {
	buf, err := b.Alloc(len(v))
	if err != nil {
		return nil, err
	}
	return buf, engine.Write(b, buf, v)
}

func read(b engine.Backend, buf engine.Buffer, n int) ([]float32, error) {
	out := make([]float32, n)
	return out, b.Read(out, buf, 0)
}

// weight quantizes a random rows×cols matrix to typ and returns the backend weight and its exact
// dequantized values (the reference works on what the file holds, not on the float data before rounding).
func weight(b engine.Backend, r *rand.Rand, typ gguf.Type, rows, cols int) (engine.Weight, []float32, error) {
	x := randVec(r, rows*cols, 1/math.Sqrt(float64(cols)))
	data := make([]byte, typ.RowBytes(cols)*rows)
	if err := gguf.Quantize(typ, x, data); err != nil {
		return nil, nil, err
	}
	deq := make([]float32, rows*cols)
	if err := gguf.Dequantize(typ, data, deq); err != nil {
		return nil, nil, err
	}
	w, err := b.LoadWeight(fmt.Sprintf("test.%s", typ), typ, rows, cols, data)
	return w, deq, err
}

// Cases lists the conformance cases.
func Cases() []Case {
	var cs []Case
	types := []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1,
		gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
		gguf.TypeIQ4_NL, gguf.TypeIQ4_XS}
	type matCase struct {
		typ           gguf.Type
		rows, cols, n int
		amp           float64 // the activations' magnitude (1 unless set)
	}
	var mats []matCase
	for _, typ := range types {
		for _, sh := range [][3]int{{256, 256, 1}, {512, 1024, 1}, {301, 512, 1}, {300, 512, 8}, {64, 2048, 3}, {1000, 256, 33}} {
			mats = append(mats, matCase{typ, sh[0], sh[1], sh[2], 1})
		}
	}
	// Float weights may have rows of any length (stories260K's feed-forward is 172 wide).
	mats = append(mats, matCase{gguf.TypeF32, 64, 172, 3, 1}, matCase{gguf.TypeF16, 64, 172, 9, 1})
	// Activations far beyond f16's range (65504), as a kernel that rounds them to f16 must scale them.
	mats = append(mats, matCase{gguf.TypeQ4_0, 128, 512, 40, 1e6}, matCase{gguf.TypeF16, 64, 256, 33, 3e5})
	for _, mc := range mats {
		{
			typ, rows, cols, n, amp := mc.typ, mc.rows, mc.cols, mc.n, mc.amp
			name := fmt.Sprintf("MatMul(type=%s,rows=%d,cols=%d,n=%d)", typ, rows, cols, n)
			if amp != 1 {
				name = fmt.Sprintf("MatMul(type=%s,rows=%d,cols=%d,n=%d,|x|≤%g)", typ, rows, cols, n, amp)
			}
			cs = append(cs, Case{
				Name:      name,
				Threshold: matmulThreshold(typ),
				Weights:   []gguf.Type{typ},
				Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
					w, deq, err := weight(b, r, typ, rows, cols)
					if err != nil {
						return nil, nil, err
					}
					x := randVec(r, n*cols, amp)
					xb, err := upload(b, x)
					if err != nil {
						return nil, nil, err
					}
					dst, err := b.Alloc(n * rows)
					if err != nil {
						return nil, nil, err
					}
					if err := b.MatMul(dst, w, xb, n); err != nil {
						return nil, nil, err
					}
					got, err := read(b, dst, n*rows)
					return got, matVecRef(deq, x, rows, cols, n), err
				},
			})
		}
	}
	// MatMuls (engine.MultiMatMuler, when the backend has it): three weights of one type and different row counts,
	// nine tokens (a device may take eight at a time), and a mixed-type set the backend cannot fuse.
	for _, set := range [][]gguf.Type{{gguf.TypeQ4_0, gguf.TypeQ4_0, gguf.TypeQ4_0}, {gguf.TypeQ4_K, gguf.TypeQ4_K, gguf.TypeQ6_K}, {gguf.TypeF16, gguf.TypeF16}} {
		set := set
		cs = append(cs, Case{Name: fmt.Sprintf("MatMuls(types=%v,n=9)", set), Threshold: matmulThreshold(set[len(set)-1]), Weights: set,
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				const cols, n = 512, 9
				var ws []engine.Weight
				var dsts []engine.Buffer
				var deqs [][]float32
				for i, typ := range set {
					rows := 63 + 40*i // odd: a device's warps of several rows straddle the weights and the end
					w, deq, err := weight(b, r, typ, rows, cols)
					if err != nil {
						return nil, nil, err
					}
					d, err := b.Alloc(n * rows)
					if err != nil {
						return nil, nil, err
					}
					ws, dsts, deqs = append(ws, w), append(dsts, d), append(deqs, deq)
				}
				x := randVec(r, n*cols, 1)
				xb, err := upload(b, x)
				if err != nil {
					return nil, nil, err
				}
				if err := engine.MatMuls(b, dsts, ws, xb, n); err != nil {
					return nil, nil, err
				}
				var got []float32
				var want []float64
				for i, w := range ws {
					rows, _ := w.Shape()
					g, err := read(b, dsts[i], n*rows)
					if err != nil {
						return nil, nil, err
					}
					got = append(got, g...)
					want = append(want, matVecRef(deqs[i], x, rows, cols, n)...)
				}
				return got, want, nil
			}})
	}
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		typ := typ
		cs = append(cs, Case{Name: fmt.Sprintf("Embed(type=%s,vocab=100,dim=512)", typ), Threshold: 1e-12, Weights: []gguf.Type{typ},
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				w, deq, err := weight(b, r, typ, 100, 512)
				if err != nil {
					return nil, nil, err
				}
				ids := []int32{0, 99, 7, 7, 42}
				dst, _ := b.Alloc(len(ids) * 512)
				if err := b.Embed(dst, w, ids); err != nil {
					return nil, nil, err
				}
				got, err := read(b, dst, len(ids)*512)
				want := make([]float64, 0, len(ids)*512)
				for _, id := range ids {
					for _, v := range deq[int(id)*512 : int(id+1)*512] {
						want = append(want, float64(v))
					}
				}
				return got, want, err
			}})
	}
	for _, dim := range []int{64, 4096, 5000} {
		dim := dim
		cs = append(cs, Case{Name: fmt.Sprintf("RMSNorm(dim=%d,n=3)", dim), Threshold: 1e-12,
			Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
				const n, eps = 3, 1e-5
				wv := randVec(r, dim, 1)
				w, err := b.LoadWeight("norm", gguf.TypeF32, 1, dim, f32bytes(wv))
				if err != nil {
					return nil, nil, err
				}
				x := randVec(r, n*dim, 3)
				xb, _ := upload(b, x)
				dst, _ := b.Alloc(n * dim)
				if err := b.RMSNorm(dst, xb, w, n, eps); err != nil {
					return nil, nil, err
				}
				got, err := read(b, dst, n*dim)
				want := make([]float64, n*dim)
				for t := 0; t < n; t++ {
					var ss float64
					for _, v := range x[t*dim : (t+1)*dim] {
						ss += float64(v) * float64(v)
					}
					s := 1 / math.Sqrt(ss/float64(dim)+eps)
					for i := 0; i < dim; i++ {
						want[t*dim+i] = float64(x[t*dim+i]) * s * float64(wv[i])
					}
				}
				return got, want, err
			}})
	}
	cs = append(cs, fusedCases()...)
	cs = append(cs, ropeCases()...)
	cs = append(cs, attentionCases()...)
	cs = append(cs, Case{Name: "SwiGLU(n=5000)", Threshold: 1e-12, Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
		g, u := randVec(r, 5000, 3), randVec(r, 5000, 1)
		gb, _ := upload(b, g)
		ub, _ := upload(b, u)
		dst, _ := b.Alloc(5000)
		if err := b.SwiGLU(dst, gb, ub, 5000); err != nil {
			return nil, nil, err
		}
		got, err := read(b, dst, 5000)
		want := make([]float64, 5000)
		for i := range want {
			x := float64(g[i])
			want[i] = x / (1 + math.Exp(-x)) * float64(u[i])
		}
		return got, want, err
	}}, Case{Name: "Add+View(n=5000)", Threshold: 0, Run: func(b engine.Backend, r *rand.Rand) ([]float32, []float64, error) {
		a, x := randVec(r, 5000, 1), randVec(r, 5000, 1)
		ab, _ := upload(b, a)
		xb, _ := upload(b, x)
		// Add into the second half through a view; the first half must stay as it was.
		if err := b.Add(b.View(ab, 2500, 2500), b.View(xb, 2500, 2500), 2500); err != nil {
			return nil, nil, err
		}
		got, err := read(b, ab, 5000)
		want := make([]float64, 5000)
		for i := range want {
			want[i] = float64(a[i])
			if i >= 2500 {
				want[i] = float64(a[i] + x[i])
			}
		}
		return got, want, err
	}})
	return cs
}

// matVecRef is w·x in float64 for n tokens: [t][row].
func matVecRef(deq, x []float32, rows, cols, n int) []float64 {
	out := make([]float64, n*rows)
	for t := 0; t < n; t++ {
		for i := 0; i < rows; i++ {
			var s float64
			for c := 0; c < cols; c++ {
				s += float64(deq[i*cols+c]) * float64(x[t*cols+c])
			}
			out[t*rows+i] = s
		}
	}
	return out
}

func matmulThreshold(t gguf.Type) float64 {
	// The reference uses the exactly dequantized weights, so only the kernel's arithmetic differs. The CPU
	// backend measures 5e-15 to 4e-10 here (the larger with 16-bit activations); the quantized thresholds leave
	// room for kernels that round activations to 8 bits as llama.cpp does.
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		return 1e-6
	}
	return 5e-4
}

func f32bytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	_ = gguf.Quantize(gguf.TypeF32, v, out) // the F32 "quantizer" is the little-endian encoding; sizes match
	return out
}
