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

// toolChoice is a request's tool_choice: "auto" (the default: the model decides), "none" (answers are
// text), "required" (the answer is a call), or "function" with the name of the one function to call.
type toolChoice struct{ kind, name string }

func parseToolChoice(raw json.RawMessage) (toolChoice, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return toolChoice{kind: "auto"}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "none", "required":
			return toolChoice{kind: s}, nil
		}
	} else {
		var obj struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(raw, &obj) == nil && obj.Type == "function" && obj.Function.Name != "" {
			return toolChoice{kind: "function", name: obj.Function.Name}, nil
		}
	}
	return toolChoice{}, badRequest("tool_choice", `tool_choice %s is not "auto", "none", "required" or {"type": "function", "function": {"name": …}}`, raw)
}

// prefill is what the answer must begin with for the choice, added after the rendered prompt: without a
// grammar to constrain decoding, llamago makes a call by starting it in the form the model's chat template
// teaches — found by its marks in the prompt rendered with the request's tools — and lets the model write
// the rest: `<tool_call>{"name": "` (Hermes, Qwen), `[TOOL_CALLS][{"name": "` (Mistral) or `{"name": "`
// (Llama 3.x), through the function's name and the arguments key when one function is chosen (or is the
// only one offered). Nothing for "auto" and "none"; an error when the template shows no form llamago knows.
func (c toolChoice) prefill(prompt string, names map[string]bool) (string, error) {
	if c.kind == "auto" || c.kind == "none" {
		return "", nil
	}
	var open, key string
	switch {
	case strings.Contains(prompt, "<tool_call>"):
		open, key = "<tool_call>\n{\"name\": ", "arguments"
	case strings.Contains(prompt, "[AVAILABLE_TOOLS]") || strings.Contains(prompt, "[TOOL_CALLS]"):
		open, key = "[TOOL_CALLS][{\"name\": ", "arguments"
	case strings.Contains(prompt, "<|start_header_id|>") && strings.Contains(prompt, `"parameters"`):
		open, key = "{\"name\": ", "parameters"
	default:
		return "", badRequest("tool_choice", "tool_choice %q needs a chat template whose tool calls llamago can start (Hermes and Qwen <tool_call>, Mistral [TOOL_CALLS], Llama 3.x JSON), and this model's prompt shows none of them: use \"auto\"", c.kind)
	}
	name := c.name
	if name == "" && len(names) == 1 {
		for n := range names {
			name = n
		}
	}
	if name == "" {
		return open + `"`, nil
	}
	quoted, _ := json.Marshal(name)
	return open + string(quoted) + `, "` + key + `":`, nil // no space: BPE vocabularies have " {" as one token
}
