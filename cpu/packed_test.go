package cpu

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// TestPackedKernel checks the packed layout and its kernels at 8 and 16 bits: for every token count a group
// can hold, the portable loop and the selected kernel (assembly where available), one, four and eight
// tokens at a time (at 16 bits one and eight), against a float64 product of
// the dequantized weights and the rounded activations.
func TestPackedKernel(t *testing.T) {
	eachSideBySide(t, func(t *testing.T) {
		for _, bits := range []int{8, 16} {
			for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
				t.Run(fmt.Sprintf("%s/bits=%d", typ, bits), func(t *testing.T) { testPackedKernel(t, typ, bits) })
			}
		}
	})
}

// TestStripsSideBySide: LLAMAGO_CPU_STRIPS decides where set; otherwise one strip at a time on AMD, four
// elsewhere; PackedReads names the choice where rows are packed.
func TestStripsSideBySide(t *testing.T) {
	defer func(sb int) { sideBySide = sb }(sideBySide)
	for sb, want := range map[int]string{1: "one strip at a time", 4: "four strips side by side"} {
		sideBySide = sb
		if !useVNNI {
			want = "one strip at a time" // the AVX2 kernels read no strips side by side
		}
		if usePacked {
			require.Equal(t, want, PackedReads())
		} else {
			require.Empty(t, PackedReads())
		}
	}
	require.Equal(t, 1, stripsSideBySide("1", false))
	require.Equal(t, 4, stripsSideBySide("4", true))
	require.Equal(t, 1, stripsSideBySide("", true))
	require.Equal(t, packStreams, stripsSideBySide("", false))
	if vendor, err := os.ReadFile("/proc/cpuinfo"); err == nil && runtime.GOARCH == "amd64" && usePacked {
		amd := bytes.Contains(vendor, []byte("AuthenticAMD")) || bytes.Contains(vendor, []byte("HygonGenuine"))
		require.Equal(t, amd, isAMD(), "the CPUID vendor against /proc/cpuinfo")
	}
}

func testPackedKernel(t *testing.T, typ gguf.Type, bits int) {
	r := rand.New(rand.NewPCG(31, 32))
	p := NewPool(2)
	defer p.Close()
	rows, cols := 80, 512 // five strips: a run of four (the one-token kernel's streams) and one alone
	w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
	packed := pack(w) // directly: Pack packs only where the assembly kernels run
	require.Equal(t, rows/packRows*packStripBytes(w), len(packed))
	if typ != gguf.TypeQ4_K && typ != gguf.TypeQ6_K { // the k-quants: 148 bytes for 144, 212 for 210
		require.Equal(t, len(w.Data), len(packed))
	}
	wf := make([]float32, rows*cols)
	for i := range rows {
		w.Row(i, wf[i*cols:(i+1)*cols])
	}
	nb, stripBytes := cols/32, packStripBytes(w)
	nbk := cols / packScaleBlock(typ) // the blocks of ad and start
	type kernel func(gguf.Type, []byte, int, int, []uint32, []float32, []int32, []float32, int, int, []float32, int)
	kernels, groups := map[string]kernel{"go": packedKernelGo, "selected": packedKernel}, []int{1, 4, 8}
	if bits == 16 {
		kernels, groups = map[string]kernel{"go": packedKernel16Go, "selected": packedKernel16}, []int{1, 8}
	}
	for _, n := range []int{1, 3, 4, 7, 8, 13} {
		rnd := rounding8_0
		if typ == gguf.TypeQ4_K || typ == gguf.TypeQ6_K {
			rnd = rounding8_K
		}
		if bits == 16 {
			rnd = rounding16
		}
		a := quantizeActivations16(p, randRow(r, n*cols, 2), n, cols, rnd, layAll)
		qc, qg, qw := a.q8c, a.q8, 1 // words a quad
		if bits == 16 {
			qc, qg, qw = a.q16c, a.q16s, 2
		}
		adc, stc, adg, stg := a.d32c, a.startc, a.d32, a.start
		if typ == gguf.TypeQ6_K {
			adc, stc, adg, stg = a.d16c, a.start16c, a.d16, a.start16
		}
		x := dequant16(a)
		want := make([]float64, n*rows)
		for tok := range n {
			for i := range rows {
				for c := range cols {
					want[tok*rows+i] += float64(wf[i*cols+c]) * float64(x[tok][c])
				}
			}
		}
		if packedCodes(typ, bits == 16) { // the one-token kernel reads the codes: the selected one is the Go loop
			kernels["codes"] = nil
		}
		for _, k := range groups {
			if bits == 16 && k == gemmT && n < gemmT {
				continue // at 16 bits the eight-token kernels take full groups only (packedLayouts)
			}
			for name, kernel := range kernels {
				if name == "selected" && k > 1 && !packedGroups() || name == "codes" && k > 1 {
					continue // AVX2 alone: no group kernels, the selected one would be the portable loop again
				}
				got := make([]float64, n*rows)
				for s := 0; s < rows/packRows; {
					ns := 1
					if rows/packRows-s >= packStreams {
						ns = packStreams
					}
					strips, width := packed[s*stripBytes:(s+ns)*stripBytes], ns*packRows
					out := make([]float32, k*width)
					if k == 1 { // one token alone
						for tok := range n {
							if name == "codes" {
								packedKernelCodes(typ, bits == 16, strips, ns, cols, a.tq[tok*cols:], adc[tok*nbk:], stc[tok*nbk:], a.s32c[tok*nb:], out, width)
							} else {
								kernel(typ, strips, ns, cols, qc[tok*qw*cols/4:], adc[tok*nbk:], stc[tok*nbk:], a.s32c[tok*nb:], 1, 1, out, width)
							}
							for i := range width {
								got[tok*rows+s*packRows+i] = float64(out[i])
							}
						}
					} else {
						for t0 := 0; t0 < a.groups()*gemmT; t0 += k { // k tokens of a group, padding included
							g, tt := t0/gemmT, t0%gemmT
							kernel(typ, strips, ns, cols, qg[g*qw*cols/4*gemmT+tt:], adg[g*nbk*gemmT+tt:], stg[g*nbk*gemmT+tt:], a.s32[g*nb*gemmT+tt:], k, gemmT, out, width)
							for j := 0; j < k && t0+j < n; j++ {
								for i := range width {
									got[(t0+j)*rows+s*packRows+i] = float64(out[j*width+i])
								}
							}
						}
					}
					s += ns
				}
				require.Less(t, nmse(got, want), 1e-12, "%s, %d-bit, %d tokens, %d at a time", name, bits, n, k)
			}
		}
	}
}

// TestPackedMatchesTiles checks that a packed matrix's products are the prompt tile's to the bit, for any
// number of tokens: a sequence's logits then do not depend on what it is batched with.
func TestPackedMatchesTiles(t *testing.T) {
	if !usePacked {
		t.Skip("no packed kernels on this CPU")
	}
	eachSideBySide(t, testPackedMatchesTiles)
}

func testPackedMatchesTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	p := NewPool(2)
	defer p.Close()
	require.NoError(t, p.SetActivationBits(8))
	// 144 rows: two runs of four strips and one alone, over several chunks and both workers.
	rows, cols := 144, 2048
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
		pw := *w
		require.True(t, pw.Pack())
		for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 12, 17} {
			t.Run(fmt.Sprintf("%s/%d", typ, n), func(t *testing.T) {
				x := randRow(r, n*cols, 2)
				tiles := make([]float32, n*rows)
				gemm(p, tiles, w, quantizeActivations16(p, x, n, cols, p.rounding(typ), layAll), gemmFast)
				got := make([]float32, n*rows)
				MatMul(p, got, &pw, x, n)
				require.Equal(t, tiles, got)
			})
		}
	}
}

// TestPackRefuses checks that Pack leaves alone what its kernels cannot take.
func TestPackRefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, c := range []struct {
		typ        gguf.Type
		rows, cols int
	}{{gguf.TypeQ5_0, 16, 256}, {gguf.TypeQ4_0, 24, 64}, {gguf.TypeQ8_0, 16, 96}, {gguf.TypeQ4_K, 24, 256}, {gguf.TypeQ6_K, 16, 128}} {
		w := &Weight{Type: c.typ, Rows: c.rows, Cols: c.cols, Data: quantRow(t, c.typ, randRow(r, c.rows*c.cols, 1))}
		require.False(t, w.Pack(), "%s %d×%d", c.typ, c.rows, c.cols)
		require.Nil(t, w.Packed)
	}
}

// TestPaddingNeverStored: act16 does not clear a group's padding tokens, so a product must not let them
// reach a result: after a batch whose last tokens are NaN, a smaller batch gives what a fresh pool gives,
// on every path (few-token kernels and tiles at 16 and 8 bits, packed or not).
func TestPaddingNeverStored(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	rows, cols := 64, 256
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, bits := range []int{16, 8} {
			for _, packed := range []bool{false, true} {
				w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
				if packed && !w.Pack() {
					continue
				}
				p, fresh := NewPool(2), NewPool(2)
				require.NoError(t, p.SetActivationBits(bits))
				require.NoError(t, fresh.SetActivationBits(bits))
				for _, n := range []int{5, 13, 3} {
					poison := randRow(r, 16*cols, 1)
					for i := n * cols; i < len(poison); i++ {
						poison[i] = float32(math.NaN())
					}
					MatMul(p, make([]float32, 16*rows), w, poison, 16)
					x := randRow(r, n*cols, 1)
					got, want := make([]float32, n*rows), make([]float32, n*rows)
					MatMul(p, got, w, x, n)
					MatMul(fresh, want, w, x, n)
					require.Equal(t, want, got, "%s, %d bits, packed %v, %d tokens", typ, bits, packed, n)
				}
				p.Close()
				fresh.Close()
			}
		}
	}
}

// TestMatMulsMixedPacked: one MatMuls over packed and unpacked weights of several types (the activations
// rounded once per rounding, shared; consecutive packed weights of one rounding in one loop, up to
// maxPackedMats of them, with strip counts that do not divide into runs) gives each weight's MatMul on a
// fresh pool, for batch sizes in any order, at 8 and 16 bits, and each token of a packed weight alone gives
// its batched bits.
func TestMatMulsMixedPacked(t *testing.T) {
	if !usePacked {
		t.Skip("no packed kernels on this CPU")
	}
	for _, bits := range []int{8, 16} {
		t.Run(fmt.Sprintf("bits=%d", bits), func(t *testing.T) { testMatMulsMixedPacked(t, bits) })
	}
}

func testMatMulsMixedPacked(t *testing.T, bits int) {
	r := rand.New(rand.NewPCG(5, 6))
	p, fresh := NewPool(2), NewPool(2)
	defer p.Close()
	defer fresh.Close()
	require.NoError(t, p.SetActivationBits(bits))
	require.NoError(t, fresh.SetActivationBits(bits))
	cols := 256
	mk := func(typ gguf.Type, rows int, pack bool) *Weight {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
		if pack {
			require.True(t, w.Pack())
		}
		return w
	}
	// At 16 bits the last five packed weights are one loop of four and one alone; at 8 bits the
	// roundings split them (Q8_0 | Q4_K, Q6_K | Q4_0, Q8_0).
	ws := []*Weight{mk(gguf.TypeQ4_0, 80, true), mk(gguf.TypeQ4_0, 24, false), mk(gguf.TypeQ6_K, 32, false),
		mk(gguf.TypeQ8_0, 208, true), mk(gguf.TypeQ4_K, 48, true), mk(gguf.TypeQ6_K, 64, true), mk(gguf.TypeQ4_0, 16*9, true),
		mk(gguf.TypeQ8_0, 32, true)}
	for _, n := range []int{20, 1, 17, 9, 3, 64, 2, 13, 1} {
		x := randRow(r, n*cols, 2)
		dsts := make([][]float32, len(ws))
		for i, w := range ws {
			dsts[i] = make([]float32, n*w.Rows)
		}
		MatMuls(p, dsts, ws, x, n)
		for i, w := range ws {
			want := make([]float32, n*w.Rows)
			MatMul(fresh, want, w, x, n)
			require.Equal(t, want, dsts[i], "%d tokens, weight %d", n, i)
			if w.Packed == nil {
				continue
			}
			for tok := range n {
				one := make([]float32, w.Rows)
				MatMul(fresh, one, w, x[tok*cols:(tok+1)*cols], 1)
				require.Equal(t, one, dsts[i][tok*w.Rows:(tok+1)*w.Rows], "%d tokens, weight %d, token %d", n, i, tok)
			}
		}
	}
}

// TestPacked16MatchesTiles: at 16 bits a packed matrix's products of few tokens (packed16: the one-token kernels,
// and for Q4_0 and Q8_0 the eight-token ones) are the 16-bit tile's to the bit, and its larger batches (the
// tiles, on strips unpacked from the packed rows) are the file layout's.
func TestPacked16MatchesTiles(t *testing.T) {
	if !usePacked {
		t.Skip("no packed kernels on this CPU")
	}
	eachSideBySide(t, testPacked16MatchesTiles)
}

func testPacked16MatchesTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	p := NewPool(2)
	defer p.Close()
	rows, cols := 144, 2048
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
		pw := *w
		require.True(t, pw.Pack())
		for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 47, 48, 95, 96} {
			x := randRow(r, n*cols, 2)
			tiles := make([]float32, n*rows)
			gemm(p, tiles, w, quantizeActivations16(p, x, n, cols, rounding16, layAll), gemmFast)
			got := make([]float32, n*rows)
			MatMul(p, got, &pw, x, n)
			require.Equal(t, tiles, got, "%s, %d tokens", typ, n)
		}
	}
}

// TestUnpackPacked: strips unpacked from packed rows (the portable loop, and the assembly where it runs)
// are the strips unpacked from the file's rows, for every type the 16-bit tiles read packed.
func TestUnpackPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	rows, cols := 32, 512
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		w := &Weight{Type: typ, Rows: rows, Cols: cols, Data: quantRow(t, typ, randRow(r, rows*cols, 1))}
		pw := *w
		pw.Packed = pack(w)
		for r0 := 0; r0 < rows; r0 += packRows {
			var want, got, fast strip
			unpack(w, r0, &want)
			got.resize(cols)
			unpackPackedGo(typ, pw.Packed[r0/packRows*packStripBytes(w):], cols, &got)
			require.Equal(t, want.q, got.q, "%s q", typ)
			require.Equal(t, want.s, got.s, "%s s", typ)
			require.Equal(t, want.o, got.o, "%s o", typ)
			unpack(&pw, r0, &fast) // the assembly where it runs
			require.Equal(t, want.q, fast.q, "%s q", typ)
			require.Equal(t, want.s, fast.s, "%s s", typ)
			require.Equal(t, want.o, fast.o, "%s o", typ)
		}
	}
}

// TestSplitQuads: every 16-bit code the rounding makes (|q| ≤ q16Max) splits into two signed bytes that give
// it back as 256·hi + lo, in the quad layout the one-token kernels read; the vector form (with a scalar
// tail) writes what the portable one writes. The same for narrowQuads on 8-bit codes.
func TestSplitQuads(t *testing.T) {
	q := make([]int16, 0, 2*q16Max+4)
	for v := -q16Max; v <= q16Max; v++ {
		q = append(q, int16(v))
	}
	for len(q)%4 != 0 {
		q = append(q, q16Max)
	}
	for _, n := range []int{len(q), len(q) - 4, 36, 4} {
		dst, ref := make([]uint32, n/2), make([]uint32, n/2)
		splitQuads(dst, q[:n])
		splitQuadsGo(ref, q[:n])
		require.True(t, slices.Equal(ref, dst), "n=%d: the vector form differs", n)
		for i, v := range q[:n] {
			lo, hi := int8(dst[2*(i/4)]>>(8*(i%4))), int8(dst[2*(i/4)+1]>>(8*(i%4)))
			require.Equal(t, int32(v), 256*int32(hi)+int32(lo), "code %d", v)
		}
	}
	q8 := make([]int16, 0, 768)
	for len(q8) < 768 {
		q8 = append(q8, int16(len(q8)%255-127))
	}
	for _, n := range []int{len(q8), 64, 36} {
		dst, ref := make([]uint32, n/4), make([]uint32, n/4)
		narrowQuads(dst, q8[:n])
		narrowQuadsGo(ref, q8[:n])
		require.True(t, slices.Equal(ref, dst), "n=%d: the vector form differs", n)
		for i, v := range q8[:n] {
			require.Equal(t, int8(v), int8(dst[i/4]>>(8*(i%4))), "n=%d value %d", n, i)
		}
	}
}

// TestPackedBytes: packed rows' storage is zeroed, 64-byte aligned, n long (and no longer: a kernel that
// overruns is caught), from 2 MiB up aligned to a huge page where the system has them; what is written
// stays (releasing the padding's pages must not touch it).
func TestPackedBytes(t *testing.T) {
	for _, n := range []int{64, 100, hugePage - 1, hugePage, 5*hugePage + 123} {
		b := packedBytes(n)
		require.Len(t, b, n)
		require.Equal(t, n, cap(b))
		require.Zero(t, uintptrOf(b)%64, "n=%d", n)
		if hugePages && n >= hugePage {
			require.Zero(t, uintptrOf(b)%hugePage, "n=%d", n)
		}
		want := make([]byte, n)
		require.True(t, bytes.Equal(want, b), "n=%d: not zeroed", n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		copy(b, want)
		runtime.GC()
		require.True(t, bytes.Equal(want, b), "n=%d: changed", n)
	}
}

// eachSideBySide runs test with the one-token kernels reading one strip at a time and four side by side
// (sideBySide: AMD's choice and Intel's), whichever this CPU chose.
func eachSideBySide(t *testing.T, test func(t *testing.T)) {
	defer func(sb int) { sideBySide = sb }(sideBySide)
	for _, sideBySide = range []int{1, packStreams} {
		t.Run(fmt.Sprintf("strips=%d", sideBySide), test)
	}
}
