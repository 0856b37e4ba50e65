package chat

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// toolCallMessages is an OpenAI-shaped tool call: content null, arguments a string of JSON.
const toolCallMessages = `[{"role": "user", "content": "Weather in Paris?"},
	{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
		"function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"C\"}"}}]},
	{"role": "tool", "tool_call_id": "call_1", "content": "21"}]`

func renderToolCall(t *testing.T, src string) string {
	t.Helper()
	tmpl, err := Compile(src)
	require.NoError(t, err)
	out, err := tmpl.Render(Input{Messages: json.RawMessage(toolCallMessages)})
	require.NoError(t, err)
	return out
}

// Qwen-QwQ and Bielik call string methods on every message's content; OpenAI sends null with tool calls.
func TestToolCallNullContentIsEmpty(t *testing.T) {
	src := `{% for m in messages %}[{{ m.content.strip() }}]{% endfor %}`
	require.Equal(t, "[Weather in Paris?][][21]", renderToolCall(t, src))
	src = `{% for m in messages %}{% if m.content is string %}s{% else %}n{% endif %}{% endfor %}`
	require.Equal(t, "sss", renderToolCall(t, src))
}

// GLM-4.7, MiniMax-M2, Qwen3-Coder and others iterate arguments.items(): a string must become a dict,
// in the client's key order.
func TestToolCallArgumentsDecodedForItems(t *testing.T) {
	src := `{% for m in messages %}{% for c in m.tool_calls or [] %}` +
		`{% for k, v in c.function.arguments.items() %}{{ k }}={{ v }};{% endfor %}{% endfor %}{% endfor %}`
	require.Equal(t, "city=Paris;unit=C;", renderToolCall(t, src))
}

// Llama 3.1's template prints arguments|tojson: a string would come out JSON-encoded twice.
func TestToolCallArgumentsNotEncodedTwice(t *testing.T) {
	src := `{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}`
	require.Equal(t, `{"city": "Paris", "unit": "C"}`, renderToolCall(t, src))
}

// A template that prints string arguments as they are keeps the client's text, spacing included.
func TestToolCallStringArgumentsKept(t *testing.T) {
	src := `{% for m in messages %}{% for c in m.tool_calls or [] %}` +
		`{% if c.function.arguments is string %}{{ c.function.arguments }}{% else %}{{ c.function.arguments | tojson }}{% endif %}` +
		`{% endfor %}{% endfor %}`
	tmpl, err := Compile(src)
	require.NoError(t, err)
	require.False(t, tmpl.objectArgs)
	msgs := `[{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}]`
	out, err := tmpl.Render(Input{Messages: json.RawMessage(msgs)})
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, out)
	// Arguments that are not a JSON object stay strings even where dicts are wanted.
	tmpl, err = Compile(`{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}`)
	require.NoError(t, err)
	require.True(t, tmpl.objectArgs)
	msgs = `[{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "[1, 2"}}]}]`
	out, err = tmpl.Render(Input{Messages: json.RawMessage(msgs)})
	require.NoError(t, err)
	require.Equal(t, `"[1, 2"`, out)
}
