package attnviz

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	require.False(t, r.HasRollout(), "layers 0 and 3 are not consecutive")
	require.Contains(t, r.RolloutNote, "layers 0,3 are not consecutive")
	require.InDelta(t, 0, r.Entropy(1, 0), 1e-9, "one-hot rows have zero entropy")
	require.InDelta(t, (math.Log(2)+(-(0.2*math.Log(0.2) + 0.3*math.Log(0.3) + 0.5*math.Log(0.5))))/3, r.Entropy(0, 0), 1e-6)
}

func TestWriteFiles(t *testing.T) {
	r := fixture(t)
	dir := t.TempDir()
	require.NoError(t, r.WriteFiles(dir))
	for _, name := range []string{"attention.npy", "attention.json", "index.html", "layer00.png", "layer03.png"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
	for _, name := range []string{"rollout.png", "rollout.npy"} {
		require.NoFileExists(t, filepath.Join(dir, name), "no rollout over layers 0 and 3")
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

// consecutive: layers 1,2 × heads 0,1 over 4 tokens, the last one generated.
func consecutive(t *testing.T) *Report {
	uniform := [][]float32{{1}, {0.5, 0.5}, {1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.25, 0.25, 0.25, 0.25}}
	prev := [][]float32{{1}, {1, 0}, {0, 1, 0}, {0, 0, 1, 0}}
	c := &engine.AttentionCapture{Layers: []int{1, 2}, Heads: []int{0, 1}, Probs: [][][][]float32{{uniform, prev}, {prev, prev}}}
	r, err := New(c, "consecutive", []int32{1, 2, 3, 4}, []string{"<s>", " ", "café", "猫"}, 3, nil)
	require.NoError(t, err)
	return r
}

// Finding 9: the entropy scale ignored that row t of causal attention sees only t+1 keys.
func TestNormEntropy(t *testing.T) {
	r := consecutive(t)
	require.InDelta(t, 1, r.NormEntropy(0, 0), 1e-6, "uniform rows spread evenly over all they can see")
	require.InDelta(t, 0, r.NormEntropy(0, 1), 1e-9, "one-hot rows look at one token")
	var sum bytes.Buffer
	require.NoError(t, r.WriteSummary(&sum))
	require.Contains(t, sum.String(), "h0 1.00  h1 0.00")
	require.Contains(t, sum.String(), "(generated)")
	require.Contains(t, sum.String(), `1 generated: "猫"`)
	require.Contains(t, sum.String(), "previous-token heads: layer 1 head 1 (1.00), layer 2 head 0 (1.00), layer 2 head 1 (1.00)")
}

// Finding 11: labels were '?' beyond ASCII and empty for a space.
func TestLabels(t *testing.T) {
	require.Equal(t, "·", label(" ", 14))
	require.Equal(t, "··¶", label("  \n", 14))
	require.Equal(t, " café", label(" café", 14))
	require.Equal(t, `\u732b`, label("猫", 14))
	require.Equal(t, `a\nb`, label("a\nb", 14))
	require.Equal(t, "abcd~", label("abcdefgh", 5))
	require.Equal(t, `\xe7\x8c`, label("\xe7\x8c", 14), "bytes of a character split across byte tokens")
}

// Findings 10, 12, 21: rollout over consecutive layers, colour bar and generated-token colour in the PNGs,
// and no stale files from an earlier run.
func TestConsecutiveFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "layer07.png"), []byte("old"), 0o644))
	r := consecutive(t)
	require.True(t, r.HasRollout())
	require.NoError(t, r.WriteFiles(dir))
	require.NoFileExists(t, filepath.Join(dir, "layer07.png"), "a file of an earlier run was left")
	for _, name := range []string{"rollout.png", "rollout.npy", "layer01.png", "layer02.png"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
	img, err := png.Decode(bytes.NewReader(mustRead(t, filepath.Join(dir, "layer01.png"))))
	require.NoError(t, err)
	var yellow, orange int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Max.X - 96; x < b.Max.X; x++ { // the colour bar's strip (and its two columns of text)
			if r, g, bb, _ := img.At(x, y).RGBA(); r>>8 > 240 && g>>8 > 220 && bb>>8 < 60 {
				yellow++
			}
		}
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bb, _ := img.At(x, y).RGBA(); r>>8 == 200 && g>>8 == 70 && bb>>8 == 0 {
				orange++
			}
		}
	}
	require.Greater(t, yellow, 16, "the colour bar's top (viridis yellow) is drawn at the right")
	require.Greater(t, orange, 20, "the generated token's label and the prompt/generated line are orange")
}

// TestLeaveOneOut checks influence against a hand computation on a model whose logits are a known
// function of the tokens.
func TestLeaveOneOut(t *testing.T) {
	// Next-token logits over a vocabulary of 3: token 0's logit is the sum of the ids, token 1's twice
	// the last id, token 2's zero.
	next := func(ids []int32) ([]float32, error) {
		var s float32
		for _, id := range ids {
			s += float32(id)
		}
		return []float32{s, 2 * float32(ids[len(ids)-1]), 0}, nil
	}
	ids := []int32{1, 2, 1}
	var calls int
	inf, err := LeaveOneOut(next, ids, []string{"a", "b", "c"}, func(id int32) string { return fmt.Sprint("t", id) }, func(done, total int) {
		calls++
		require.Equal(t, 4, total)
	})
	require.NoError(t, err)
	require.Equal(t, 4, calls)
	softmax := func(l []float64) []float64 {
		var z float64
		for _, v := range l {
			z += math.Exp(v)
		}
		out := make([]float64, len(l))
		for i, v := range l {
			out[i] = math.Exp(v) / z
		}
		return out
	}
	p := softmax([]float64{4, 2, 0})
	require.Equal(t, int32(0), inf.Predicted)
	require.Equal(t, "t0", inf.PredictedText)
	require.InDelta(t, p[0], inf.Prob, 1e-12)
	for i, l := range [][]float64{{3, 2, 0}, {2, 2, 0}, {3, 4, 0}} { // without position 0, 1, 2
		q := softmax(l)
		var kl float64
		for v := range p {
			kl += p[v] * math.Log(p[v]/q[v])
		}
		got := inf.Tokens[i]
		require.Equal(t, i, got.Position)
		require.InDelta(t, q[0], got.ProbWithout, 1e-12)
		require.InDelta(t, q[0]-p[0], got.DeltaProb, 1e-12)
		require.InDelta(t, kl, got.KL, 1e-12)
	}
	require.Equal(t, int32(1), inf.Tokens[2].TopWithout, "without the last token, token 1 leads")
	require.Equal(t, []int{2, 1}, inf.Strongest(2))
	_, err = LeaveOneOut(next, ids[:1], []string{"a"}, nil, nil)
	require.Error(t, err)
}

// The page inlines the one renderer, once, and nothing in it can end the script element early.
func TestPageInlinesTheRenderer(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, consecutive(t).WriteFiles(dir))
	page := string(mustRead(t, filepath.Join(dir, "index.html")))
	require.NotContains(t, strings.ToLower(Script), "</script")
	require.NotContains(t, strings.ToLower(Styles), "</style")
	require.Equal(t, 1, strings.Count(page, Script))
	require.Equal(t, 1, strings.Count(page, "window.AttnViz ="))
	require.Contains(t, page, Styles)
}

// The summary says no more than the numbers do: a near-even row has no "focus", rollout over part of the
// model is named as such, a tie is a tie, and influence below noise points at nothing.
func TestSummaryHonesty(t *testing.T) {
	require.False(t, standsOut([]float64{0.1250, 0.1252, 0.1249}, 1, 0), "a near-even row")
	require.True(t, standsOut([]float64{0.29, 0.71}, 1, 0))
	require.False(t, standsOut([]float64{0.9, 0.05, 0.04}, 1, 1), "from key 1 on: 0.05 against 0.04")

	r := consecutive(t) // a capture made by hand: it cannot say it holds the whole model
	require.Equal(t, "layers 1,2 (heads 0,1 only)", r.scope())
	uniform := [][]float32{{1}, {0.5, 0.5}, {1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.25, 0.25, 0.25, 0.25}}
	even, err := New(&engine.AttentionCapture{Layers: []int{0}, Heads: []int{0}, Probs: [][][][]float32{{uniform}}},
		"even", []int32{1, 2, 3, 4}, []string{"<s>", " a", " b", " c"}, 4, nil)
	require.NoError(t, err)
	var sum bytes.Buffer
	require.NoError(t, even.WriteSummary(&sum))
	require.Equal(t, 3, strings.Count(sum.String(), "(no clear focus: the next is within 1.5×)"), "rows 1 to 3 are even:\n%s", sum.String())
	require.Contains(t, sum.String(), "a tie")
	require.Contains(t, r.influenceHint(), "turned off")
	r.Settings = map[string]any{"source": "llamago run"}
	require.Contains(t, r.influenceHint(), "run --capture-attn does not measure it")
	r.Prompt = 1
	require.Contains(t, r.influenceHint(), "one token")
}

// TestMatmulTriangular: the causal product is the dense one.
func TestMatmulTriangular(t *testing.T) {
	a := [][]float64{{1, 0, 0}, {0.25, 0.75, 0}, {0.1, 0.15, 0.75}}
	b := [][]float64{{1, 0, 0}, {0.5, 0.5, 0}, {0.2, 0.3, 0.5}}
	got := matmul(a, b)
	for i := range a {
		for j := range a {
			var want float64
			for k := range a {
				want += a[i][k] * b[k][j]
			}
			require.InDelta(t, want, got[i][j], 1e-15)
		}
	}
}

// TestPiece: byte tokens (a part of a character) read as llama.cpp names them, in every view alike.
func TestPiece(t *testing.T) {
	require.Equal(t, "<0xF0>", Piece([]byte{0xF0}))
	require.Equal(t, " café", Piece([]byte(" café")))
	require.Equal(t, "a<0x9F><0x90>b", Piece([]byte{'a', 0x9F, 0x90, 'b'}))
	require.Equal(t, "🐱", Piece([]byte("🐱")))
}
