package cpu

import "github.com/llamago/llamago/gguf"

// Prompt-sized products with float weights (F32, F16, BF16): the same 16-row × gemmT-token register tiles as
// gemm.go, in float32 with fused multiply-adds. A strip holds 16 rows widened to float32 and transposed
// ([cols][16]: one vector load reads one column of the 16 rows); the activations of a token group are
// transposed the same way ([cols][gemmT]) so that each multiply-add broadcasts one token's value.

// canGemmFloat reports whether MatMul takes the float tile path for n tokens of weight type t.
func canGemmFloat(t gguf.Type, n int) bool {
	return (useAVX512 || useAVX2) && n >= gemmMinTokens && (t == gguf.TypeF32 || t == gguf.TypeF16 || t == gguf.TypeBF16)
}

// actF holds n activation rows transposed per group of gemmT tokens ([groups][cols][gemmT], zero-padded).
type actF struct {
	n, cols int
	x       []float32
}

func (a *actF) groups() int { return (a.n + gemmT - 1) / gemmT }

// transposeActivations lays x (n rows of cols) out in the pool's actF buffer.
func transposeActivations(p *Pool, x []float32, n, cols int) *actF {
	a := &p.af
	a.n, a.cols = n, cols
	size := a.groups() * cols * gemmT
	if cap(a.x) < size {
		a.x = make([]float32, size)
	}
	a.x = a.x[:size]
	p.tasks.transpose = transposeTask{a: a, x: x}
	p.For(a.groups(), 1, p.tasks.transposeFn)
	return a
}

type transposeTask struct {
	a *actF
	x []float32
}

func (tt *transposeTask) run(lo, hi, _ int) {
	a, x, n, cols := tt.a, tt.x, tt.a.n, tt.a.cols
	for g := lo; g < hi; g++ {
		dst := a.x[g*cols*gemmT : (g+1)*cols*gemmT]
		for t := 0; t < gemmT; t++ {
			if g*gemmT+t >= n {
				for c := 0; c < cols; c++ {
					dst[c*gemmT+t] = 0
				}
				continue
			}
			src := x[(g*gemmT+t)*cols : (g*gemmT+t+1)*cols]
			for c, v := range src {
				dst[c*gemmT+t] = v
			}
		}
	}
}

// stripF fills st (cols·16 floats) with rows r0…r0+15 of w transposed, zeros past the last row; row is
// scratch of cols floats.
func stripF(w *Weight, r0 int, st, row []float32) {
	cols := w.Cols
	for r := 0; r < gemmRows; r++ {
		if r0+r >= w.Rows {
			for c := 0; c < cols; c++ {
				st[c*gemmRows+r] = 0
			}
			continue
		}
		w.Row(r0+r, row)
		for c, v := range row[:cols] {
			st[c*gemmRows+r] = v
		}
	}
}

// gemmFloat computes dst[t][r] = Σ_c w[r][c]·x[t][c] strip by strip with kernel.
func gemmFloat(p *Pool, dst []float32, w *Weight, a *actF, kernel gemmFKernel) {
	p.tasks.gemmF = gemmFTask{p: p, dst: dst, w: w, a: a, kernel: kernel}
	p.For((w.Rows+gemmRows-1)/gemmRows, 1, p.tasks.gemmFFn)
}

type gemmFTask struct {
	p      *Pool
	dst    []float32
	w      *Weight
	a      *actF
	kernel gemmFKernel
}

func (gt *gemmFTask) run(lo, hi, worker int) {
	dst, w, a, kernel := gt.dst, gt.w, gt.a, gt.kernel
	rows, cols, n := w.Rows, w.Cols, a.n
	buf := gt.p.Scratch(worker, cols*(gemmRows+1))
	st, row := buf[:cols*gemmRows], buf[cols*gemmRows:]
	var out [gemmT * gemmRows]float32
	for s := lo; s < hi; s++ {
		r0 := s * gemmRows
		stripF(w, r0, st, row)
		for g := 0; g < a.groups(); g++ {
			x := a.x[g*cols*gemmT : (g+1)*cols*gemmT]
			storeTile(dst, rows, n, r0, g, &out, func(o []float32, ostride int) { kernel(st, x, cols, o, ostride) })
		}
	}
}

// gemmFKernel computes out[t·ostride + r] = Σ_c st[c·16 + r]·x[c·gemmT + t] for t < gemmT, r < 16.
type gemmFKernel func(st, x []float32, cols int, out []float32, ostride int)

// gemmFKernelGo is the portable loop of the float kernel.
func gemmFKernelGo(st, x []float32, cols int, out []float32, ostride int) {
	var acc [gemmT][gemmRows]float32
	for c := 0; c < cols; c++ {
		wc := st[c*gemmRows : (c+1)*gemmRows]
		for t := 0; t < gemmT; t++ {
			xv := x[c*gemmT+t]
			for r, wv := range wc {
				acc[t][r] += wv * xv
			}
		}
	}
	for t := range acc {
		copy(out[t*ostride:t*ostride+gemmRows], acc[t][:])
	}
}
