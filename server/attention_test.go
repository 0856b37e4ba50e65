package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttentionEndpoint: the JSON of a short text has one row of probabilities per query (keys ≤ query,
// summing to 1) for every layer and head asked for, with the tokens' text; the rollout comes with
// consecutive layers.
func TestAttentionEndpoint(t *testing.T) {
	ts := newTestServer(t, serverConfig{key: "s3cret"})
	status, body, _ := ts.post(t, "/v1/attention", map[string]any{"text": "The cat sat on the mat"})
	require.Equal(t, http.StatusOK, status, body)
	toks := body["tokens"].([]any)
	require.Equal(t, []any{"<s>", " The", " c", "at"}, toks[:4])
	n := len(toks)
	require.Equal(t, []any{0.0, 1.0, 2.0, 3.0, 4.0}, body["layers"])
	require.Len(t, body["heads"], 8)
	attn := body["attn"].([]any)
	require.Len(t, attn, 5)
	for _, l := range attn {
		require.Len(t, l, 8)
		for _, h := range l.([]any) {
			rows := h.([]any)
			require.Len(t, rows, n)
			for q, row := range rows {
				require.Len(t, row, q+1)
				var sum float64
				for _, v := range row.([]any) {
					sum += v.(float64)
				}
				require.InDelta(t, 1, sum, 0.01)
			}
		}
	}
	require.Len(t, body["rollout"], n)

	// A choice of layers and heads, in any order, repeated: each once, sorted.
	status, body, _ = ts.post(t, "/v1/attention", map[string]any{"text": "The cat", "layers": []int{3, 1, 3}, "heads": []int{2}})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []any{1.0, 3.0}, body["layers"])
	require.Equal(t, []any{2.0}, body["heads"])
	require.Len(t, body["attn"].([]any)[0], 1)
	require.Nil(t, body["rollout"])
	require.Contains(t, body["rollout_note"], "not consecutive")

	for _, c := range []struct {
		body  any
		param string
	}{
		{map[string]any{"text": ""}, "text"},
		{map[string]any{"layers": []int{0}}, "text"},
		{map[string]any{"text": "x", "layers": []int{5}}, "layers"},
		{map[string]any{"text": "x", "heads": []int{-1}}, "heads"},
	} {
		status, body, _ = ts.post(t, "/v1/attention", c.body)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Equal(t, c.param, body["error"].(map[string]any)["param"], body)
	}
}

// TestAttentionTooLarge: past the cap on tokens × layers × heads × tokens the answer is 413 with a message
// saying what to do; a smaller choice of the same text passes.
func TestAttentionTooLarge(t *testing.T) {
	ts := newTestServer(t, serverConfig{})
	ts.srv.o.MaxAttentionValues = 2000
	text := strings.Repeat("The cat sat on the mat. ", 2) // 15 tokens: 15² × 5 × 8 = 9000 values
	status, body, _ := ts.post(t, "/v1/attention", map[string]any{"text": text})
	require.Equal(t, http.StatusRequestEntityTooLarge, status, body)
	e := body["error"].(map[string]any)
	require.Equal(t, "attention_too_large", e["code"])
	require.Contains(t, e["message"], "× 5 layers × 8 heads ×")
	require.Contains(t, e["message"], "choose fewer layers or heads, or a shorter text")
	status, body, _ = ts.post(t, "/v1/attention", map[string]any{"text": text, "layers": []int{0}, "heads": []int{0, 1}})
	require.Equal(t, http.StatusOK, status, body)
}

// TestAttentionNeedsKey: with a key, /v1/attention (like /v1/*) answers 401 without it, and only the page
// and its assets (besides /health and /metrics) are served.
func TestAttentionNeedsKey(t *testing.T) {
	ts := newTestServer(t, serverConfig{key: "s3cret"})
	resp, err := http.Post(ts.URL+"/v1/attention", "application/json", strings.NewReader(`{"text": "The cat"}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, string(b), "invalid_api_key")
	require.NotContains(t, string(b), "attn")

	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/attention", strings.NewReader(`{"text": "The cat"}`))
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	for path, typ := range map[string]string{"/": "text/html", "/ui/app.js": "text/javascript", "/ui/app.css": "text/css",
		"/ui/attnviz.js": "text/javascript", "/ui/attnviz.css": "text/css"} {
		resp, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), typ, path)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", path)
		require.NotEmpty(t, b, path)
	}
	for _, path := range []string{"/v1/models", "/ui/index.html", "/ui/nothing.js", "/index.html"} {
		resp, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound}, resp.StatusCode, path)
	}
}

// TestPageIsSelfContained: the page loads nothing but this server's files, and the attention views are
// the very script llamago attention's index.html inlines.
func TestPageIsSelfContained(t *testing.T) {
	for _, name := range []string{"web/index.html", "web/app.js", "web/app.css"} {
		b, err := web.ReadFile(name)
		require.NoError(t, err)
		require.NotRegexp(t, `(?i)(src|href)\s*=\s*"(https?:)?//|url\(\s*["']?(https?:)?//|@import|https?://`, string(b), name)
	}
	page, _ := web.ReadFile("web/index.html")
	require.Contains(t, string(page), `<script src="/ui/attnviz.js"`)
	app, _ := web.ReadFile("web/app.js")
	require.Contains(t, string(app), "AttnViz.render(")
	require.NotContains(t, string(app), "function heatmap", "the views are drawn by attnviz's script, not a copy")
}
