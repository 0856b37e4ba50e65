package cpu

import (
	"math"

	"github.com/llamago/llamago/gguf"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDotAXPY compares the selected float kernels with the portable loops for lengths around the vector
// widths, and checks AXPY writes nothing past len(dst) (guard values after the end stay untouched).
func TestDotAXPY(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 64, 100, 1000} {
		a, b := randRow(r, n, 1), randRow(r, n, 1)
		var want float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
		}
		require.InDelta(t, want, Dot(a, b), 1e-5*(1+math.Sqrt(float64(n))), "Dot n=%d", n)
		require.InDelta(t, dotGo(a, b), Dot(a, b), 1e-5*(1+math.Sqrt(float64(n))), "n=%d", n)

		buf := make([]float32, n+8)
		for i := range buf {
			buf[i] = float32(i)
		}
		AXPY(buf[:n], 0.5, b)
		for i := 0; i < n; i++ {
			require.InDelta(t, float32(i)+0.5*b[i], buf[i], 1e-6)
		}
		for i := n; i < n+8; i++ {
			require.Equal(t, float32(i), buf[i], "guard %d overwritten", i)
		}
	}
}

// TestWidenRow: the SIMD F16/BF16 widening equals the reference dequantizer bit for bit (including
// infinities, NaN payload aside, subnormals and negative zero).
func TestWidenRow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
		src := make([]byte, 2*64)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		copy(src, []byte{0x00, 0x80, 0x01, 0x00, 0x00, 0x7c, 0x00, 0xfc}) // −0, smallest subnormal, +Inf, −Inf
		want := make([]float32, 64)
		require.NoError(t, gguf.Dequantize(typ, src, want))
		got := make([]float32, 64)
		if !widenRow(typ, src, got) {
			t.Skipf("no SIMD widening on this build (%s)", Kernels())
		}
		for i := range want {
			if math.IsNaN(float64(want[i])) {
				require.True(t, math.IsNaN(float64(got[i])), "%s value %d", typ, i)
				continue
			}
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s value %d", typ, i)
		}
	}
}
