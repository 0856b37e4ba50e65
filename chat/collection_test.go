package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collectionEnv names the folder of *.jinja chat templates TestTemplateCollection tries, such as
// llama.cpp's models/templates (not kept in this repository).
const collectionEnv = "LLAMAGO_TEMPLATES_DIR"

// collectionCase is one standard conversation, in the shapes an OpenAI client sends.
type collectionCase struct {
	name  string
	input string // render variables as JSON, as Input.UnmarshalJSON reads them
}

const weatherTool = `{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city.",
	"parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city name."}}, "required": ["city"]}}}`

var collectionCases = []collectionCase{
	{"system", `{"messages": [{"role": "system", "content": "You are a helpful assistant."},
		{"role": "user", "content": "Hello!"}], "add_generation_prompt": true}`},
	{"multi-turn", `{"messages": [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello! How can I help?"},
		{"role": "user", "content": "Tell me a joke."}], "add_generation_prompt": true}`},
	{"tools", `{"messages": [{"role": "user", "content": "What is the weather in Paris?"}],
		"tools": [` + weatherTool + `], "add_generation_prompt": true}`},
	{"tool-call", `{"messages": [{"role": "user", "content": "What is the weather in Paris?"},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
			"function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
		{"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 21}"}],
		"tools": [` + weatherTool + `], "add_generation_prompt": true}`},
}

// collectionKnown are the failures that cannot be fixed in this package, by template file and case
// ("*" for every case), with the reason; chat/README.md lists them too. A known failure that starts to
// pass is reported, so the list stays true.
var collectionKnown = map[string]string{}

// outcome of one template on one case.
type outcome struct {
	kind string // "ok", "refused" (raise_exception) or "FAIL"
	msg  string
}

// TestTemplateCollection compiles every *.jinja in $LLAMAGO_TEMPLATES_DIR and renders the standard
// conversations with each. A template that refuses a conversation through raise_exception (such as one
// with no system role) is fine; a compile error, any other render error or a panic is a failure, unless
// collectionKnown explains it. It prints a table of the results.
func TestTemplateCollection(t *testing.T) {
	dir := os.Getenv(collectionEnv)
	if dir == "" {
		t.Skipf("%s is not set: point it at a folder of *.jinja chat templates (for example llama.cpp's "+
			"models/templates) to check that each compiles and renders the standard conversations", collectionEnv)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s=%s: no *.jinja files (%v)", collectionEnv, dir, err)
	}
	inputs := make([]Input, len(collectionCases))
	for i, c := range collectionCases {
		if err := json.Unmarshal([]byte(c.input), &inputs[i]); err != nil {
			t.Fatalf("case %s: %v", c.name, err)
		}
		inputs[i].BOS, inputs[i].EOS = "<s>", "</s>"
		inputs[i].Now = fixedNow
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-55s %-8s", "template", "compile")
	for _, c := range collectionCases {
		fmt.Fprintf(&table, " %-10s", c.name)
	}
	table.WriteString("\n")
	var compiled, clean, failures int
	var notes []string
	for _, file := range files {
		name := filepath.Base(file)
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		results := make([]outcome, len(collectionCases))
		tmpl, cerr := compileSafely(string(src))
		status := "ok"
		if cerr != nil {
			status = "FAIL"
			for i := range results {
				results[i] = outcome{"-", ""}
			}
			notes = append(notes, fmt.Sprintf("%s: compile: %v", name, cerr))
		} else {
			compiled++
			for i, in := range inputs {
				results[i] = renderSafely(tmpl, in)
				if results[i].kind != "ok" {
					notes = append(notes, fmt.Sprintf("%s [%s] %s: %s", name, collectionCases[i].name, results[i].kind, results[i].msg))
				}
			}
		}
		fmt.Fprintf(&table, "%-55s %-8s", name, status)
		failed := cerr != nil
		for i, r := range results {
			fmt.Fprintf(&table, " %-10s", r.kind)
			if r.kind == "FAIL" {
				failed = true
			}
			key := name + "/" + collectionCases[i].name
			reason, known := collectionKnown[key]
			if !known {
				reason, known = collectionKnown[name+"/*"]
			}
			bad := r.kind == "FAIL" || (cerr != nil && i == 0)
			switch {
			case bad && !known:
				failures++
				if cerr != nil {
					t.Errorf("%s: %v", name, cerr)
				} else {
					t.Errorf("%s [%s]: %s", name, collectionCases[i].name, r.msg)
				}
			case !bad && known && cerr == nil:
				t.Errorf("%s [%s] passes now: drop it from collectionKnown (%s)", name, collectionCases[i].name, reason)
			}
		}
		table.WriteString("\n")
		if !failed {
			clean++
		}
	}
	t.Logf("templates in %s:\n%s\n%s", dir, table.String(), strings.Join(notes, "\n"))
	t.Logf("%d templates: %d compile, %d compile and render every case (or refuse it through raise_exception), %d unexplained failures",
		len(files), compiled, clean, failures)
}

// compileSafely compiles src, turning a panic in the library into an error.
func compileSafely(src string) (t *Template, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return Compile(src)
}

// renderSafely renders in and classifies the result, turning a panic into a failure.
func renderSafely(t *Template, in Input) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = outcome{"FAIL", fmt.Sprintf("panic: %v", p)}
		}
	}()
	out, err := t.Render(in)
	var re *RaiseError
	switch {
	case errors.As(err, &re):
		return outcome{"refused", re.Message}
	case err != nil:
		return outcome{"FAIL", err.Error()}
	case strings.TrimSpace(out) == "":
		return outcome{"FAIL", "empty rendering"}
	}
	return outcome{"ok", ""}
}
