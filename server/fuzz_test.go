package server

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequests feeds arbitrary bodies to the request decoding and validation of both generation endpoints
// (everything before the scheduler): no input may panic, and what is refused is a client error.
func FuzzRequests(f *testing.F) {
	for _, seed := range []string{
		`{"prompt": "Once upon a time", "max_tokens": 4, "stop": ["a", "b"], "logprobs": 2}`,
		`{"prompt": [1, 2, 3]}`, `{"prompt": [[1, 2]]}`, `{"prompt": ["x"]}`, `{"prompt": null}`,
		`{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "tools": null}`,
		`{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": 3, "stream": true, "stream_options": {"include_usage": true}}`,
		`{"temperature": -1, "top_p": 2, "n": 3, "seed": -5}`, `[]`, `"x"`, `{`, ``,
	} {
		f.Add(seed)
	}
	ts := newTestServer(f, serverConfig{chat: plainChat})
	m := ts.model
	f.Fuzz(func(t *testing.T, body string) {
		var cr completionRequest
		req := httptest.NewRequest("POST", "/v1/completions", strings.NewReader(body))
		if decode(req, &cr) == nil {
			if p, err := ts.srv.params(m, &cr.samplingFields, cr.MaxTokens, 16); err == nil {
				if cr.Logprobs != nil {
					p.setLogprobs(true, *cr.Logprobs, "logprobs")
				}
				completionPrompt(m, cr.Prompt)
			}
		}
		var ch chatRequest
		req = httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
		if decode(req, &ch) == nil {
			if _, err := ts.srv.params(m, &ch.samplingFields, ch.MaxTokens, 0); err == nil {
				ts.srv.chatPrompt(m, &ch)
			}
		}
	})
}
