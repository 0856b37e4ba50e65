package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llamago/llamago/internal/npy"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestAttentionCommand: the README's example produces every output in seconds on stories260K.
func TestAttentionCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "attn")
	start := time.Now()
	out, stderr, code := run(t, "attention", "-m", stories(t), "-p", "The cat sat on the mat", "-o", dir, "--generate", "4")
	require.Zero(t, code, stderr)
	require.Less(t, time.Since(start), 30*time.Second)
	require.Contains(t, out, "layer 0 — the token each position attends to most")
	require.Contains(t, out, "head spread")
	require.Contains(t, stderr, "open "+filepath.Join(dir, "index.html")+" in a browser: head view, model view, rollout and influence\n")
	for _, f := range []string{"attention.npy", "attention.json", "index.html", "layer00.png", "layer04.png", "rollout.png", "rollout.npy"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	fh, err := os.Open(filepath.Join(dir, "attention.npy"))
	require.NoError(t, err)
	shape, vals, err := npy.ReadFloat32(fh)
	fh.Close()
	require.NoError(t, err)
	require.Equal(t, []int{5, 8, 14, 14}, shape) // 10 prompt tokens + 4 generated
	for row := 0; row < 5*8*14; row++ {
		q := row % 14
		var sum float64
		for k := 0; k < 14; k++ {
			v := vals[row*14+k]
			if k > q {
				require.Zero(t, v)
			}
			sum += float64(v)
		}
		require.InDelta(t, 1, sum, 1e-5)
	}
	var meta struct {
		Tokens   []string `json:"tokens"`
		IDs      []int32  `json:"ids"`
		Prompt   int      `json:"prompt_tokens"`
		Settings numerics `json:"settings"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "attention.json"))
	require.NoError(t, json.Unmarshal(raw, &meta))
	require.Equal(t, 10, meta.Prompt)
	require.Equal(t, numerics{Activations: 16, KVType: "f32"}, meta.Settings, "the settings that change the numbers")
	require.Equal(t, []string{"<s>", " The", " c", "at"}, meta.Tokens[:4])

	// Selections and the size limit.
	dir2 := filepath.Join(t.TempDir(), "a2")
	_, stderr, code = run(t, "attention", "-m", stories(t), "-p", "The cat", "-o", dir2, "--layers", "0,4", "--heads", "1-2", "-q")
	require.Zero(t, code, stderr)
	require.Contains(t, stderr, "in a browser: head view, model view and influence\n", "no rollout of layers 0 and 4 alone: the line does not offer one")
	fh, _ = os.Open(filepath.Join(dir2, "attention.npy"))
	shape, _, err = npy.ReadFloat32(fh)
	fh.Close()
	require.NoError(t, err)
	require.Equal(t, 2, shape[0])
	require.Equal(t, 2, shape[1])
	out, stderr, code = run(t, "attention", "-m", stories(t), "-p", "The cat sat on the mat", "-o", dir2, "--heads", "0", "--brief", "--influence=false")
	require.Zero(t, code, stderr)
	require.Contains(t, out, "rollout (attention followed through every layer (heads 0 only), with the residual path)")
	_, stderr, code = run(t, "attention", "-m", stories(t), "-p", "The cat", "-o", dir2, "--capture-max-mb", "0.0001")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "raise --capture-max-mb")
	_, stderr, code = run(t, "attention", "-m", stories(t), "-p", "The cat", "-o", dir2, "--layers", "9")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--layers: layer 9 does not exist: layers are numbered 0 to 4")
	_, stderr, code = run(t, "attention", "-m", stories(t), "-p", "x", "-o", dir2, "--heads", "a")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--heads")
}

func TestRunCaptureAttn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cap")
	out, stderr, code := run(t, "run", "-m", stories(t), "-p", "Once upon a time", "-n", "6", "--temp", "0", "--capture-attn", dir)
	require.Zero(t, code, stderr)
	require.Contains(t, out, "Once upon a time, there")
	fh, err := os.Open(filepath.Join(dir, "attention.npy"))
	require.NoError(t, err)
	defer fh.Close()
	shape, _, err := npy.ReadFloat32(fh)
	require.NoError(t, err)
	require.Equal(t, []int{5, 8, 11, 11}, shape) // 5 prompt tokens + 6 generated
}

// TestAttentionPageRendersInChromium loads index.html in headless Chromium: the script must run without
// errors and draw the head view, the model view and the rollout; the screenshot must show them.
func TestAttentionPageRendersInChromium(t *testing.T) {
	bin := testutil.Chromium(t)
	dir := filepath.Join(t.TempDir(), "attn")
	_, stderr, code := run(t, "attention", "-m", stories(t), "-p", "The cat sat on the mat", "-o", dir, "-q")
	require.Zero(t, code, stderr)
	page := "file://" + filepath.Join(dir, "index.html")
	shot := filepath.Join(dir, "shot.png")
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000",
		"--enable-logging=stderr", "--v=0"}
	cmd := exec.Command(bin, append(base, "--dump-dom", page)...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	dom, err := cmd.Output()
	require.NoError(t, err, errOut.String())
	body := regexp.MustCompile(`<body[^>]*>`).FindString(string(dom))
	require.Contains(t, body, `data-rendered="head,influence,model,rollout,token"`)
	require.Contains(t, body, `data-errors="0"`)
	for _, line := range strings.Split(errOut.String(), "\n") {
		if strings.Contains(line, "CONSOLE") {
			require.NotRegexp(t, `(?i)error|uncaught`, line, "console message from the page")
		}
	}
	out, err := exec.Command(bin, append(base, "--window-size=1100,1400", "--screenshot="+shot, page)...).CombinedOutput()
	require.NoError(t, err, string(out))
	raw, err := os.ReadFile(shot)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	// Count distinct colours in the head view band (coloured lines) and the model view band (heatmaps).
	distinct := func(y0, y1 int) int {
		seen := map[uint32]bool{}
		for y := y0; y < y1; y++ {
			for x := 0; x < img.Bounds().Dx(); x += 2 {
				r, g, b, _ := img.At(x, y).RGBA()
				seen[(r>>11)<<10|(g>>11)<<5|b>>11] = true
			}
		}
		return len(seen)
	}
	require.Greater(t, distinct(150, 450), 40, "head view lines are drawn")
	require.Greater(t, distinct(560, 1000), 40, "model view heatmaps are drawn")
}
