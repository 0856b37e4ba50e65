//go:build cuda || cudaemu

package cuda

// The elementwise operations: RMS normalization, SwiGLU and the residual addition.

import (
	"github.com/llamago/llamago/engine"
)

func (b *Backend) RMSNorm(dst, x engine.Buffer, w engine.Weight, n int, eps float32) error {
	wt := w.(*weight)
	return b.do(func() error {
		return launch(b, "rmsnorm_f32", n, 256, 0, rmsnormArgs{Dst: dp(dst), X: dp(x), W: wt.p, Dim: wt.cols, Eps: float64(eps)})
	})
}

func (b *Backend) SwiGLU(dst, gate, up engine.Buffer, n int) error {
	return b.do(func() error {
		return launch(b, "swiglu_f32", (n+255)/256, 256, 0, swigluArgs{Dst: dp(dst), Gate: dp(gate), Up: dp(up), N: n})
	})
}

func (b *Backend) Add(dst, x engine.Buffer, n int) error {
	return b.do(func() error { return launch(b, "add_f32", (n+255)/256, 256, 0, addArgs{Dst: dp(dst), X: dp(x), N: n}) })
}
