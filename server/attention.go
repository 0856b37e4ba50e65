package server

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/engine/attnviz"
)

// attentionRequest is the body of POST /v1/attention.
type attentionRequest struct {
	Text   *string `json:"text"`
	Layers []int   `json:"layers"` // nil or empty: every layer
	Heads  []int   `json:"heads"`  // nil or empty: every head
}

// attentionSession is the session attention is captured on: made on first use, one capture at a time. It
// runs beside the scheduler's runner; the engine's step lock keeps their forward passes apart.
type attentionSession struct {
	mu sync.Mutex
	s  *engine.Session
}

// attention answers POST /v1/attention: the text (with the beginning-of-sequence token) is evaluated on a
// session of its own and the attention probabilities of the chosen layers and heads come back as the
// views' JSON (attnviz.ViewData): tokens (the text of each), layers, heads, attn[layer][head][query][key ≤
// query] rounded to three decimals, and the rollout when the layers follow one another. A capture bigger
// than Options.MaxAttentionValues (tokens × layers × heads × tokens) is refused with 413.
func (s *Server) attention(w http.ResponseWriter, r *http.Request) {
	m, req, release, ok := begin[attentionRequest](s, w, r)
	if !ok {
		return
	}
	defer release()
	if req.Text == nil || *req.Text == "" {
		fail(w, badRequest("text", "text is required: the text whose attention to capture, such as \"The cat sat on the mat\""))
		return
	}
	if limit := m.Context * 64; len(*req.Text) > limit { // far more than any tokenization of it could fit
		fail(w, &requestError{status: http.StatusBadRequest, code: "context_length_exceeded", param: "text",
			msg: fmt.Sprintf("the text (%d bytes) is far longer than the context of %d tokens", len(*req.Text), m.Context)})
		return
	}
	cfg := m.Engine.Config
	nl, err := countDistinct(req.Layers, cfg.BlockCount, "layer", "layers")
	if err != nil {
		fail(w, err)
		return
	}
	nh, err := countDistinct(req.Heads, cfg.HeadCount, "head", "heads")
	if err != nil {
		fail(w, err)
		return
	}
	ids := m.Engine.Tokenizer.Encode(*req.Text, true, false)
	n := len(ids)
	if n > m.Context {
		fail(w, &requestError{status: http.StatusBadRequest, code: "context_length_exceeded", param: "text",
			msg: fmt.Sprintf("the text is %d tokens, more than the context of %d", n, m.Context)})
		return
	}
	if values := int64(n) * int64(nl) * int64(nh) * int64(n); values > s.o.MaxAttentionValues {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "attention_too_large", fmt.Sprintf(
			"attention for %d tokens × %d layers × %d heads × %d tokens is %d values, more than this server's limit of %d "+
				"(llamago serve --attention-max-values): choose fewer layers or heads, or a shorter text", n, nl, nh, n, values, s.o.MaxAttentionValues))
		return
	}
	if len(req.Layers) == 0 {
		req.Layers = nil
	}
	if len(req.Heads) == 0 {
		req.Heads = nil
	}
	c, err := m.captureAttention(ids, req.Layers, req.Heads)
	if err != nil {
		fail(w, err)
		return
	}
	pieces := make([]string, n)
	for i, id := range ids {
		pieces[i] = attnviz.Piece(m.Engine.Tokenizer.AppendPiece(nil, id, true))
	}
	rep, err := attnviz.New(c, m.Name, ids, pieces, n, map[string]any{"head_count": cfg.HeadCount, "head_count_kv": cfg.HeadCountKV})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep.View())
}

// countDistinct validates a selection of layers or heads (each in [0, total)) and counts it; empty: all.
func countDistinct(sel []int, total int, what, param string) (int, error) {
	if len(sel) == 0 {
		return total, nil
	}
	seen := map[int]bool{}
	for _, v := range sel {
		if v < 0 || v >= total {
			return 0, badRequest(param, "%s %d does not exist: the model has %ss 0 to %d", what, v, what, total-1)
		}
		seen[v] = true
	}
	return len(seen), nil
}

// captureAttention evaluates ids on the model's attention session, recording the chosen layers and heads.
func (m *Model) captureAttention(ids []int32, layers, heads []int) (*engine.AttentionCapture, error) {
	a := &m.attn
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.s == nil {
		s, err := m.Engine.NewSession(m.Context, 512)
		if err != nil {
			return nil, err
		}
		a.s = s
	}
	a.s.Reset()
	defer a.s.StopCapture()
	c, err := a.s.StartCapture(engine.CaptureSpec{Layers: layers, Heads: heads}, len(ids))
	if err != nil {
		return nil, badRequest("", "%v", err)
	}
	if _, err := a.s.Eval(ids, false); err != nil {
		return nil, err
	}
	return c, nil
}
