// Package chat renders a model's chat template: it turns an OpenAI-style list of messages (and tools)
// into the prompt text the model was trained on, as Hugging Face transformers' apply_chat_template does.
//
// Templates are Jinja, rendered by github.com/ardanlabs/jinja with what makes its output match jinja2
// under Hugging Face byte for byte:
//   - messages, tools and extra variables are decoded from JSON with their object key order kept
//     (tool schemas are printed in the order the client sent them);
//   - tojson is Hugging Face's (Python's json.dumps: ", " and ": " separators, no HTML escaping,
//     ensure_ascii, indent, separators and sort_keys as in Python, Python's float spelling);
//   - one trailing newline of the template is dropped and line ends are normalized, as jinja2 does;
//   - raise_exception(msg) fails the render with a *RaiseError, and strftime_now(fmt) reads Input.Now;
//   - OpenAI-shaped tool calls are prepared as llama.cpp prepares them: content null becomes "", and
//     arguments sent as a JSON string become a dict for templates that need one (see prepareToolCalls).
//
// Known differences from jinja2: there is no Markup type (a string added to a |safe string is not
// HTML-escaped), no format filter, {% filter tojson %} blocks use the library's own tojson, {{ 1.0 }}
// prints 1 and {{ none }} nothing (jinja2: 1.0 and None; tojson is not affected), and some inputs
// jinja2 refuses (such as iterating over a null tools, or adding none to a string) render leniently.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ardanlabs/jinja"
)

// Template is a compiled chat template. It is safe for concurrent use by several goroutines.
type Template struct {
	source     string
	tmpl       *jinja.Template
	objectArgs bool // decode tool call arguments into dicts (see needsObjectArguments)
}

// Compile compiles a chat template (the text of a model's tokenizer.chat_template). The error, one
// line, says what is wrong and, where the library knows it, on which line.
func Compile(src string) (*Template, error) {
	tmpl, err := jinja.Compile(prepareSource(src))
	if err != nil {
		msg := oneLine(err.Error())
		for _, p := range []string{"jinja scan: ", "jinja parse: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		return nil, fmt.Errorf("chat template does not compile: %s", msg)
	}
	t := &Template{source: src, tmpl: tmpl}
	t.objectArgs = needsObjectArguments(t)
	return t, nil
}

// Source returns the template text as given to Compile.
func (t *Template) Source() string { return t.source }

// Input is what a template renders: the variables Hugging Face passes to a chat template.
type Input struct {
	// Messages is the JSON array of message objects as received ({"role": …, "content": …, …}).
	// The key order of every object is kept.
	Messages json.RawMessage
	// Tools is the JSON array of tool (function) schemas, or nil or null for none.
	Tools json.RawMessage
	// AddGenerationPrompt asks the template to end with the start of an assistant turn.
	AddGenerationPrompt bool
	// BOS, EOS, UNK and PAD are the texts of the model's special tokens, given to the template as
	// bos_token, eos_token, unk_token and pad_token.
	BOS, EOS, UNK, PAD string
	// Extra holds further template variables by name, as JSON (for example the keys of an OpenAI
	// request's chat_template_kwargs, such as "enable_thinking": true). A name that Input or the
	// renderer already sets is an error.
	Extra map[string]json.RawMessage
	// Now is the clock strftime_now reads; nil means time.Now.
	Now func() time.Time
}

// UnmarshalJSON reads an Input from a JSON object of render variables by their template names, as
// test cases give them: {"messages": […], "tools": […] or null, "add_generation_prompt": true,
// "bos_token": "<s>", "eos_token": "</s>", "unk_token": …, "pad_token": …}. Any other key goes to
// Extra. Now is left as it was.
func (in *Input) UnmarshalJSON(data []byte) error {
	var vars map[string]json.RawMessage
	if err := json.Unmarshal(data, &vars); err != nil {
		return fmt.Errorf("chat input: want a JSON object of render variables: %v", err)
	}
	*in = Input{Now: in.Now}
	for name, raw := range vars {
		var err error
		switch name {
		case "messages":
			in.Messages = raw
		case "tools":
			in.Tools = raw
		case "add_generation_prompt":
			err = json.Unmarshal(raw, &in.AddGenerationPrompt)
		case "bos_token":
			err = json.Unmarshal(raw, &in.BOS)
		case "eos_token":
			err = json.Unmarshal(raw, &in.EOS)
		case "unk_token":
			err = json.Unmarshal(raw, &in.UNK)
		case "pad_token":
			err = json.Unmarshal(raw, &in.PAD)
		default:
			if in.Extra == nil {
				in.Extra = map[string]json.RawMessage{}
			}
			in.Extra[name] = raw
		}
		if err != nil {
			return fmt.Errorf("chat input: %s: %v", name, err)
		}
	}
	return nil
}

// RaiseError is the error Render returns when the template refuses the input by calling
// raise_exception(Message) (for example "Conversation roles must alternate user/assistant/…").
// It is the caller's mistake, not the server's: an HTTP server answers it with 400 and the message.
type RaiseError struct {
	Message string
}

// Error returns the template's message, unchanged.
func (e *RaiseError) Error() string { return e.Message }

// reserved are the variable names Render sets itself.
var reserved = []string{"messages", "tools", "add_generation_prompt", "bos_token", "eos_token", "unk_token",
	"pad_token", "raise_exception", "strftime_now", "py_tojson"}

// Render renders the template for in. When the template calls raise_exception the error is a
// *RaiseError (test with errors.As); other errors are one line and name the input or the template.
// Messages that call tools are prepared first as llama.cpp does (see prepareToolCalls).
func (t *Template) Render(in Input) (string, error) {
	return t.render(in, t.objectArgs)
}

func (t *Template) render(in Input, objectArgs bool) (string, error) {
	data, err := in.values()
	if err != nil {
		return "", err
	}
	prepareToolCalls(data["messages"], objectArgs)
	out, err := t.tmpl.RenderValues(data)
	if err != nil {
		if re, ok := errors.AsType[*RaiseError](err); ok {
			return "", re
		}
		return "", fmt.Errorf("chat template: render: %s", oneLine(err.Error()))
	}
	return out, nil
}

// values builds the render variables of in.
func (in *Input) values() (map[string]jinja.Value, error) {
	data := make(map[string]jinja.Value, 10+len(in.Extra))
	if len(in.Messages) == 0 {
		return nil, errors.New("chat input: messages is missing (want a JSON array of message objects)")
	}
	msgs, err := decodeJSON(in.Messages)
	if err != nil {
		return nil, fmt.Errorf("chat input: messages: %v", err)
	}
	if !msgs.IsList() {
		return nil, fmt.Errorf("chat input: messages is %s, want an array of message objects", kindName(msgs))
	}
	data["messages"] = msgs
	tools := jinja.None()
	if len(in.Tools) > 0 {
		if tools, err = decodeJSON(in.Tools); err != nil {
			return nil, fmt.Errorf("chat input: tools: %v", err)
		}
		if !tools.IsList() && !tools.IsNone() {
			return nil, fmt.Errorf("chat input: tools is %s, want an array of tool objects or null", kindName(tools))
		}
	}
	data["tools"] = tools
	data["add_generation_prompt"] = jinja.NewBool(in.AddGenerationPrompt)
	data["bos_token"] = jinja.NewString(in.BOS)
	data["eos_token"] = jinja.NewString(in.EOS)
	data["unk_token"] = jinja.NewString(in.UNK)
	data["pad_token"] = jinja.NewString(in.PAD)
	for _, name := range slices.Sorted(maps.Keys(in.Extra)) {
		if slices.Contains(reserved, name) {
			return nil, fmt.Errorf("chat input: extra variable %q is set by the renderer itself", name)
		}
		v, err := decodeJSON(in.Extra[name])
		if err != nil {
			return nil, fmt.Errorf("chat input: extra variable %q: %v", name, err)
		}
		data[name] = v
	}
	now := in.Now
	if now == nil {
		now = time.Now
	}
	data["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 {
			return jinja.Undefined(), fmt.Errorf("strftime_now takes one argument (a format like \"%%d %%b %%Y\"), got %d", len(args))
		}
		return jinja.NewString(strftime(pyStr(args[0]), now())), nil
	})
	data["raise_exception"] = raiseException
	data["py_tojson"] = pyToJSONValue
	return data, nil
}

var (
	raiseException = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := ""
		if len(args) > 0 {
			msg = pyStr(args[0])
		}
		return jinja.Undefined(), &RaiseError{Message: msg}
	})
	pyToJSONValue = jinja.NewCallable("tojson", pyToJSON)
)

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}

// DefaultTemplate is the template for a model whose file has no tokenizer.chat_template: ChatML,
// the same fallback llama.cpp uses. Each message becomes "<|im_start|>ROLE\nCONTENT<|im_end|>\n",
// and the generation prompt is "<|im_start|>assistant\n".
const DefaultTemplate = `{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}
`

var defaultTemplate = sync.OnceValue(func() *Template {
	t, err := Compile(DefaultTemplate)
	if err != nil {
		panic(err) // a test compiles it
	}
	return t
})

// Default returns DefaultTemplate compiled.
func Default() *Template { return defaultTemplate() }
