package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseToolCalls(t *testing.T) {
	names := map[string]bool{"get_weather": true, "add": true}
	for _, c := range []struct {
		name, text, content string
		calls               [][2]string // name, arguments
	}{
		{"hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>", "",
			[][2]string{{"get_weather", `{"city":"Paris","unit":"c"}`}}},
		{"hermes, two, with text", "Let me check.\n<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}</tool_call>\n<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"}</tool_call>", "Let me check.",
			[][2]string{{"add", `{"a":1,"b":2}`}, {"get_weather", `{"city":"Oslo"}`}}},
		{"hermes, unclosed at the end", "<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": 1}}", "", [][2]string{{"add", `{"a":1}`}}},
		{"llama 3", ` {"name": "get_weather", "parameters": {"city": "Rome"}}`, "", [][2]string{{"get_weather", `{"city":"Rome"}`}}},
		{"llama 3, python tag", `<|python_tag|>{"name": "add", "parameters": {}}`, "", [][2]string{{"add", `{}`}}},
		{"mistral", `[TOOL_CALLS][{"name": "add", "arguments": {"a": 5}}, {"name": "get_weather", "arguments": {"city": "Bern"}}]`, "",
			[][2]string{{"add", `{"a":5}`}, {"get_weather", `{"city":"Bern"}`}}},
		{"unknown function: text", `{"name": "rm_rf", "parameters": {}}`, `{"name": "rm_rf", "parameters": {}}`, nil},
		{"JSON that is not a call: text", `{"answer": 42}`, `{"answer": 42}`, nil},
		{"broken call: text", "<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": </tool_call>", "<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": </tool_call>", nil},
		{"arguments not an object: text", `{"name": "add", "parameters": [1, 2]}`, `{"name": "add", "parameters": [1, 2]}`, nil},
		{"prose", "Once upon a time", "Once upon a time", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			content, calls := parseToolCalls(c.text, names)
			require.Equal(t, c.content, content)
			require.Len(t, calls, len(c.calls))
			for i, want := range c.calls {
				require.Equal(t, want[0], calls[i].Function.Name)
				require.JSONEq(t, want[1], calls[i].Function.Arguments)
				require.Equal(t, "function", calls[i].Type)
				require.True(t, strings.HasPrefix(calls[i].ID, "call_"))
			}
		})
	}
	content, calls := parseToolCalls(`{"name": "add", "parameters": {}}`, nil)
	require.Nil(t, calls, "no tools offered: never a call")
	require.Equal(t, `{"name": "add", "parameters": {}}`, content)
}

// TestChatWithToolsStreamsWholeAnswer: with tools offered, a streamed answer comes as one piece (a tool call
// is known only once the answer is whole), the same text as the plain answer; tool_choice "none" streams.
func TestChatWithToolsStreamsWholeAnswer(t *testing.T) {
	ts := newTestServer(t, serverConfig{chat: plainChat})
	req := map[string]any{"messages": []any{map[string]any{"role": "user", "content": "Once upon a time"}}, "max_tokens": 24, "temperature": 0,
		"tools": []any{map[string]any{"type": "function", "function": map[string]any{"name": "add", "parameters": map[string]any{"type": "object"}}}}}
	status, body, _ := ts.post(t, "/v1/chat/completions", req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, greedyText, choice(t, body)["message"].(map[string]any)["content"])
	require.Equal(t, "length", choice(t, body)["finish_reason"])

	req["stream"] = true
	evs := events(t, ts.do(t, "/v1/chat/completions", req))
	require.Len(t, evs, 3, "role, the whole answer, the finish")
	require.Equal(t, greedyText, choice(t, evs[1])["delta"].(map[string]any)["content"])
	require.Equal(t, "length", choice(t, evs[2])["finish_reason"])

	req["tool_choice"] = "none"
	require.Greater(t, len(events(t, ts.do(t, "/v1/chat/completions", req))), 3, "tool_choice none: streamed token by token")
}

// TestToolCallMessageShape: a tool call answer as the official clients read it.
func TestToolCallMessageShape(t *testing.T) {
	_, calls := parseToolCalls(`{"name": "add", "parameters": {"a": 1}}`, map[string]bool{"add": true})
	msg := chatMessage{Role: "assistant", ToolCalls: calls}
	b, err := json.Marshal(msg)
	require.NoError(t, err)
	var back struct {
		Role      string `json:"role"`
		ToolCalls []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	}
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, "add", back.ToolCalls[0].Function.Name)
	require.Equal(t, `{"a":1}`, back.ToolCalls[0].Function.Arguments)
	require.NotContains(t, string(b), `"index"`, "index only in streamed deltas")
}

// TestToolChoice: "required" and a named function start the call in the template's form (the prompt shows
// which), so the model writes only the rest, and the answer parses as the call; "auto" and "none" add
// nothing; bad choices are 400 with the field named.
func TestToolChoice(t *testing.T) {
	one := map[string]bool{"get_weather": true}
	two := map[string]bool{"get_weather": true, "add": true}
	hermes, mistral := "<|im_start|>system\nCall tools in <tool_call></tool_call> tags", "[AVAILABLE_TOOLS] [...][/AVAILABLE_TOOLS][INST] hi [/INST]"
	llama3 := `<|start_header_id|>user<|end_header_id|>Respond with {"name": function name, "parameters": dictionary}`
	for _, c := range []struct {
		choice, prompt string
		names          map[string]bool
		want, rest     string
	}{
		{`{"type": "function", "function": {"name": "get_weather"}}`, hermes, two, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\":", ` {"city": "Paris"}}</tool_call>`},
		{`"required"`, hermes, one, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\":", ` {"city": "Paris"}}`},
		{`"required"`, hermes, two, "<tool_call>\n{\"name\": \"", `add", "arguments": {"a": 1}}</tool_call>`},
		{`"required"`, mistral, one, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\":", ` {"city": "Paris"}}]`},
		{`{"type": "function", "function": {"name": "add"}}`, llama3, two, "{\"name\": \"add\", \"parameters\":", ` {"a": 1}}`},
	} {
		tc, err := parseToolChoice(json.RawMessage(c.choice))
		require.NoError(t, err)
		got, err := tc.prefill(c.prompt, c.names)
		require.NoError(t, err, c.choice)
		require.Equal(t, c.want, got, c.choice)
		_, calls := parseToolCalls(got+c.rest, c.names)
		require.Len(t, calls, 1, "%s: %s", c.choice, got+c.rest)
	}
	for _, auto := range []string{``, `null`, `"auto"`, `"none"`} {
		tc, err := parseToolChoice(json.RawMessage(auto))
		require.NoError(t, err)
		got, err := tc.prefill(hermes, two)
		require.NoError(t, err)
		require.Empty(t, got, auto)
	}
	tc, _ := parseToolChoice(json.RawMessage(`"required"`))
	_, err := tc.prefill("<|im_start|>user\nhi<|im_end|>", one)
	require.ErrorContains(t, err, "shows none of them")
	for _, bad := range []string{`"always"`, `{"type": "function"}`, `{"type": "tool", "function": {"name": "x"}}`, `42`} {
		_, err := parseToolChoice(json.RawMessage(bad))
		require.ErrorContains(t, err, "tool_choice", bad)
	}

	// Through the server: the model (stories260K, which knows no tools) writes no call after the opening, so
	// the answer is its own words, without the opening.
	ts := newTestServer(t, serverConfig{chat: func(messages, tools json.RawMessage) (string, error) {
		return "<|im_start|>system\nCall tools in <tool_call></tool_call> tags<|im_end|>\nOnce upon a time", nil
	}})
	req := map[string]any{"messages": []any{map[string]any{"role": "user", "content": "x"}}, "max_tokens": 4, "temperature": 0,
		"tools":       []any{map[string]any{"type": "function", "function": map[string]any{"name": "add", "parameters": map[string]any{"type": "object"}}}},
		"tool_choice": map[string]any{"type": "function", "function": map[string]any{"name": "add"}}}
	status, body, _ := ts.post(t, "/v1/chat/completions", req)
	require.Equal(t, http.StatusOK, status, "%v", body)
	content := choice(t, body)["message"].(map[string]any)["content"].(string)
	require.NotEmpty(t, content)
	require.NotContains(t, content, "<tool_call>")
	require.Positive(t, body["usage"].(map[string]any)["prompt_tokens"].(float64))
	for _, c := range []struct {
		choice any
		tools  bool
		msg    string
	}{
		{map[string]any{"type": "function", "function": map[string]any{"name": "rm"}}, true, "not among the request's tools"},
		{"required", false, "needs \"tools\""},
		{"sometimes", true, "is not \"auto\""},
	} {
		r := map[string]any{"messages": req["messages"], "max_tokens": 1, "tool_choice": c.choice}
		if c.tools {
			r["tools"] = req["tools"]
		}
		status, body, _ := ts.post(t, "/v1/chat/completions", r)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body["error"].(map[string]any)["message"], c.msg)
		require.Equal(t, "tool_choice", body["error"].(map[string]any)["param"])
	}
}
