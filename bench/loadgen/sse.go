package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// errNoDone is a stream that ended without its "data: [DONE]" event: the server stopped mid-answer.
var errNoDone = errors.New("the event stream ended without data: [DONE]")

// readEvents reads a server-sent event stream and calls fn with the data of each event (the values of its
// "data:" lines joined by newlines), up to the [DONE] event, which is not passed on. Lines that begin with a
// colon are comments, other fields (event:, id:, retry:) are ignored, and CRLF line ends are accepted. An
// error from fn stops the reading and is returned; a stream that ends before [DONE] is errNoDone.
func readEvents(r io.Reader, fn func(data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var data []byte
	have := false
	dispatch := func() (done bool, err error) {
		if !have {
			return false, nil
		}
		d := data
		data, have = data[:0], false
		if string(d) == "[DONE]" {
			return true, nil
		}
		return false, fn(d)
	}
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 {
			if done, err := dispatch(); done || err != nil {
				return err
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if have {
			data = append(data, '\n')
		}
		data, have = append(data, value...), true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// the last event may lack its blank line
	if done, err := dispatch(); done || err != nil {
		return err
	}
	return errNoDone
}

// chunk is one streamed event of /v1/completions: a piece of text, the finish reason, the usage (with
// stream_options.include_usage), or an error the server sent after the stream began.
type chunk struct {
	Choices []struct {
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// parseChunk decodes an event's data; an error event becomes an error.
func parseChunk(data []byte) (chunk, error) {
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("an event is not a JSON completion chunk (%v): %.120q", err, data)
	}
	if c.Error != nil {
		return c, fmt.Errorf("the server ended the stream with an error: %s", strings.TrimSpace(c.Error.Message))
	}
	return c, nil
}

// text is the chunk's text (the first choice's; a completion request has one).
func (c chunk) text() string {
	if len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].Text
}
