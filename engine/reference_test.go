package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

type logitsRef struct {
	Model  string      `json:"model"`
	Prompt string      `json:"prompt"`
	Tokens []int32     `json:"tokens"`
	Logits [][]float64 `json:"logits"`
}

func readRef(t testing.TB, path string) *logitsRef {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var r logitsRef
	require.NoError(t, json.Unmarshal(raw, &r))
	return &r
}

// refStats accumulates NMSE = Σ(a−b)²/Σb² and top-1 agreement of our logits against a reference.
type refStats struct {
	num, den   float64
	agree, all int
}

func (s *refStats) add(ours []float32, ref []float64) {
	for i, r := range ref {
		d := float64(ours[i]) - r
		s.num += d * d
		s.den += r * r
	}
	s.all++
	if Argmax(ours) == Argmax(ref) {
		s.agree++
	}
}

func (s *refStats) nmse() float64      { return s.num / s.den }
func (s *refStats) agreement() float64 { return float64(s.agree) / float64(s.all) }

// quantizedInt reports whether a reference model's weights take the integer kernels (whose activations
// SetActivationBits rounds); the other quantized types dequantize to float.
func quantizedInt(model string) bool {
	for _, s := range []string{"Q4_0", "Q8_0", "Q4_K", "Q6_K"} {
		if strings.HasSuffix(model, s) {
			return true
		}
	}
	return false
}

func loadShared(t testing.TB, name string) *Model {
	t.Helper()
	return loadSharedBits(t, name, 16)
}

// loadSharedBits is loadShared with activations rounded to bits in the quantized products.
func loadSharedBits(t testing.TB, name string, bits int) *Model {
	t.Helper()
	return loadSharedWith(t, name, bits, gguf.TypeF32)
}

// loadSharedWith is loadSharedBits with a KV cache of kv.
func loadSharedWith(t testing.TB, name string, bits int, kv gguf.Type) *Model {
	t.Helper()
	f, err := gguf.Open(testutil.Shared(t, filepath.Join("models", name)))
	require.NoError(t, err)
	b := NewCPU(0)
	t.Cleanup(func() { b.Close(); f.Close() })
	require.NoError(t, b.SetActivationBits(bits))
	m, err := LoadWith(f, LoadOptions{First: b, FirstLayers: -1, KVType: kv})
	require.NoError(t, err)
	return m
}

// modelLogits evaluates the reference's tokens in one batch and returns every position's logits.
func modelLogits(t testing.TB, m *Model, tokens []int32) []float32 {
	t.Helper()
	s, err := m.NewSession(max(256, len(tokens)), 512)
	require.NoError(t, err)
	out, err := s.Eval(tokens, true)
	require.NoError(t, err)
	return out
}

// TestLogitsAgainstReferences compares every model's logits at every prompt position with the exact
// float64 answer and with llama.cpp (per model file, all prompts together).
//
// Bounds (from the issue; llama.cpp's own distances from exact measured in ../shared/reference/README.md):
//   - F32, F16: NMSE against exact ≤ 1e-6;
//   - BF16: no further from exact than llama.cpp is;
//   - quantized: NMSE against exact ≤ 1.25 × llama.cpp's, top-1 agreement with exact ≥ llama.cpp's.
//
// llamago's quantized matmuls dequantize the weights exactly and keep activations in float32 (llama.cpp
// rounds activations to 8-bit blocks), so on quantized files llamago is expected to be much closer to exact.
// With 8-bit activations (CPU.SetActivationBits(8): llama.cpp's own rounding, Q8_0 or Q8_K blocks by weight
// type) the quantized files must keep the same bounds — no further from exact than 1.25 × llama.cpp, top-1
// agreement at least llama.cpp's — and be llama.cpp's logits: at most a quarter of llama.cpp's distance
// from exact away from them (measured: Q4_0 1e-18, i.e. the same floats; the others 2e-6 to 9e-5, where
// a different order of float sums tips some value to the next 8-bit step).
//
// A half-precision KV cache (LoadOptions.KVType) is held to the same bounds at 16 bits (measured: 2e-7
// NMSE from exact on every model, where the F32/F16 bound is 1e-6). At 8 bits — llama.cpp's default
// arithmetic, 8-bit activations and a half-precision cache — the references' own f32 cache is not what it
// computes, so its logits are not llama.cpp's (measured 3e-4 to 7e-4 away: a rounded key tips later 8-bit
// roundings), and its top-1 agreement with exact moves by a position or two either way (measured 92.6% to
// 95.9% against llama.cpp's 93.9% to 95.9%): NMSE against exact stays within 1.25 × llama.cpp's, top-1
// agreement within 2 points of llama.cpp's.
func TestLogitsAgainstReferences(t *testing.T) {
	for _, kv := range KVTypes() {
		for _, bits := range []int{16, 8} {
			name := fmt.Sprintf("bits=%d", bits)
			if kv != gguf.TypeF32 {
				name += "/kv=" + strings.ToLower(kv.String())
			}
			t.Run(name, func(t *testing.T) { testLogitsAgainstReferences(t, bits, kv) })
		}
	}
}

func testLogitsAgainstReferences(t *testing.T, bits int, kv gguf.Type) {
	dir := testutil.Shared(t, "reference/exact")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NotEmpty(t, files)
	byModel := map[string][]string{}
	for _, f := range files {
		model := strings.SplitN(filepath.Base(f), "__", 2)[0]
		byModel[model] = append(byModel[model], f)
	}
	models := make([]string, 0, len(byModel))
	for m := range byModel {
		models = append(models, m)
	}
	sort.Strings(models)
	var report []string
	for _, model := range models {
		if bits == 8 && !quantizedInt(model) {
			continue // the float path: the activations' precision does not apply
		}
		t.Run(model, func(t *testing.T) {
			m := loadSharedWith(t, model+".gguf", bits, kv)
			var vsExact, vsLlama, llamaVsExact refStats
			for _, ef := range byModel[model] {
				exact := readRef(t, ef)
				lc := readRef(t, filepath.Join(filepath.Dir(dir), "logits", filepath.Base(ef)))
				require.Equal(t, exact.Tokens, lc.Tokens)
				got := modelLogits(t, m, exact.Tokens)
				v := m.Config.VocabSize
				for p := range exact.Tokens {
					row := got[p*v : (p+1)*v]
					vsExact.add(row, exact.Logits[p])
					vsLlama.add(row, lc.Logits[p])
					l32 := make([]float32, v)
					for i, x := range lc.Logits[p] {
						l32[i] = float32(x)
					}
					llamaVsExact.add(l32, exact.Logits[p])
				}
			}
			line := fmt.Sprintf("%-22s NMSE vs exact %.2e (llama.cpp %.2e)  vs llama.cpp %.2e  top-1 vs exact %.1f%% (llama.cpp %.1f%%)",
				model, vsExact.nmse(), llamaVsExact.nmse(), vsLlama.nmse(), 100*vsExact.agreement(), 100*llamaVsExact.agreement())
			t.Log(line)
			report = append(report, line)
			switch {
			case strings.HasSuffix(model, "F32"), strings.HasSuffix(model, "F16"), model == "stories260K", model == "llama-2-tiny-random":
				require.LessOrEqual(t, vsExact.nmse(), 1e-6)
			case strings.HasSuffix(model, "BF16"):
				require.LessOrEqual(t, vsExact.nmse(), llamaVsExact.nmse())
			case bits == 8 && kv != gguf.TypeF32:
				require.LessOrEqual(t, vsExact.nmse(), 1.25*llamaVsExact.nmse())
				require.GreaterOrEqual(t, vsExact.agreement(), llamaVsExact.agreement()-0.02)
			default:
				require.LessOrEqual(t, vsExact.nmse(), 1.25*llamaVsExact.nmse())
				require.GreaterOrEqual(t, vsExact.agreement(), llamaVsExact.agreement())
				if bits == 8 && quantizedInt(model) {
					require.LessOrEqual(t, vsLlama.nmse(), 0.25*llamaVsExact.nmse(), "8-bit activations: llama.cpp's logits")
				}
			}
			require.False(t, math.IsNaN(vsExact.nmse()))
		})
	}
	for _, l := range report {
		fmt.Println(l)
	}
}
