package cpu

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadAll: the read probe sees every byte (its fold is the XOR of all 8-byte words and tail bytes).
func TestReadAll(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 5, 128, 256, 1000, 4096 + 77, 1 << 16} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		var want uint64
		w := n &^ 255
		for i := 0; i+8 <= w; i += 8 {
			var x uint64
			for j := range 8 {
				x |= uint64(p[i+j]) << (8 * j)
			}
			want ^= x
		}
		for _, b := range p[w:] {
			want ^= uint64(b)
		}
		require.Equal(t, want, readAll(p), "n=%d", n)
	}
}

// BenchmarkReadBandwidth streams 512 MiB (far larger than the caches) with the pool's threads (GOMAXPROCS:
// set it with -cpu): the machine's read bandwidth, the ceiling of decoding, which reads every weight once
// per token. bench/compare.sh runs it beside the engines and quotes decode speed as a fraction of it. The
// buffer sits on huge pages where the system allows them, as the packed weights do (2-core AMD EPYC, two
// runs each: 30.9/31.2 → 31.8/31.9 GB/s). On these shared machines the bandwidth a core gets moves by
// half within minutes (a scratch probe of 4 streams per thread read 33–54 GB/s over a few runs), so an
// engine measured a minute later can decode above the probe's figure.
func BenchmarkReadBandwidth(b *testing.B) {
	const size = 512 << 20
	buf := packedBytes(size) // on huge pages where the system has them, as the packed weights are
	for i := range buf {     // touched, so the pages exist
		buf[i] = byte(i)
	}
	p := NewPool(runtime.GOMAXPROCS(0))
	defer p.Close()
	sums := make([]uint64, p.Threads())
	const chunk = 1 << 20
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.For(size/chunk, 1, func(lo, hi, w int) {
			sums[w] ^= readAll(buf[lo*chunk : hi*chunk])
		})
	}
}
