package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/engine/attnviz"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/defaultmodel"
	"github.com/llamago/llamago/internal/npy"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestDemoAttentionStep is make demo's attention step on the built-in model: every file is written,
// every captured row is a distribution, and the summary talks about tokens the prompt really has.
func TestDemoAttentionStep(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := filepath.Join(t.TempDir(), "attention-demo")
	out, stderr, code := run(t, "attention", "-p", "The cat sat on the mat", "-o", dir)
	require.Zero(t, code, stderr)
	for _, f := range []string{"attention.npy", "attention.json", "index.html", "layer00.png", "layer04.png", "rollout.png", "rollout.npy"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	fh, err := os.Open(filepath.Join(dir, "attention.npy"))
	require.NoError(t, err)
	shape, vals, err := npy.ReadFloat32(fh)
	fh.Close()
	require.NoError(t, err)
	require.Equal(t, []int{5, 8, 10, 10}, shape)
	for row := 0; row < 5*8*10; row++ {
		var sum float64
		for _, v := range vals[row*10 : row*10+10] {
			sum += float64(v)
		}
		require.InDelta(t, 1, sum, 1e-5, "row %d", row)
	}
	prompt := map[string]bool{"<s>": true, " The": true, " c": true, "at": true, " s": true, " on": true, " the": true, " m": true}
	quoted := regexp.MustCompile(`\d+ ("[^"]*")`)
	hints := out[regexpIndex(t, out, "what to look at:"):]
	names := quoted.FindAllStringSubmatch(hints, -1)
	require.NotEmpty(t, names, hints)
	for _, m := range names {
		var tok string
		require.NoError(t, json.Unmarshal([]byte(m[1]), &tok))
		require.True(t, prompt[tok], "the summary names %q, not a token of the prompt:\n%s", tok, hints)
	}
	require.Contains(t, hints, "previous-token heads")
	require.Contains(t, hints, "influence: after the prompt the model predicts")
}

func regexpIndex(t *testing.T, s, sub string) int {
	i := regexp.MustCompile(regexp.QuoteMeta(sub)).FindStringIndex(s)
	require.NotNil(t, i, "%q not in %s", sub, s)
	return i[0]
}

// TestInfluenceMatchesDirect checks attention.json's leave-one-out influence against the same quantities
// computed here from scratch (a fresh session per shortened prompt), and the whole prompt's prediction
// against the exact float64 forward pass in ../shared/reference when it is there.
func TestInfluenceMatchesDirect(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	_, stderr, code := run(t, "attention", "-p", "The cat sat on the mat", "-o", dir, "-q")
	require.Zero(t, code, stderr)
	var meta struct {
		IDs       []int32            `json:"ids"`
		Influence *attnviz.Influence `json:"influence"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "attention.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &meta))
	inf := meta.Influence
	require.NotNil(t, inf)
	require.Len(t, inf.Tokens, len(meta.IDs))

	path, err := defaultmodel.Path()
	require.NoError(t, err)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b := engine.NewCPU(1)
	defer b.Close()
	m, err := engine.Load(f, b)
	require.NoError(t, err)
	probs := func(ids []int32) []float64 {
		s, err := m.NewSession(len(ids), len(ids))
		require.NoError(t, err)
		l, err := s.Eval(ids, false)
		require.NoError(t, err)
		mx := math.Inf(-1)
		for _, v := range l {
			mx = math.Max(mx, float64(v))
		}
		var z float64
		p := make([]float64, len(l))
		for i, v := range l {
			p[i] = math.Exp(float64(v) - mx)
			z += p[i]
		}
		for i := range p {
			p[i] /= z
		}
		return p
	}
	p := probs(meta.IDs)
	const tol = 1e-6 // same engine, same arithmetic: only the summation order of the softmax differs
	require.InDelta(t, p[inf.Predicted], inf.Prob, tol)
	for i, ti := range inf.Tokens {
		ids := append(append([]int32(nil), meta.IDs[:i]...), meta.IDs[i+1:]...)
		q := probs(ids)
		var kl float64
		for v := range p {
			if p[v] > 0 {
				kl += p[v] * math.Log(p[v]/q[v])
			}
		}
		require.Equal(t, i, ti.Position)
		require.InDelta(t, q[inf.Predicted], ti.ProbWithout, tol, "position %d", i)
		require.InDelta(t, q[inf.Predicted]-p[inf.Predicted], ti.DeltaProb, tol, "position %d", i)
		require.InDelta(t, kl, ti.KL, 1e-5*math.Max(1, kl), "position %d", i)
	}

	// The whole prompt's prediction against the exact float64 forward pass (tolerance: the engine's logits
	// are within 1e-8 NMSE of it; 1e-4 in probability is far looser).
	exact, err := os.ReadFile(filepath.Join(testutil.Shared(t, "reference/exact"), "stories260K__the_cat_sat_on_the_mat.json"))
	require.NoError(t, err)
	var ref struct {
		Tokens []int32     `json:"tokens"`
		Logits [][]float64 `json:"logits"`
	}
	require.NoError(t, json.Unmarshal(exact, &ref))
	require.Equal(t, ref.Tokens, meta.IDs)
	last := ref.Logits[len(ref.Logits)-1]
	lf := make([]float32, len(last))
	for i, v := range last {
		lf[i] = float32(v)
	}
	lp := attnviz.LogSoftmax(lf)
	require.InDelta(t, math.Exp(lp[inf.Predicted]), inf.Prob, 1e-4)
}
