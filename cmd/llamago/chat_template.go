package main

import (
	"encoding/json"
	"log/slog"

	"github.com/llamago/llamago/chat"
)

// chatRenderer is the model's chat template as the server uses it: tokenizer.chat_template rendered with
// the Hugging Face variables, or ChatML when the model has none (said in the log).
func chatRenderer(lm *loadedModel, log *slog.Logger) (func(messages, tools json.RawMessage) (string, error), error) {
	var base chat.Input
	tmpl, fallback, err := chatTemplate(lm.file, &base)
	if err != nil {
		return nil, err
	}
	if fallback {
		log.Warn("the model has no tokenizer.chat_template: chat requests use ChatML (<|im_start|>role ... <|im_end|>), as llama.cpp does; /v1/completions takes raw prompts")
	}
	return func(messages, tools json.RawMessage) (string, error) {
		in := base
		in.Messages, in.Tools, in.AddGenerationPrompt = messages, tools, true
		return tmpl.Render(in)
	}, nil
}
