package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// vocabModel writes a GGUF file holding only a tokenizer (special tokens <|b|>, <|e|>, <|u|>) and, when
// not empty, a chat template.
func vocabModel(t *testing.T, chatTemplate string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vocab.gguf")
	fh, err := os.Create(p)
	require.NoError(t, err)
	w := gguf.NewWriter(fh)
	w.Metadata.Set("general.architecture", "llama")
	w.Metadata.Set("tokenizer.ggml.model", "llama")
	w.Metadata.Set("tokenizer.ggml.tokens", []string{"<|u|>", "<|b|>", "<|e|>", "a"})
	w.Metadata.Set("tokenizer.ggml.bos_token_id", uint32(1))
	w.Metadata.Set("tokenizer.ggml.eos_token_id", uint32(2))
	w.Metadata.Set("tokenizer.ggml.unknown_token_id", uint32(0))
	if chatTemplate != "" {
		w.Metadata.Set("tokenizer.chat_template", chatTemplate)
	}
	require.NoError(t, w.Close())
	require.NoError(t, fh.Close())
	return p
}

const testTemplate = `{{ bos_token }}{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here: ' ~ m.content) }}{% endif %}` +
	`[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}` +
	`{{ tools | tojson }}{{ strftime_now(' %d %b %Y') }}{% if flavour is defined %} {{ flavour }}{% endif %}` + "\n"

func TestTemplateCommand(t *testing.T) {
	dir := t.TempDir()
	tmpl := writeFile(t, dir, "t.jinja", testTemplate)
	one := writeFile(t, dir, "one.json", `{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true,
		"tools": [{"name": "f", "b": 1.0, "a": "ü"}], "bos_token": "<s>", "eos_token": "</s>", "flavour": "mint", "expected": "not a variable"}`)
	cases := writeFile(t, dir, "cases.json", `{"cases": [
		{"messages": [{"role": "user", "content": "A"}], "tools": null, "bos_token": "<s>", "eos_token": "</s>", "expected": "x"},
		{"messages": [{"role": "user", "content": "A"}, {"role": "tool", "content": "42"}], "raised": "no tools here: 42"}]}`)
	const now = "2024-07-26T12:00:00Z"

	out, stderr, code := run(t, "template", "-t", tmpl, "-i", one, "--now", now)
	require.Zero(t, code, stderr)
	require.Equal(t, `<s>[user]Hi</s>[assistant][{"name": "f", "b": 1.0, "a": "ü"}] 26 Jul 2024 mint`, out, "exact, no newline added")
	require.Empty(t, stderr)

	out, stderr, code = run(t, "template", "--template", tmpl, "--input", cases, "--now", now)
	require.Zero(t, code, stderr)
	require.Equal(t, "<s>[user]A</s>null 26 Jul 2024", out, "case 0 by default")

	out, stderr, code = run(t, "template", "-t", tmpl, "-i", cases, "--case", "1")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, stderr, "the template refused this conversation: no tools here: 42")

	out, stderr, code = runStdin(t, `{"messages": [{"role": "user", "content": "piped"}]}`, "template", "-t", tmpl, "-i", "-", "--now", now)
	require.Zero(t, code, stderr)
	require.Equal(t, "[user]pipednull 26 Jul 2024", out, "no bos_token, eos_token or tools given")

	// Without -i: a sample conversation.
	out, stderr, code = run(t, "template", "-t", tmpl, "--now", now)
	require.Zero(t, code, stderr)
	require.Contains(t, out, "[user]What is the capital of France?</s>")

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"template"}, 2, "give the template with -t FILE.jinja, or a model with -m MODEL.gguf"},
		{[]string{"template", "-t", tmpl, "-m", "x.gguf"}, 2, "give -t or -m, not both"},
		{[]string{"template", "-t", tmpl, "-i", cases, "--case", "2"}, 2, "--case 2: " + cases + " has 2 cases (give 0 to 1)"},
		{[]string{"template", "-t", tmpl, "-i", one, "--case", "1"}, 2, "is a single case"},
		{[]string{"template", "-t", tmpl, "--now", "yesterday"}, 2, "want an RFC 3339 time"},
		{[]string{"template", "-t", filepath.Join(dir, "nope.jinja")}, 1, "template file: open"},
		{[]string{"template", "-t", writeFile(t, dir, "bad.jinja", "{% for m in messages %}")}, 1, "bad.jinja: chat template does not compile: unclosed for block"},
		{[]string{"template", "-t", tmpl, "-i", writeFile(t, dir, "bad.json", `{"messages": [`)}, 1, "bad.json: want a JSON object"},
		{[]string{"template", "-t", tmpl, "-i", writeFile(t, dir, "nomsg.json", `{"tools": null}`)}, 1, `has no "messages"`},
		{[]string{"template", "-t", tmpl, "-i", writeFile(t, dir, "badmsg.json", `{"messages": {"role": "user"}}`)}, 1, "chat input: messages is an object, want an array"},
		{[]string{"run", "-i"}, 2, "-i is a llama.cpp flag"}, // -i is only template's own
	} {
		_, stderr, code := run(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, "%v", c.args)
	}
}

func TestTemplateFromModel(t *testing.T) {
	dir := t.TempDir()
	conv := writeFile(t, dir, "c.json", `{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true, "bos_token": "<s>"}`)

	// The model's template, with the model's special tokens (the case's bos_token is overridden).
	m := vocabModel(t, "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}{{ unk_token }}\n")
	out, stderr, code := run(t, "template", "-m", m, "-i", conv)
	require.Zero(t, code, stderr)
	require.Equal(t, "<|b|><user>Hi<|e|><|u|>", out)
	require.Empty(t, stderr)

	// No template: ChatML, said on stderr.
	out, stderr, code = run(t, "template", "-m", vocabModel(t, ""), "-i", conv)
	require.Zero(t, code, stderr)
	require.Equal(t, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", out)
	require.Contains(t, stderr, "has no tokenizer.chat_template; using the ChatML fallback")

	// A broken template in the model is reported with the model's name.
	_, stderr, code = run(t, "template", "-m", vocabModel(t, "{{ messages"), "-i", conv)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "tokenizer.chat_template: chat template does not compile")
}

// The shared templates' cases render through the CLI exactly as expected (the chat package's golden
// test covers every case; this checks the command passes everything through unchanged).
func TestTemplateSharedCase(t *testing.T) {
	dir := testutil.Shared(t, "templates")
	name := "meta-llama-Llama-3.1-8B-Instruct"
	var f struct {
		Cases []struct{ Expected *string }
	}
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &f))
	require.Len(t, f.Cases, 6)
	for _, c := range []string{"0", "5"} { // 5 has tools (tojson with indent=4)
		out, stderr, code := run(t, "template", "-t", filepath.Join(dir, name+".jinja"), "-i", filepath.Join(dir, name+".json"),
			"--case", c, "--now", "2024-07-26T12:00:00Z")
		require.Zero(t, code, stderr)
		want := f.Cases[c[0]-'0'].Expected
		require.NotNil(t, want)
		require.Equal(t, *want, out, "case %s", c)
	}
}
