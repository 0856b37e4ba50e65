package server

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llamago/llamago/engine"
)

// samplingFields are the generation fields that completions and chat requests share. Pointers tell "absent"
// from zero; fields OpenAI has and llamago does not implement are decoded so that a value other than their
// default is refused instead of ignored.
type samplingFields struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *int            `json:"top_k"`
	MinP          *float64        `json:"min_p"`
	RepeatPenalty *float64        `json:"repeat_penalty"`
	Stop          stopList        `json:"stop"`
	Seed          *int64          `json:"seed"`
	N             *int            `json:"n"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	Presence      *float64        `json:"presence_penalty"`
	Frequency     *float64        `json:"frequency_penalty"`
	LogitBias     json.RawMessage `json:"logit_bias"`
	IgnoreEOS     bool            `json:"ignore_eos"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// completionRequest is POST /v1/completions.
type completionRequest struct {
	samplingFields
	Prompt   json.RawMessage `json:"prompt"`
	Logprobs *int            `json:"logprobs"`
	Echo     bool            `json:"echo"`
	Suffix   *string         `json:"suffix"`
	BestOf   *int            `json:"best_of"`
}

// chatRequest is POST /v1/chat/completions. Messages and tools stay as received, so that the chat template
// sees their keys in order.
type chatRequest struct {
	samplingFields
	Messages            json.RawMessage `json:"messages"`
	Tools               json.RawMessage `json:"tools"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	ResponseFormat      *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	ToolChoice  json.RawMessage `json:"tool_choice"`
	Logprobs    bool            `json:"logprobs"`
	TopLogprobs *int            `json:"top_logprobs"`
}

// stopList is "stop": a string or a list of strings.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = stopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or a list of strings")
	}
	*s = many
	return nil
}

// jsonPath is a field path of encoding/json's errors as the client wrote it: the path names embedded
// structs by their Go type (samplingFields.max_tokens), which the JSON does not have.
func jsonPath(field string) string {
	return strings.TrimPrefix(field, "samplingFields.")
}

// decode reads a JSON request body into v, with errors a client can act on.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.As(err, &ute):
			f := jsonPath(ute.Field)
			return badRequest(f, "%s has the wrong type: got a JSON %s, need %s", f, ute.Value, ute.Type)
		case errors.Is(err, io.EOF):
			return badRequest("", "the request body is empty: send a JSON object")
		default:
			return badRequest("", "the body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return badRequest("", "the body holds more than one JSON value")
	}
	return nil
}

// genParams are a validated generation.
type genParams struct {
	prompt      []int32
	maxTokens   int // 0: until the end of the context
	sampler     engine.SamplerOptions
	stop        []string
	logprobs    bool
	topLogprobs int
	ignoreEOS   bool
	stream      bool
	usage       bool // stream_options.include_usage
}

// params validates the shared fields. defaultMax is the max_tokens of a request that gives none.
func (s *Server) params(m *Model, f *samplingFields, maxTokens *int, defaultMax int) (genParams, error) {
	p := genParams{stream: f.Stream, ignoreEOS: f.IgnoreEOS, maxTokens: defaultMax}
	if !m.named(f.Model) {
		return p, &requestError{status: http.StatusNotFound, param: "model", code: "model_not_found",
			msg: fmt.Sprintf("the model %q does not exist: this server serves %q (GET /v1/models)", f.Model, m.Name)}
	}
	if f.StreamOptions != nil {
		if !f.Stream {
			return p, badRequest("stream_options", "stream_options is only allowed with \"stream\": true")
		}
		p.usage = f.StreamOptions.IncludeUsage
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return p, badRequest("max_tokens", "max_tokens must be at least 1, got %d", *maxTokens)
		}
		p.maxTokens = *maxTokens
	}
	// OpenAI's defaults for what is absent: temperature 1, top_p 1, no top-k, min-p or penalties.
	o := engine.SamplerOptions{Temp: 1, TopP: 1, RepeatPenalty: 1, RepeatLastN: 64}
	if v := f.Temperature; v != nil {
		if !(*v >= 0 && *v <= 2) {
			return p, badRequest("temperature", "temperature must be in [0, 2] (0 is greedy), got %g", *v)
		}
		o.Temp = *v
	}
	if v := f.TopP; v != nil {
		if !(*v > 0 && *v <= 1) {
			return p, badRequest("top_p", "top_p must be in (0, 1], got %g", *v)
		}
		o.TopP = *v
	}
	if v := f.TopK; v != nil {
		if *v < 0 {
			return p, badRequest("top_k", "top_k must be ≥ 0 (0 keeps all tokens), got %d", *v)
		}
		o.TopK = *v
	}
	if v := f.MinP; v != nil {
		if !(*v >= 0 && *v < 1) {
			return p, badRequest("min_p", "min_p must be in [0, 1), got %g", *v)
		}
		o.MinP = *v
	}
	if v := f.RepeatPenalty; v != nil {
		if !(*v > 0 && *v <= 10) {
			return p, badRequest("repeat_penalty", "repeat_penalty must be in (0, 10] (1 is off), got %g", *v)
		}
		o.RepeatPenalty = *v
	}
	if f.Seed != nil {
		o.Seed = uint64(*f.Seed)
	} else {
		var b [8]byte
		rand.Read(b[:])
		o.Seed = binary.LittleEndian.Uint64(b[:])
	}
	p.sampler = o
	if f.N != nil && *f.N != 1 {
		return p, badRequest("n", "n must be 1: llamago returns one choice per request (send several requests; they are batched together)")
	}
	for _, pen := range []struct {
		name string
		v    *float64
	}{{"presence_penalty", f.Presence}, {"frequency_penalty", f.Frequency}} {
		if pen.v != nil && *pen.v != 0 {
			return p, badRequest(pen.name, "%s is not supported (use repeat_penalty)", pen.name)
		}
	}
	if lb := bytes.TrimSpace(f.LogitBias); len(lb) > 0 && !bytes.Equal(lb, []byte("null")) && !bytes.Equal(lb, []byte("{}")) {
		return p, badRequest("logit_bias", "logit_bias is not supported")
	}
	if len(f.Stop) > s.o.MaxStop {
		return p, badRequest("stop", "stop has %d strings; at most %d are allowed", len(f.Stop), s.o.MaxStop)
	}
	for _, st := range f.Stop {
		switch {
		case st == "":
			return p, badRequest("stop", "stop strings must not be empty")
		case len(st) > 256:
			return p, badRequest("stop", "stop strings must be at most 256 bytes")
		}
	}
	p.stop = f.Stop
	return p, nil
}

// setLogprobs checks and sets the log-probability request.
func (p *genParams) setLogprobs(on bool, top int, param string) error {
	if top < 0 || top > engine.MaxTopLogprobs {
		return badRequest(param, "%s must be in [0, %d], got %d", param, engine.MaxTopLogprobs, top)
	}
	p.logprobs, p.topLogprobs = on, top
	return nil
}

// completionPrompt reads "prompt": a string, a list of one string, a list of token ids, or a list of one
// list of token ids.
func completionPrompt(m *Model, raw json.RawMessage) ([]int32, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, badRequest("prompt", "prompt is required")
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		return encodePrompt(m, text, true)
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err == nil {
		if len(texts) != 1 {
			return nil, badRequest("prompt", "prompt must hold one string (got %d): send one request per prompt", len(texts))
		}
		return encodePrompt(m, texts[0], true)
	}
	var ids []int64
	if err := json.Unmarshal(raw, &ids); err != nil {
		var lists [][]int64
		if err := json.Unmarshal(raw, &lists); err != nil {
			return nil, badRequest("prompt", "prompt must be a string, a list of one string, or a list of token ids")
		}
		if len(lists) != 1 {
			return nil, badRequest("prompt", "prompt must hold one list of token ids (got %d): send one request per prompt", len(lists))
		}
		ids = lists[0]
	}
	vocab := int64(m.Engine.Tokenizer.VocabSize())
	out := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= vocab {
			return nil, badRequest("prompt", "token id %d at index %d is outside the vocabulary of %d tokens", id, i, vocab)
		}
		out[i] = int32(id)
	}
	if len(out) == 0 {
		return nil, badRequest("prompt", "the prompt is empty")
	}
	return out, nil
}

// encodePrompt tokenizes prompt text with the model's beginning-of-sequence token. With special, as for
// every prompt (llama.cpp's server does the same), special tokens spelled in the text ("<|eot_id|>", "</s>")
// become those tokens, and a BOS the text begins with is not doubled.
func encodePrompt(m *Model, text string, special bool) ([]int32, error) {
	if text == "" {
		return nil, badRequest("prompt", "the prompt is empty")
	}
	if int64(len(text)) > int64(m.Context)*64 { // far more than any tokenization of it could fit
		return nil, &requestError{status: http.StatusBadRequest, code: "context_length_exceeded", param: "prompt",
			msg: fmt.Sprintf("the prompt (%d bytes) is far longer than the context of %d tokens", len(text), m.Context)}
	}
	t := m.Engine.Tokenizer
	ids := t.Encode(text, true, special)
	if len(ids) >= 2 && t.BOS >= 0 && ids[0] == t.BOS && ids[1] == t.BOS {
		ids = ids[1:]
	}
	return ids, nil
}
