package cpu

import (
	"math"
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
