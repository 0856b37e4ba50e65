package chat

import (
	"strings"

	"github.com/ardanlabs/jinja"
)

// OpenAI clients send an assistant turn that calls tools as {"role": "assistant", "content": null,
// "tool_calls": [{"id": …, "type": "function", "function": {"name": …, "arguments": "<JSON text>"}}]}:
// content is null (or missing) and arguments is a string of JSON. Many templates were written for
// transformers' own convention instead, where arguments is a dict: they call arguments.items() or print
// arguments|tojson, and they call string methods on content. Given the OpenAI shape, jinja2 fails on
// these too (or prints the arguments JSON-encoded twice). llama.cpp prepares such messages before it
// renders them, and so does Render:
//   - a message with tool_calls whose content is null or missing gets content "";
//   - when the template needs dict arguments (see needsObjectArguments), a string arguments that holds
//     a JSON object is decoded into one, key order kept.

// probeMark is a value no real template contains: a probe looks for it in the rendering.
const probeMark = "llamago_probe_7f3a9c"

// probeMessages is a tool call and its answer, with the arguments given as argsJSON (a JSON value).
func probeInput(argsJSON string) Input {
	return Input{
		Messages: []byte(`[{"role": "user", "content": "Hi."},
			{"role": "assistant", "content": "", "tool_calls": [{"id": "call00001", "type": "function",
				"function": {"name": "tool1", "arguments": ` + argsJSON + `}}]},
			{"role": "tool", "tool_call_id": "call00001", "name": "tool1", "content": "done"}]`),
		Tools: []byte(`[{"type": "function", "function": {"name": "tool1", "description": "A tool.",
			"parameters": {"type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"]}}}]`),
		AddGenerationPrompt: true,
	}
}

// needsObjectArguments reports whether the template wants tool call arguments as a dict: it does not
// print string arguments as they are, and it does print the value of an argument given as a dict.
// A template that prints string arguments verbatim keeps them as the client wrote them.
func needsObjectArguments(t *Template) bool {
	const args = `{"arg": "` + probeMark + `"}`
	if out, err := t.render(probeInput(jsonString(args)), false); err == nil && strings.Contains(out, args) {
		return false
	}
	out, err := t.render(probeInput(args), false)
	return err == nil && strings.Contains(out, probeMark)
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// prepareToolCalls applies the preparation above to decoded messages, in place.
func prepareToolCalls(msgs jinja.Value, objectArgs bool) {
	for _, m := range msgs.AsList().Items {
		if !m.IsDict() {
			continue
		}
		d := m.AsDict()
		calls, ok := d.Get("tool_calls")
		if !ok || !calls.IsList() || calls.AsList().Len() == 0 {
			continue
		}
		if c, ok := d.Get("content"); !ok || c.IsNone() {
			d.Set("content", jinja.NewString(""))
		}
		if !objectArgs {
			continue
		}
		for _, call := range calls.AsList().Items {
			if !call.IsDict() {
				continue
			}
			fn, ok := call.AsDict().Get("function")
			if !ok || !fn.IsDict() {
				continue
			}
			args, ok := fn.AsDict().Get("arguments")
			if !ok || !args.IsString() {
				continue
			}
			if v, err := decodeJSON([]byte(args.AsString())); err == nil && v.IsDict() {
				fn.AsDict().Set("arguments", v)
			}
		}
	}
}
