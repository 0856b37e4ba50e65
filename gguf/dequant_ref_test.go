package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// dequantRef is one file of ../shared/reference/dequant: ggml's own to_float output, hashed.
type dequantRef struct {
	Model   string `json:"model"`
	Tensors map[string]struct {
		Type   string    `json:"type"`
		Ne     []uint64  `json:"ne"`
		SHA256 string    `json:"sha256_f32le"`
		First  []float32 `json:"first16"`
	} `json:"tensors"`
}

// TestDequantizeMatchesGGML checks every tensor of every syn256 model dequantizes bit-exactly as ggml does.
func TestDequantizeMatchesGGML(t *testing.T) {
	refDir := testutil.Shared(t, "reference/dequant")
	files, err := filepath.Glob(filepath.Join(refDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, rf := range files {
		t.Run(strings.TrimSuffix(filepath.Base(rf), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(rf)
			require.NoError(t, err)
			var ref dequantRef
			require.NoError(t, json.Unmarshal(raw, &ref))
			f, err := Open(testutil.Shared(t, filepath.Join("models", ref.Model)))
			require.NoError(t, err)
			defer f.Close()
			require.Len(t, f.Tensors, len(ref.Tensors))
			for name, want := range ref.Tensors {
				ti, ok := f.Tensor(name)
				require.True(t, ok, "tensor %s missing", name)
				require.Equal(t, want.Type, ti.Type.String(), name)
				require.Equal(t, want.Ne, ti.Dims, name)
				out := make([]float32, ti.Elements())
				require.NoError(t, Dequantize(ti.Type, f.TensorData(ti), out))
				buf := make([]byte, 4*len(out))
				for i, v := range out {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
				}
				sum := sha256.Sum256(buf)
				require.Equal(t, want.First, out[:16], "%s: first values", name)
				require.Equal(t, want.SHA256, hex.EncodeToString(sum[:]), "%s (%s): dequantization not bit-exact", name, ti.Type)
			}
		})
	}
}
