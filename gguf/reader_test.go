package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// sampleMetadata has one value of every metadata type, arrays of each and an array of arrays.
func sampleMetadata() *Metadata {
	md := &Metadata{}
	md.Set("general.architecture", "llama")
	md.Set("u8", uint8(200))
	md.Set("i8", int8(-100))
	md.Set("u16", uint16(60000))
	md.Set("i16", int16(-30000))
	md.Set("u32", uint32(4000000000))
	md.Set("i32", int32(-2000000000))
	md.Set("f32", float32(1.5))
	md.Set("bool", true)
	md.Set("str", "héllo ▁wörld")
	md.Set("u64", uint64(1)<<63)
	md.Set("i64", int64(-1)<<62)
	md.Set("f64", math.Pi)
	md.Set("a.u8", []uint8{1, 2, 3})
	md.Set("a.i8", []int8{-1, 2})
	md.Set("a.u16", []uint16{7})
	md.Set("a.i16", []int16{-7, 8})
	md.Set("a.u32", []uint32{1, 1 << 31})
	md.Set("a.i32", []int32{-5, 6, 7})
	md.Set("a.f32", []float32{0.5, -0.25})
	md.Set("a.bool", []bool{true, false, true})
	md.Set("a.str", []string{"a", "", "▁b"})
	md.Set("a.u64", []uint64{9})
	md.Set("a.i64", []int64{-9})
	md.Set("a.f64", []float64{2.5})
	md.Set("a.empty", []string{})
	md.Set("a.nested", []any{[]int32{1, 2}, []string{"x"}})
	return md
}

// writeSample builds a small file with the sample metadata and three tensors of different types.
func writeSample(t testing.TB) ([]byte, map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Metadata = *sampleMetadata()
	data := map[string][]byte{}
	specs := []struct {
		name string
		typ  Type
		dims []uint64
	}{{"a", TypeF32, []uint64{5}}, {"b", TypeQ4_0, []uint64{64, 3}}, {"c", TypeQ6_K, []uint64{256, 2, 1}}}
	for _, s := range specs {
		require.NoError(t, w.AddTensor(s.name, s.typ, s.dims...))
	}
	for i, ti := range w.Tensors() {
		p := make([]byte, ti.Size)
		for j := range p {
			p[j] = byte(i*31 + j*7)
		}
		data[ti.Name] = p
		// Write in two pieces to exercise streaming.
		_, err := w.Write(p[:len(p)/2])
		require.NoError(t, err)
		_, err = w.Write(p[len(p)/2:])
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes(), data
}

func TestWriteReadRoundTrip(t *testing.T) {
	raw, data := writeSample(t)
	f, err := Parse(raw)
	require.NoError(t, err)
	require.EqualValues(t, 3, f.Version)
	want := sampleMetadata()
	require.Equal(t, len(want.KVs), len(f.Metadata.KVs))
	for i, kv := range want.KVs {
		require.Equal(t, kv.Key, f.Metadata.KVs[i].Key)
		require.Equal(t, kv.Value, f.Metadata.KVs[i].Value, kv.Key)
	}
	require.Len(t, f.Tensors, 3)
	for _, ti := range f.Tensors {
		require.Zero(t, ti.Offset%f.Alignment)
		require.Equal(t, data[ti.Name], f.TensorData(&ti), ti.Name)
	}
	c, ok := f.Tensor("c")
	require.True(t, ok)
	require.Equal(t, []uint64{256, 2, 1}, c.Dims)
	require.EqualValues(t, 2*210, c.Size)

	// Typed accessors convert between integer widths and report wrong types by key.
	n, err := f.Metadata.Int("u32")
	require.NoError(t, err)
	require.EqualValues(t, 4000000000, n)
	_, err = f.Metadata.Int("u64")
	require.ErrorContains(t, err, `"u64"`)
	_, err = f.Metadata.String("u8")
	require.ErrorContains(t, err, `metadata key "u8" has type uint8, want string`)
	_, err = f.Metadata.String("nope")
	require.ErrorContains(t, err, `"nope" is missing`)
	i32s, err := f.Metadata.Int32s("a.u16")
	require.NoError(t, err)
	require.Equal(t, []int32{7}, i32s)
}

func TestWriterRejectsMisuse(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	require.ErrorContains(t, w.AddTensor("x", TypeQ4_0, 31), "multiple of the Q4_0 block size")
	require.ErrorContains(t, w.AddTensor("x", Type(77), 4), "unknown type id 77")
	require.ErrorContains(t, w.AddTensor("x", TypeF32, 1, 1, 1, 1, 1), "5 dimensions")
	require.NoError(t, w.AddTensor("x", TypeF32, 4))
	require.ErrorContains(t, w.AddTensor("x", TypeF32, 4), "duplicate")
	_, err := w.Write(make([]byte, 20))
	require.ErrorContains(t, err, "more than the declared tensors")

	w = NewWriter(&bytes.Buffer{})
	require.NoError(t, w.AddTensor("x", TypeF32, 4))
	_, err = w.Write(make([]byte, 8))
	require.NoError(t, err)
	require.ErrorContains(t, w.Close(), `tensor "x" has 8 of 16 bytes written`)

	w = NewWriter(&bytes.Buffer{})
	w.Metadata.Set("bad", struct{}{})
	require.ErrorContains(t, w.Close(), "unsupported Go type")
}

// TestParseEveryTruncation opens every prefix of a valid file: each must fail cleanly, never panic.
func TestParseEveryTruncation(t *testing.T) {
	raw, _ := writeSample(t)
	for n := 0; n < len(raw); n++ {
		_, err := Parse(raw[:n:n])
		require.Error(t, err, "prefix of %d bytes parsed", n)
	}
	_, err := Parse(raw)
	require.NoError(t, err)
}

// hostile builds a header by hand: counts, then raw bytes.
func hostile(version uint32, nTensors, nKV uint64, rest ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, Magic)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, nTensors)
	b = binary.LittleEndian.AppendUint64(b, nKV)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func str(s string) []byte { return append(binary.LittleEndian.AppendUint64(nil, uint64(len(s))), s...) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func tensorInfo(name string, typ Type, off uint64, dims ...uint64) []byte {
	b := append(str(name), u32(uint32(len(dims)))...)
	for _, d := range dims {
		b = append(b, u64(d)...)
	}
	return append(append(b, u32(uint32(typ))...), u64(off)...)
}

func TestParseHostileInput(t *testing.T) {
	pad := make([]byte, 256)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"wrong magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF file"},
		{"version 1", hostile(1, 0, 0), "version 1 is not supported"},
		{"version 9", hostile(9, 0, 0), "unsupported GGUF version 9"},
		{"big endian", hostile(0x03000000, 0, 0), "big-endian"},
		{"huge kv count", hostile(3, 0, 1<<60), "metadata count"},
		{"huge tensor count", hostile(3, 1<<60, 0), "tensor count"},
		{"huge key length", hostile(3, 0, 1, u64(1<<62), pad), "metadata key length"},
		{"huge array", hostile(3, 0, 1, str("k"), u32(uint32(ValueArray)), u32(uint32(ValueUint64)), u64(1<<40), pad), "cannot fit"},
		{"huge string array", hostile(3, 0, 1, str("k"), u32(uint32(ValueArray)), u32(uint32(ValueString)), u64(1<<40), pad), "cannot fit"},
		{"bad value type", hostile(3, 0, 1, str("k"), u32(99), pad), "unknown value type 99"},
		{"bad array type", hostile(3, 0, 1, str("k"), u32(uint32(ValueArray)), u32(77), u64(1), pad), "unknown array element type 77"},
		{"bad bool", hostile(3, 0, 1, str("k"), u32(uint32(ValueBool)), []byte{7}, pad), "neither 0 nor 1"},
		{"duplicate key", hostile(3, 0, 2, str("k"), u32(uint32(ValueUint8)), []byte{1}, str("k"), u32(uint32(ValueUint8)), []byte{1}, pad), `duplicate metadata key "k"`},
		{"alignment not power of two", hostile(3, 0, 1, str("general.alignment"), u32(uint32(ValueUint32)), u32(48), pad), "power of two"},
		{"alignment wrong type", hostile(3, 0, 1, str("general.alignment"), u32(uint32(ValueUint64)), u64(32), pad), "power of two"},
		{"zero dims", hostile(3, 1, 0, tensorInfo("t", TypeF32, 0), pad), "0 dimensions"},
		{"five dims", hostile(3, 1, 0, tensorInfo("t", TypeF32, 0, 1, 1, 1, 1, 1), pad), "5 dimensions"},
		{"dims overflow", hostile(3, 1, 0, tensorInfo("t", TypeF32, 0, 1<<32, 1<<32), pad), "overflow"},
		{"byte size overflow", hostile(3, 1, 0, tensorInfo("t", TypeF64, 0, 1<<61, 2), pad), "overflow"},
		{"unknown type", hostile(3, 1, 0, tensorInfo("t", Type(200), 0, 32), pad), `tensor "t": unknown tensor type id 200`},
		{"partial block", hostile(3, 1, 0, tensorInfo("t", TypeQ4_0, 0, 33), pad), "not a multiple of the Q4_0 block size"},
		{"misaligned offset", hostile(3, 1, 0, tensorInfo("t", TypeF32, 4, 4), pad), "not a multiple of the alignment"},
		{"offset past end", hostile(3, 1, 0, tensorInfo("t", TypeF32, 1<<40, 4), pad), "outside the file"},
		{"data past end", hostile(3, 1, 0, tensorInfo("t", TypeF32, 0, 1<<20), pad), "outside the file"},
		{"duplicate tensor", hostile(3, 2, 0, tensorInfo("t", TypeF32, 0, 4), tensorInfo("t", TypeF32, 32, 4), pad), `duplicate tensor name "t"`},
		{"overlapping tensors", hostile(3, 2, 0, tensorInfo("t", TypeF32, 0, 16), tensorInfo("u", TypeF32, 32, 4), pad), "overlaps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			require.ErrorContains(t, err, c.want)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, err.Error(), "at byte")
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "missing.gguf"))
	require.ErrorContains(t, err, "no such file")
	empty := filepath.Join(dir, "empty.gguf")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = Open(empty)
	require.ErrorContains(t, err, "file is empty")
	bad := filepath.Join(dir, "bad.gguf")
	require.NoError(t, os.WriteFile(bad, []byte("not a model at all"), 0o644))
	_, err = Open(bad)
	require.ErrorContains(t, err, "bad.gguf")
	require.ErrorContains(t, err, "not a GGUF file")
}

// TestSharedModels reads the hyperparameters and tokenizers of the shared fixtures.
func TestSharedModels(t *testing.T) {
	path := testutil.Shared(t, "models/stories260K.gguf")
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	c, err := f.LlamaConfig()
	require.NoError(t, err)
	require.Equal(t, LlamaConfig{Architecture: "llama", Name: c.Name, FileType: c.FileType, ContextLength: c.ContextLength,
		EmbeddingLength: 64, BlockCount: 5, FeedForwardLength: 172, HeadCount: 8, HeadCountKV: 4,
		RopeDimensionCount: 8, RopeFreqBase: c.RopeFreqBase, RopeFreqScale: 1, RopeScalingType: "none",
		RMSEpsilon: c.RMSEpsilon, VocabSize: 512}, *c)
	tok, err := f.Tokenizer()
	require.NoError(t, err)
	require.Equal(t, "llama", tok.Model)
	require.Len(t, tok.Tokens, 512)
	require.Nil(t, tok.AddBOS) // the README says this file has no add_bos_token key
	require.Equal(t, 1, tok.BOS)

	models, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.gguf"))
	for _, m := range models {
		f, err := Open(m)
		require.NoError(t, err, m)
		_, err = f.LlamaConfig()
		require.NoError(t, err, m)
		_, err = f.Tokenizer()
		require.NoError(t, err, m)
		require.NoError(t, f.Close())
	}
}
