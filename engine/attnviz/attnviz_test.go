package attnviz

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/internal/npy"
	"github.com/stretchr/testify/require"
)

// fixture: 2 layers × 1 head over 3 tokens with hand-chosen rows.
func fixture(t *testing.T) *Report {
	c := &engine.AttentionCapture{Layers: []int{0, 3}, Heads: []int{2}, Probs: [][][][]float32{
		{{{1}, {0.5, 0.5}, {0.2, 0.3, 0.5}}},
		{{{1}, {1, 0}, {0, 0, 1}}},
	}}
	r, err := New(c, "fixture", []int32{1, 2, 3}, []string{"<s>", " cat", "\n"}, 2, map[string]any{"k": "v"})
	require.NoError(t, err)
	return r
}

func TestRollout(t *testing.T) {
	r := fixture(t)
	// Layer 0: Ã = rownorm(A + I) = [[1,0,0],[.25,.75,0],[.1,.15,.75]]; layer 3: [[1,0,0],[1,0,0]+I→[1,1,0]/2,[0,0,2]/2].
	a0 := [][]float64{{1, 0, 0}, {0.25, 0.75, 0}, {0.1, 0.15, 0.75}}
	a1 := [][]float64{{1, 0, 0}, {0.5, 0.5, 0}, {0, 0, 1}}
	want := matmul(a1, a0)
	got := r.Rollout()
	for i := range want {
		var sum float64
		for j := range want[i] {
			require.InDelta(t, want[i][j], got[i][j], 1e-6)
			sum += got[i][j]
		}
		require.InDelta(t, 1, sum, 1e-9, "rollout rows stay distributions")
	}
	require.InDelta(t, 0, r.Entropy(1, 0), 1e-9, "one-hot rows have zero entropy")
	require.InDelta(t, (math.Log(2)+(-(0.2*math.Log(0.2) + 0.3*math.Log(0.3) + 0.5*math.Log(0.5))))/3, r.Entropy(0, 0), 1e-6)
}

func TestWriteFiles(t *testing.T) {
	r := fixture(t)
	dir := t.TempDir()
	require.NoError(t, r.WriteFiles(dir))
	for _, name := range []string{"attention.npy", "attention.json", "index.html", "layer00.png", "layer03.png", "rollout.png", "rollout.npy"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
	f, err := os.Open(filepath.Join(dir, "attention.npy"))
	require.NoError(t, err)
	shape, vals, err := npy.ReadFloat32(f)
	f.Close()
	require.NoError(t, err)
	require.Equal(t, []int{2, 1, 3, 3}, shape)
	require.Equal(t, []float32{1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5}, vals[:9])

	var js map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, "attention.json"))
	require.NoError(t, json.Unmarshal(raw, &js))
	require.Equal(t, []any{"<s>", " cat", "\n"}, js["tokens"])
	require.Equal(t, []any{2.0}, js["heads"])
	require.Equal(t, []any{2.0, 1.0, 3.0, 3.0}, js["shape"])

	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NotRegexp(t, `(src|href)\s*=|url\(|@import|fetch\(|XMLHttpRequest`, string(page), "the page must load nothing from outside itself")
	require.Contains(t, string(page), `"tokens":["\u003cs\u003e"," cat","\n"]`, "data is embedded with < escaped")

	img, err := png.Decode(bytes.NewReader(mustRead(t, filepath.Join(dir, "layer00.png"))))
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 100)
	// The row labels are drawn left of the heatmap: that strip must hold dark (text) pixels.
	dark := 0
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < 100; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r+g+b < 3*0x4000 {
				dark++
			}
		}
	}
	require.Greater(t, dark, 50, "token labels are drawn")

	var sum bytes.Buffer
	require.NoError(t, r.WriteSummary(&sum))
	require.Contains(t, sum.String(), `layer 3`)
	require.True(t, strings.Contains(sum.String(), `"\n"`), "control characters are escaped in the summary")
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}
