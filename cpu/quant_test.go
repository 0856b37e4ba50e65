package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

func q16row(n int) *Q16Row {
	return &Q16Row{Q: make([]int16, n), D: make([]float32, n/32), S: make([]int32, n/32)}
}

func randRow(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func quantRow(t testing.TB, typ gguf.Type, x []float32) []byte {
	q := make([]byte, typ.RowBytes(len(x)))
	require.NoError(t, gguf.Quantize(typ, x, q))
	return q
}

// TestQ16DotKernels checks the selected kernels (assembly where available) against the reference loops,
// and the reference loops against a float64 dot product of the dequantized weights and the exact
// activations, for many block counts, one row and four rows at a time, with 16-bit and 8-bit activations.
func TestQ16DotKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []int{16, 8} {
		quantize := QuantizeRowQ16
		if bits == 8 {
			quantize = QuantizeRowQ8_0
		}
		t.Run(fmt.Sprintf("bits=%d", bits), func(t *testing.T) { testQ16DotKernels(t, r, bits, quantize) })
	}
}

func testQ16DotKernels(t *testing.T, r *rand.Rand, bits int, quantize func([]float32, *Q16Row)) {
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0} {
		for _, nb := range []int{1, 2, 3, 7, 8, 64, 65} {
			rb := typ.RowBytes(nb * 32)
			w := randRow(r, 4*nb*32, 1)
			wq := quantRow(t, typ, w)
			wd := make([]float32, len(w))
			require.NoError(t, gguf.Dequantize(typ, wq, wd))
			x := randRow(r, nb*32, 3)
			xq := q16row(len(x))
			quantize(x, xq)
			var four, pair [4]float32
			has4 := dot4(typ, wq, rb, xq, nb, &four)
			x2 := randRow(r, nb*32, 1)
			xq2 := q16row(len(x2))
			quantize(x2, xq2)
			if dot2x2(typ, wq, rb, xq, xq2, nb, &pair) {
				for row := 0; row < 2; row++ {
					wr := wq[row*rb : (row+1)*rb]
					refA, refB := dotQ4_0Q16Go(wr, xq, nb), dotQ4_0Q16Go(wr, xq2, nb)
					if typ == gguf.TypeQ8_0 {
						refA, refB = dotQ8_0Q16Go(wr, xq, nb), dotQ8_0Q16Go(wr, xq2, nb)
					}
					require.InDelta(t, refA, pair[2*row], 1e-5*(1+math.Abs(float64(refA))), "%s nb=%d 2x2 row %d token A", typ, nb, row)
					require.InDelta(t, refB, pair[2*row+1], 1e-5*(1+math.Abs(float64(refB))), "%s nb=%d 2x2 row %d token B", typ, nb, row)
				}
			}
			for row := 0; row < 4; row++ {
				var exact float64
				for i := range x {
					exact += float64(wd[row*nb*32+i]) * float64(x[i])
				}
				wr := wq[row*rb : (row+1)*rb]
				ref, got := dotQ4_0Q16Go(wr, xq, nb), DotQ4_0Q16(wr, xq, nb)
				if typ == gguf.TypeQ8_0 {
					ref, got = dotQ8_0Q16Go(wr, xq, nb), DotQ8_0Q16(wr, xq, nb)
				}
				// 16-bit activations: each value is off by at most max|x|/65534 (~1.4e-4 here), randomly signed;
				// 8-bit ones by max|x|/254 (~0.04).
				tol := 2e-4 * math.Sqrt(float64(nb*32))
				if bits == 8 {
					tol = 0.05 * math.Sqrt(float64(nb*32))
				}
				require.InDelta(t, exact, ref, tol, "%s nb=%d reference vs exact", typ, nb)
				require.InDelta(t, ref, got, 1e-5*(1+math.Abs(float64(ref))), "%s nb=%d kernel (%s)", typ, nb, Kernels())
				if has4 {
					require.InDelta(t, ref, four[row], 1e-5*(1+math.Abs(float64(ref))), "%s nb=%d four-row kernel row %d", typ, nb, row)
				}
				var portable [4]float32
				require.True(t, dot4Go(typ, wq, rb, xq, nb, &portable))
				require.Equal(t, ref, portable[row], "%s nb=%d portable four-row loop row %d", typ, nb, row)
			}
		}
	}
}

// TestKQuantDots checks the Q4_K and Q6_K kernels (assembly where available) against their reference
// loops, and the loops against a float64 product of the dequantized weights with the exact activations.
func TestKQuantDots(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kernels := map[gguf.Type][2]func([]byte, *Q16Row, int) float32{
		gguf.TypeQ4_K: {dotQ4_KQ16Go, DotQ4_KQ16},
		gguf.TypeQ6_K: {dotQ6_KQ16Go, DotQ6_KQ16},
	}
	for typ, k := range kernels {
		for _, nsb := range []int{1, 2, 5, 8, 22} {
			w := randRow(r, nsb*256, 1)
			for i := range w {
				w[i] += 0.3 // an offset so Q4_K's mins matter
			}
			wq := quantRow(t, typ, w)
			wd := make([]float32, len(w))
			require.NoError(t, gguf.Dequantize(typ, wq, wd))
			x := randRow(r, nsb*256, 2)
			xq := q16row(len(x))
			QuantizeRowQ16(x, xq)
			var exact float64
			for i := range x {
				exact += float64(wd[i]) * float64(x[i])
			}
			ref, got := k[0](wq, xq, nsb), k[1](wq, xq, nsb)
			x2 := randRow(r, nsb*256, 1)
			xq2 := q16row(len(x2))
			QuantizeRowQ16(x2, xq2)
			var two [2]float32
			if dot1x2(typ, wq, xq, xq2, nsb, &two) {
				refB := k[0](wq, xq2, nsb)
				require.InDelta(t, ref, two[0], 1e-4*(1+math.Abs(float64(ref))), "%s nsb=%d two-token kernel, token A", typ, nsb)
				require.InDelta(t, refB, two[1], 1e-4*(1+math.Abs(float64(refB))), "%s nsb=%d two-token kernel, token B", typ, nsb)
			}
			require.InDelta(t, exact, ref, 2e-4*math.Sqrt(float64(nsb*256)), "%s nsb=%d reference vs exact", typ, nsb)
			require.InDelta(t, ref, got, 1e-4*(1+math.Abs(float64(ref))), "%s nsb=%d kernel (%s)", typ, nsb, Kernels())
			// The portable four-row loop (what arm64 runs), on four different rows, equals the one-row loop.
			rb := len(wq)
			w4 := append(append([]byte{}, wq...), quantRow(t, typ, randRow(r, 3*nsb*256, 1))...)
			var four [4]float32
			if dot4Go(typ, w4, rb, xq, nsb, &four) {
				for row := 0; row < 4; row++ {
					require.Equal(t, k[0](w4[row*rb:(row+1)*rb], xq, nsb), four[row], "%s nsb=%d four-row loop, row %d", typ, nsb, row)
				}
			}
		}
	}
}

// TestKQuantDots8 checks the k-quant four-row kernels on 8-bit activations (llama.cpp's Q8_K rounding), or
// the one-row kernels where a CPU has no four-row one, against the reference loops, row by row, and the
// rounding against the exact activations.
func TestKQuantDots8(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ref := map[gguf.Type]func([]byte, *Q16Row, int) float32{gguf.TypeQ4_K: dotQ4_KQ16Go, gguf.TypeQ6_K: dotQ6_KQ16Go}
	one := map[gguf.Type]func([]byte, *Q16Row, int) float32{gguf.TypeQ4_K: DotQ4_KQ16, gguf.TypeQ6_K: DotQ6_KQ16}
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, nsb := range []int{1, 2, 5, 8, 22} {
			w := randRow(r, 4*nsb*256, 1)
			for i := range w {
				w[i] += 0.3
			}
			wq := quantRow(t, typ, w)
			x := randRow(r, nsb*256, 2)
			x[3] = -9 // the value of largest magnitude is negative: Q8_K's scale is then positive
			xq := q16row(len(x))
			QuantizeRowQ8_K(x, xq)
			require.True(t, xq.Narrow)
			for b := range nsb * 8 {
				for k := b * 32; k < b*32+32; k++ {
					require.InDelta(t, x[k], xq.D[b]*float32(xq.Q[k]), math.Abs(float64(xq.D[b]))/2*1.0001)
				}
			}
			// The kernels take any 8-bit row, also one whose blocks of 32 have scales of their own (Q8_0's).
			x0 := q16row(len(x))
			QuantizeRowQ8_0(x, x0)
			rb := len(wq) / 4
			for _, xr := range []*Q16Row{xq, x0} {
				var four [4]float32
				has4 := dot4(typ, wq, rb, xr, nsb, &four) // else the one-row kernels, row by row
				for row := 0; row < 4; row++ {
					wr := wq[row*rb : (row+1)*rb]
					want, got := ref[typ](wr, xr, nsb), four[row]
					if !has4 {
						got = one[typ](wr, xr, nsb)
					}
					require.InDelta(t, want, got, 1e-4*(1+math.Abs(float64(want))), "%s nsb=%d row %d (%s, four rows: %v)", typ, nsb, row, Kernels(), has4)
				}
			}
		}
	}
}

// TestQ16DotExtremes: full-range codes (Q8_0 −128…127, Q4_0 nibbles 0…15) and activations ±32767 stay exact.
func TestQ16DotExtremes(t *testing.T) {
	const nb = 4
	w := make([]byte, nb*34)
	x := q16row(nb * 32)
	for b := 0; b < nb; b++ {
		w[b*34], w[b*34+1] = 0x00, 0x3c // d = 1.0
		x.D[b] = 1
		for j := 0; j < 32; j++ {
			w[b*34+2+j] = byte(int8(-128 + (j%2)*255)) // −128, 127, …
			x.Q[b*32+j] = int16(-32767 + (j%2)*65534)  // −32767, 32767, …
		}
	}
	want := float32(nb * 16 * (128*32767 + 127*32767))
	require.Equal(t, want, dotQ8_0Q16Go(w, x, nb))
	require.Equal(t, want, DotQ8_0Q16(w, x, nb))
	w4 := make([]byte, nb*18)
	for b := 0; b < nb; b++ {
		w4[b*18], w4[b*18+1] = 0x00, 0x3c
		for j := 0; j < 16; j++ {
			w4[b*18+2+j] = 0xF0 // low nibble 0 (−8), high 15 (7)
		}
	}
	require.Equal(t, dotQ4_0Q16Go(w4, x, nb), DotQ4_0Q16(w4, x, nb))
	// 8-bit activations at ±127 against the extreme nibbles, four rows (the VPDPBUSD kernel where there is one).
	x8 := q16row(nb * 32)
	x8.Narrow = true
	for b := 0; b < nb; b++ {
		x8.D[b] = 1
		for j := 0; j < 32; j++ {
			x8.Q[b*32+j] = int16(-127 + (j%3)*127) // −127, 0, 127, …
			x8.S[b] += int32(x8.Q[b*32+j])
		}
	}
	rows4 := append(append(append(append([]byte{}, w4...), w4...), w4...), w4...)
	var four [4]float32
	if dot4(gguf.TypeQ4_0, rows4, nb*18, x8, nb, &four) {
		want4 := dotQ4_0Q16Go(w4, x8, nb)
		require.Equal(t, [4]float32{want4, want4, want4, want4}, four, "8-bit four-row kernel (%s)", Kernels())
	}
}

// TestPoolStartsJobsImmediately posts work right after NewPool, before the workers' goroutines have
// necessarily started, many times: every range must run exactly once and For must return.
func TestPoolStartsJobsImmediately(t *testing.T) {
	for i := 0; i < 300; i++ {
		p := NewPool(3)
		hits := make([]int32, 30)
		p.For(30, 1, func(lo, hi, _ int) {
			for j := lo; j < hi; j++ {
				hits[j]++
			}
		})
		for j, h := range hits {
			require.Equal(t, int32(1), h, "index %d", j)
		}
		p.Close()
	}
}

// TestPoolWakesParkedWorkers posts jobs at gaps around the time a worker spins before it parks, so that
// jobs land while workers are going to sleep: none may be lost (a lost wake-up hangs For).
func TestPoolWakesParkedWorkers(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var sum atomic.Int64
	for i := 0; i < 400; i++ {
		p.For(3, 1, func(lo, hi, _ int) { sum.Add(int64(hi - lo)) })
		time.Sleep(time.Duration(i%9) * spinFor / 4)
	}
	require.Equal(t, int64(3*400), sum.Load())
}

// TestDot8 checks the eight-row kernel against the one-row reference loop.
func TestDot8(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range []struct {
		typ      gguf.Type
		quantize func([]float32, *Q16Row)
	}{{gguf.TypeQ8_0, QuantizeRowQ16}, {gguf.TypeQ4_0, QuantizeRowQ8_0}} { // Q4_0: the 8-bit kernel
		typ := c.typ
		for _, nb := range []int{1, 2, 3, 64, 66} {
			rb := typ.RowBytes(nb * 32)
			wq := quantRow(t, typ, randRow(r, 8*nb*32, 1))
			x := randRow(r, nb*32, 3)
			xq := q16row(len(x))
			c.quantize(x, xq)
			var eight [8]float32
			if !dot8(typ, wq, rb, xq, nb, &eight) {
				t.Logf("%s nb=%d: no eight-row kernel (%s)", typ, nb, Kernels())
				continue
			}
			for row := 0; row < 8; row++ {
				// The products are exact integers; the kernels differ from their float64 sum only by the
				// float32 rounding of partial sums, which Σ|products| bounds in any order of summation.
				ref, mag := dotBlocks64(typ, wq[row*rb:(row+1)*rb], xq, nb)
				require.InDelta(t, ref, eight[row], 4e-6*mag, "%s nb=%d row %d", typ, nb, row)
			}
		}
	}
}

// TestPoolRaisesWorkerPanics: a panic in a worker's range comes back as a panic of For on the caller's
// goroutine (where a command or server can recover it), and the pool goes on working.
func TestPoolRaisesWorkerPanics(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	got := func() (v any) {
		defer func() { v = recover() }()
		p.For(2, 1, func(lo, hi, w int) {
			if w == 1 {
				panic("boom")
			}
		})
		return nil
	}()
	require.NotNil(t, got, "For must raise the worker's panic")
	require.Contains(t, fmt.Sprint(got), "boom")
	require.Contains(t, fmt.Sprint(got), "pool worker 1")
	var sum atomic.Int64
	p.For(2, 1, func(lo, hi, _ int) { sum.Add(int64(hi - lo)) })
	require.Equal(t, int64(2), sum.Load())
}

// TestForChunks: every index runs exactly once, in ranges of whole chunks (the last may be shorter) that
// never grow as the work runs out, whichever worker takes them, also when one worker is slow; a For after it works as before, and a worker's panic is raised.
func TestForChunks(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	for _, c := range [][2]int{{1, 4}, {30, 4}, {31, 4}, {100, 7}, {5, 100}} {
		n, chunk := c[0], c[1]
		hits := make([]atomic.Int32, n)
		var bad atomic.Int32 // ranges not on the chunk grid (require cannot fail a test from a worker)
		var mu sync.Mutex
		var sizes []int // in the order the ranges start
		p.ForChunks(n, chunk, func(lo, hi, w int) {
			if lo%chunk != 0 || ((hi-lo)%chunk != 0 && hi != n) || hi-lo < min(chunk, n-lo) {
				bad.Add(1)
			}
			mu.Lock()
			sizes = append(sizes, lo, hi-lo)
			mu.Unlock()
			if w == 1 {
				time.Sleep(time.Millisecond) // a slow worker: the others take its share
			}
			for j := lo; j < hi; j++ {
				hits[j].Add(1)
			}
		})
		require.Zero(t, bad.Load(), "n=%d chunk=%d: ranges off the chunk grid", n, chunk)
		for j := range hits {
			require.Equal(t, int32(1), hits[j].Load(), "n=%d chunk=%d index %d", n, chunk, j)
		}
		byStart := map[int]int{}
		for i := 0; i < len(sizes); i += 2 {
			byStart[sizes[i]] = sizes[i+1]
		}
		for lo, prev := 0, n; lo < n; lo += byStart[lo] { // every index ran once: the ranges tile [0, n)
			require.LessOrEqual(t, byStart[lo], prev, "n=%d chunk=%d: the range at %d grew", n, chunk, lo)
			prev = byStart[lo]
		}
	}
	var sum atomic.Int64
	p.For(10, 1, func(lo, hi, _ int) { sum.Add(int64(hi - lo)) })
	require.Equal(t, int64(10), sum.Load())
	got := func() (v any) {
		defer func() { v = recover() }()
		p.ForChunks(64, 1, func(lo, hi, w int) {
			if w == 0 {
				time.Sleep(time.Millisecond) // the other workers take the rest
				return
			}
			panic("boom")
		})
		return nil
	}()
	require.Contains(t, fmt.Sprint(got), "boom")
}

// TestQuantizeRowQ8_0: the vector rounding equals the Go loop (values, fp16-rounded scales, sums) on
// random blocks, a block of zeros, one of tiny values (a subnormal fp16 scale), one of exact ties, one
// with an infinity and one whose 127/max overflows (their products infinite or NaN: values 0), and one
// with a NaN (whose scale must be NaN).
func TestQuantizeRowQ8_0(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	n := 32 * 12
	x := randRow(r, n, 3)
	for k := 32; k < 64; k++ {
		x[k] = 0
	}
	for k := 64; k < 96; k++ {
		x[k] = float32(r.NormFloat64() * 1e-6)
	}
	for k := 96; k < 128; k++ {
		x[k] = float32(k-112) + 0.5 // with the maximum 127 below, id = 1: every value is a tie
	}
	x[96] = 127
	x[200] = float32(math.NaN())
	x[8*32+5] = float32(math.Inf(1))
	for k := 9 * 32; k < 10*32; k++ {
		x[k] = float32(r.NormFloat64() * 1e-39) // 127/max overflows to +Inf
	}
	fast, ref := q16row(n), q16row(n)
	if !quantizeRowQ8_0(x, fast.Q, fast.D, fast.S) {
		t.Skipf("no vector form of the rounding here (%s): QuantizeRowQ8_0 is the Go loop", Kernels())
	}
	QuantizeRowQ8_0(x, fast)
	quantizeRowQ8_0Go(x, ref)
	require.True(t, fast.Narrow)
	for b := 0; b < n/32; b++ {
		if b == 200/32 {
			require.True(t, math.IsNaN(float64(fast.D[b])), "NaN block: d=%v", fast.D[b])
			continue
		}
		require.Equal(t, ref.D[b], fast.D[b], "block %d scale", b)
		require.Equal(t, ref.S[b], fast.S[b], "block %d sum", b)
		require.Equal(t, ref.Q[b*32:b*32+32], fast.Q[b*32:b*32+32], "block %d values (%s)", b, Kernels())
	}
	require.Zero(t, fast.D[1])
	require.Equal(t, []int16{-14, -14, -12, -12, -10}, fast.Q[97:102], "ties to even") // -14.5, -13.5, … at id 1
	require.True(t, math.IsInf(float64(fast.D[8]), 1))
	require.Equal(t, make([]int16, 64), fast.Q[8*32:10*32], "blocks with an infinite product: zeros")
}

// dotBlocks64 is a Q4_0 or Q8_0 row's product with x in float64 from the exact integer block sums, and the
// sum of the products' magnitudes (for a rounding bound).
func dotBlocks64(typ gguf.Type, w []byte, x *Q16Row, nb int) (sum, mag float64) {
	bs := typ.RowBytes(32)
	for b := 0; b < nb; b++ {
		blk := w[b*bs : (b+1)*bs]
		var isum, iabs int64
		for j := 0; j < 32; j++ {
			var v int64
			if typ == gguf.TypeQ8_0 {
				v = int64(int8(blk[2+j]))
			} else if j < 16 {
				v = int64(blk[2+j]&15) - 8
			} else {
				v = int64(blk[2+j-16]>>4) - 8
			}
			isum += v * int64(x.Q[b*32+j])
			iabs += max(v*int64(x.Q[b*32+j]), -v*int64(x.Q[b*32+j]))
		}
		scale := float64(f16[uint16(blk[0])|uint16(blk[1])<<8]) * float64(x.D[b])
		sum, mag = sum+scale*float64(isum), mag+math.Abs(scale)*float64(iabs)
	}
	return sum, mag
}

// TestQuantizeRowQ8_K: the vector rounding equals the Go loop (values, scales, sums) on random super-blocks,
// one of zeros, one whose largest magnitude appears first negative then positive (the first decides the
// sign of the scale; also within one vector of eight), one of tiny values, one with an infinity and one
// whose −127/max overflows (their products infinite or NaN: values 0), and one with a NaN (whose scales
// must be NaN).
func TestQuantizeRowQ8_K(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	n := 256 * 9
	x := randRow(r, n, 3)
	for k := 256; k < 512; k++ {
		x[k] = 0
	}
	x[512+40], x[512+200] = -20, 20 // equal magnitudes: the first (negative) is the max
	x[1280+3], x[1280+6] = 15, -15  // the same within eight values
	for k := 768; k < 1024; k++ {
		x[k] = float32(r.NormFloat64() * 1e-30)
	}
	x[1024+77] = float32(math.NaN())
	x[1792+100] = float32(math.Inf(-1))
	for k := 2048; k < 2304; k++ {
		x[k] = float32(r.NormFloat64() * 1e-39) // −127/max overflows to ∓Inf
	}
	fast, ref := q16row(n), q16row(n)
	if !quantizeRowQ8_K(x, fast.Q, fast.D, fast.S) {
		t.Skipf("no vector form of the rounding here (%s): QuantizeRowQ8_K is the Go loop", Kernels())
	}
	quantizeRowQ8_KGo(x, ref)
	for sb := 0; sb < n/256; sb++ {
		if sb == 4 {
			for b := sb * 8; b < sb*8+8; b++ {
				require.True(t, math.IsNaN(float64(fast.D[b])), "NaN super-block: d=%v", fast.D[b])
			}
			continue
		}
		require.Equal(t, ref.D[sb*8:sb*8+8], fast.D[sb*8:sb*8+8], "super-block %d scales", sb)
		require.Equal(t, ref.S[sb*8:sb*8+8], fast.S[sb*8:sb*8+8], "super-block %d sums", sb)
		require.Equal(t, ref.Q[sb*256:sb*256+256], fast.Q[sb*256:sb*256+256], "super-block %d values", sb)
	}
	require.Zero(t, fast.D[8])
	// max = −20 (the first): iscale = −127/max = +6.35, so −20 → −127 and 20 → 127, d > 0.
	require.Equal(t, int16(-127), fast.Q[512+40])
	require.Equal(t, int16(127), fast.Q[512+200])
	require.Greater(t, fast.D[16], float32(0))
	require.Equal(t, make([]int16, 512), fast.Q[1792:2304], "super-blocks with infinite products: zeros")
}
