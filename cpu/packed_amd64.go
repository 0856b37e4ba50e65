//go:build amd64 && !noasm

package cpu

import (
	"unsafe"

	"github.com/llamago/llamago/gguf"
)

// usePacked says whether Weight.Pack packs: the packed kernels need AVX-512 VNNI.
var usePacked = useVNNI

// packedKernels are one type's packed kernels: one token against one strip or four, four or eight tokens
// of a group against one strip.
type packedKernels struct {
	x1, x1s4, x4, x8 func(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)
}

var (
	packedQ4_0 = packedKernels{packedQ4_0x1, packedQ4_0x1s4, packedQ4_0x4, packedQ4_0x8}
	packedQ8_0 = packedKernels{packedQ8_0x1, packedQ8_0x1s4, packedQ8_0x4, packedQ8_0x8}
)

//go:noescape
func packedQ4_0x1(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)

//go:noescape
func packedQ4_0x1s4(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, stripBytes int)

//go:noescape
func packedQ4_0x4(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)

//go:noescape
func packedQ4_0x8(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)

//go:noescape
func packedQ8_0x1(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)

//go:noescape
func packedQ8_0x1s4(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, stripBytes int)

//go:noescape
func packedQ8_0x4(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)

//go:noescape
func packedQ8_0x8(w *byte, pairs int, q *uint32, ad *float32, start *int32, out *float32, ostride int)

// packedKernel is packedKernelGo in assembly: one token alone (stride 1), or 4 or 8 of a group (stride
// gemmT).
func packedKernel(t gguf.Type, strips []byte, ns, nb int, q []uint32, ad []float32, start []int32, tokens, stride int, out []float32, ostride int) {
	if nb%2 != 0 || nb == 0 || ns <= 0 {
		panic("packed kernel: blocks per row must be even")
	}
	if (tokens == 1) != (stride == 1) || (stride != 1 && stride != gemmT) {
		panic("packed kernel: one token alone, or four or eight of a group")
	}
	k := packedQ4_0
	if t == gguf.TypeQ8_0 {
		k = packedQ8_0
	}
	stripBytes := nb / 2 * packPairBytes(t)
	_ = strips[ns*stripBytes-1]
	_, _, _ = q[(8*nb-1)*stride+tokens-1], ad[(nb-1)*stride+tokens-1], start[(nb-1)*stride+tokens-1]
	_ = out[(tokens-1)*ostride+ns*packRows-1]
	qp, adp, sp := unsafe.SliceData(q), unsafe.SliceData(ad), unsafe.SliceData(start)
	if tokens == 1 && ns == 4 {
		k.x1s4(unsafe.SliceData(strips), nb/2, qp, adp, sp, unsafe.SliceData(out), stripBytes)
		return
	}
	for i := range ns {
		w, op := &strips[i*stripBytes], &out[i*packRows]
		switch tokens {
		case 1:
			k.x1(w, nb/2, qp, adp, sp, op, 4*ostride)
		case 4:
			k.x4(w, nb/2, qp, adp, sp, op, 4*ostride)
		case gemmT:
			k.x8(w, nb/2, qp, adp, sp, op, 4*ostride)
		default:
			panic("packed kernel: 1, 4 or 8 tokens")
		}
	}
}
