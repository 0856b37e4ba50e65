package main

import "encoding/json"

// chatRenderer is the model's chat template as the server uses it (nil: the model has none).
// TODO(chat): render tokenizer.chat_template with package chat once it lands.
func chatRenderer(lm *loadedModel) (func(messages, tools json.RawMessage) (string, error), error) {
	return nil, nil
}
