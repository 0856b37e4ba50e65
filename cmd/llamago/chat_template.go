package main

import (
	"encoding/json"
	"log/slog"
	"os"

	"github.com/llamago/llamago/chat"
)

// chatRenderer is the model's chat template as the server uses it: tokenizer.chat_template rendered with
// the Hugging Face variables, or ChatML when the model has none (said in the log, for the terminal chat
// when terminal is set). override, when not nil (--chat-template-file), is used instead of the model's,
// with the model's special tokens. source names the template used: "model", "file" or "chatml".
func chatRenderer(lm *loadedModel, override *chat.Template, terminal bool, log *slog.Logger) (render func(messages, tools json.RawMessage) (string, error), source string, err error) {
	var base chat.Input
	tmpl, source := override, "file"
	if tmpl == nil {
		var fallback bool
		if tmpl, fallback, err = chatTemplate(lm.file, &base); err != nil {
			return nil, "", err
		}
		source = "model"
		if fallback {
			source = "chatml"
			if terminal {
				log.Warn("the model has no tokenizer.chat_template: the conversation is written in ChatML (<|im_start|>role ... <|im_end|>), as llama.cpp does; --chat-template-file gives another")
			} else {
				log.Warn("the model has no tokenizer.chat_template: chat requests use ChatML (<|im_start|>role ... <|im_end|>), as llama.cpp does (--chat-template-file gives another); /v1/completions takes raw prompts")
			}
		}
	} else if err := specialTokenTexts(lm.file, &base); err != nil {
		return nil, "", err
	}
	return func(messages, tools json.RawMessage) (string, error) {
		in := base
		in.Messages, in.Tools, in.AddGenerationPrompt = messages, tools, true
		return tmpl.Render(in)
	}, source, nil
}

// chatTemplateFile reads and compiles --chat-template-file; a file that cannot be read or compiled is a
// usage error that names it.
func chatTemplateFile(path string) (*chat.Template, error) {
	if path == "" {
		return nil, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--chat-template-file: %v", err)
	}
	tmpl, err := chat.Compile(string(src))
	if err != nil {
		return nil, usagef("--chat-template-file %s: not a chat template llamago can use: %v", path, err)
	}
	return tmpl, nil
}
