package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/llamago/llamago/chat"
	"github.com/llamago/llamago/gguf"
	"github.com/spf13/cobra"
)

type templateOptions struct {
	Template string
	Model    string
	Input    string
	Case     int
	Now      string
}

func newTemplateCmd() *cobra.Command {
	var o templateOptions
	cmd := &cobra.Command{
		Use:   "template (-t TEMPLATE.jinja | -m MODEL) [-i CASE.json] [--case N] [--now TIME]",
		Short: "Render a chat template: the prompt a conversation becomes, as the server will build it",
		Long: `Template renders a Jinja chat template for one conversation and prints the result exactly as it is (no
newline added), so you can see, or compare byte for byte, the prompt the chat server will feed the model.
Rendering follows Hugging Face transformers' apply_chat_template (jinja2).

The template comes from a file (-t) or from a model's tokenizer.chat_template (-m); a model without one
gets the ChatML fallback that llama.cpp also uses, and a note on stderr says so. With -m, bos_token,
eos_token, unk_token and pad_token are the texts of the model's own special tokens.

The conversation (-i) is a JSON object of render variables:
  {"messages": [{"role": "user", "content": "Hello!"}], "tools": null, "add_generation_prompt": true,
   "bos_token": "<s>", "eos_token": "</s>"}
Other keys are passed to the template too (like chat_template_kwargs' "enable_thinking"). A file with a
"cases" list of such objects (as in ../shared/templates) works too: --case picks one. -i - reads standard
input; without -i a short sample conversation is rendered.

When the template refuses the conversation (raise_exception), its message is printed on stderr and the
exit status is 1.`,
		Example: `  llamago template -t chat.jinja -i conversation.json
  llamago template -t ../shared/templates/Qwen-Qwen2.5-7B-Instruct.jinja \
      -i ../shared/templates/Qwen-Qwen2.5-7B-Instruct.json --case 5 --now 2024-07-26T12:00:00Z
  llamago template -m model.gguf            # the model's template on a sample conversation
  echo '{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true}' | llamago template -m model.gguf -i -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTemplate(cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.InOrStdin(), cmd.Flags().Changed("case"), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Template, "template", "t", "", "the Jinja chat template file")
	f.StringVarP(&o.Model, "model", "m", "", "take the template and special tokens from this GGUF model instead of -t")
	f.StringVarP(&o.Input, "input", "i", "", "the conversation: a JSON file of render variables, or of a \"cases\" list (-: standard input)")
	f.IntVar(&o.Case, "case", 0, "which of the file's \"cases\" to render (from 0)")
	f.StringVar(&o.Now, "now", "", "the time strftime_now sees, as RFC 3339 (2024-07-26T12:00:00Z; default: the current time)")
	return cmd
}

// sampleConversation is rendered when no -i is given.
const sampleConversation = `{"messages": [
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "What is the capital of France?"},
  {"role": "assistant", "content": "Paris."},
  {"role": "user", "content": "And of Germany?"}
], "tools": null, "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"}`

func runTemplate(stdout, stderr io.Writer, stdin io.Reader, caseGiven bool, o templateOptions) error {
	switch {
	case o.Template == "" && o.Model == "":
		return usagef("give the template with -t FILE.jinja, or a model with -m MODEL.gguf to use its tokenizer.chat_template")
	case o.Template != "" && o.Model != "":
		return usagef("give -t or -m, not both: -m takes the template from the model")
	}
	var now func() time.Time
	if o.Now != "" {
		at, err := time.Parse(time.RFC3339, o.Now)
		if err != nil {
			return usagef("--now %q: want an RFC 3339 time like 2024-07-26T12:00:00Z", o.Now)
		}
		now = func() time.Time { return at }
	}
	in, err := readTemplateInput(stdin, o.Input, o.Case, caseGiven)
	if err != nil {
		return err
	}
	in.Now = now

	var tmpl *chat.Template
	if o.Template != "" {
		src, err := os.ReadFile(o.Template)
		if err != nil {
			return fmt.Errorf("template file: %w", err)
		}
		if tmpl, err = chat.Compile(string(src)); err != nil {
			return fmt.Errorf("%s: %w", o.Template, err)
		}
	} else {
		if tmpl, err = modelTemplate(stderr, o.Model, &in); err != nil {
			return err
		}
	}
	out, err := tmpl.Render(in)
	if re, ok := errors.AsType[*chat.RaiseError](err); ok {
		return fmt.Errorf("the template refused this conversation: %s", re.Message)
	}
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, out)
	return err
}

// readTemplateInput reads the render variables from path (- is stdin; "" the sample conversation):
// one case object, or case n of a "cases" list.
func readTemplateInput(stdin io.Reader, path string, n int, caseGiven bool) (chat.Input, error) {
	var data []byte
	var err error
	name := path
	switch path {
	case "":
		data, name = []byte(sampleConversation), "the sample conversation"
	case "-":
		data, name = nil, "standard input"
		if stdin != nil {
			data, err = io.ReadAll(stdin)
		}
	default:
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return chat.Input{}, fmt.Errorf("input: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return chat.Input{}, fmt.Errorf("%s: want a JSON object of render variables (\"messages\", \"tools\", …) or with a \"cases\" list: %v", name, err)
	}
	raw := json.RawMessage(data)
	if list, ok := top["cases"]; ok {
		var cases []json.RawMessage
		if err := json.Unmarshal(list, &cases); err != nil {
			return chat.Input{}, fmt.Errorf("%s: \"cases\" must be a list of case objects: %v", name, err)
		}
		if n < 0 || n >= len(cases) {
			return chat.Input{}, usagef("--case %d: %s has %d cases (give 0 to %d)", n, name, len(cases), len(cases)-1)
		}
		raw = cases[n]
	} else if caseGiven && n != 0 {
		return chat.Input{}, usagef("--case %d: %s is a single case (it has no \"cases\" list)", n, name)
	}
	var in chat.Input
	if err := json.Unmarshal(raw, &in); err != nil {
		return chat.Input{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, outcome := range []string{"expected", "raised", "error"} { // a test case's result, not a variable
		delete(in.Extra, outcome)
	}
	if len(in.Messages) == 0 {
		return chat.Input{}, fmt.Errorf("%s has no \"messages\": give the conversation as {\"messages\": [{\"role\": \"user\", \"content\": \"…\"}]}", name)
	}
	return in, nil
}

// modelTemplate returns the model's chat template (or the fallback, with a note) and sets in's special
// token texts from its vocabulary.
func modelTemplate(stderr io.Writer, path string, in *chat.Input) (*chat.Template, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tmpl, fallback, err := chatTemplate(f, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if fallback {
		fmt.Fprintf(stderr, "llamago template: note: %s has no tokenizer.chat_template; using the ChatML fallback (as llama.cpp does)\n", path)
	}
	return tmpl, nil
}

// chatTemplate compiles a model file's chat template — ChatML, as llama.cpp falls back to, when it has
// none (fallback is then true) — and sets in's special token texts from its vocabulary.
func chatTemplate(f *gguf.File, in *chat.Input) (tmpl *chat.Template, fallback bool, err error) {
	if err := specialTokenTexts(f, in); err != nil {
		return nil, false, err
	}
	tok, err := f.Tokenizer()
	if err != nil {
		return nil, false, err
	}
	if tok.ChatTemplate == "" {
		return chat.Default(), true, nil
	}
	tmpl, err = chat.Compile(tok.ChatTemplate)
	if err != nil {
		return nil, false, fmt.Errorf("tokenizer.chat_template: %w", err)
	}
	return tmpl, false, nil
}

// specialTokenTexts sets in's bos_token, eos_token, unk_token and pad_token from a model's vocabulary.
func specialTokenTexts(f *gguf.File, in *chat.Input) error {
	tok, err := f.Tokenizer()
	if err != nil {
		return err
	}
	for _, s := range []struct {
		id  int
		dst *string
	}{{tok.BOS, &in.BOS}, {tok.EOS, &in.EOS}, {tok.UNK, &in.UNK}, {tok.PAD, &in.PAD}} {
		if s.id >= 0 && s.id < len(tok.Tokens) {
			*s.dst = tok.Tokens[s.id]
		}
	}
	return nil
}
