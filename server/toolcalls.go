package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
)

// chatToolCall is a tool call of an assistant message (OpenAI's shape; Index only in streamed deltas).
type chatToolCall struct {
	Index    *int             `json:"index,omitempty"`
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function chatToolFunction `json:"function"`
}

type chatToolFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text
}

// toolNames are the function names a request's tools offer; empty when it offers none.
func toolNames(tools json.RawMessage) map[string]bool {
	var list []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(tools, &list) != nil {
		return nil
	}
	names := map[string]bool{}
	for _, t := range list {
		if t.Function.Name != "" {
			names[t.Function.Name] = true
		}
	}
	return names
}

var hermesCall = regexp.MustCompile(`(?s)<tool_call>\s*(.*?)\s*(?:</tool_call>|$)`)

// parseToolCalls finds the tool calls in a whole answer, in the forms chat templates teach models:
// `<tool_call>{"name": …, "arguments": {…}}</tool_call>` (Hermes, Qwen; one or more, text around them kept
// as content), `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]` (Mistral), and an answer that is nothing
// but `{"name": …, "parameters": {…}}` (Llama 3.x; after <|python_tag|> when the text shows it). A call
// must name one of the request's functions and carry a JSON object of arguments; otherwise the answer is
// text (content is then the whole text and calls nil).
func parseToolCalls(text string, names map[string]bool) (content string, calls []chatToolCall) {
	if len(names) == 0 {
		return text, nil
	}
	trimmed := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "<|python_tag|>"))
	switch {
	case strings.Contains(text, "<tool_call>"):
		for _, m := range hermesCall.FindAllStringSubmatch(text, -1) {
			c, ok := toolCall(m[1], names)
			if !ok {
				return text, nil
			}
			calls = append(calls, c)
		}
		return strings.TrimSpace(hermesCall.ReplaceAllString(text, "")), calls
	case strings.HasPrefix(trimmed, "[TOOL_CALLS]"):
		var list []json.RawMessage
		if json.Unmarshal([]byte(strings.TrimPrefix(trimmed, "[TOOL_CALLS]")), &list) != nil || len(list) == 0 {
			return text, nil
		}
		for _, raw := range list {
			c, ok := toolCall(string(raw), names)
			if !ok {
				return text, nil
			}
			calls = append(calls, c)
		}
		return "", calls
	case strings.HasPrefix(trimmed, "{"):
		if c, ok := toolCall(trimmed, names); ok {
			return "", []chatToolCall{c}
		}
	}
	return text, nil
}

// toolCall reads one call: {"name": …, "arguments" or "parameters": {…} or a JSON string of an object}.
func toolCall(s string, names map[string]bool) (chatToolCall, bool) {
	var c struct {
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if dec.Decode(&c) != nil || dec.More() || !names[c.Name] {
		return chatToolCall{}, false
	}
	args := c.Arguments
	if len(args) == 0 {
		args = c.Parameters
	}
	args = bytes.TrimSpace(args)
	if len(args) > 0 && args[0] == '"' { // arguments already given as JSON text
		var inner string
		if json.Unmarshal(args, &inner) != nil {
			return chatToolCall{}, false
		}
		args = []byte(inner)
	}
	if len(args) == 0 {
		args = []byte("{}")
	}
	var obj map[string]any
	if json.Unmarshal(args, &obj) != nil {
		return chatToolCall{}, false
	}
	var compact bytes.Buffer
	if json.Compact(&compact, args) != nil {
		return chatToolCall{}, false
	}
	var id [6]byte
	rand.Read(id[:])
	return chatToolCall{ID: "call_" + hex.EncodeToString(id[:]), Type: "function",
		Function: chatToolFunction{Name: c.Name, Arguments: compact.String()}}, true
}
