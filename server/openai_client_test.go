package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
)

// TestOfficialOpenAIClient drives the server with the official OpenAI Go client, unchanged: a plain and a
// streamed chat completion (with usage), a legacy completion, the model list, and an error it must parse.
func TestOfficialOpenAIClient(t *testing.T) {
	ts := newTestServer(t, serverConfig{key: "k3y", chat: plainChat})
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("k3y"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:       "stories",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")},
		MaxTokens:   openai.Int(24),
		Temperature: openai.Float(0),
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	require.NoError(t, err)
	require.Len(t, resp.Choices, 1)
	require.Equal(t, greedyText, resp.Choices[0].Message.Content)
	require.Equal(t, "length", resp.Choices[0].FinishReason)
	require.EqualValues(t, 24, resp.Usage.CompletionTokens)

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	var text strings.Builder
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 {
			text.WriteString(chunk.Choices[0].Delta.Content)
		}
	}
	require.NoError(t, stream.Err())
	require.Equal(t, greedyText, text.String())
	require.Equal(t, greedyText, acc.Choices[0].Message.Content)
	require.EqualValues(t, 24, acc.Usage.CompletionTokens)

	c, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "stories",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(24), Temperature: openai.Float(0)})
	require.NoError(t, err)
	require.Equal(t, greedyText, c.Choices[0].Text)

	models, err := client.Models.List(ctx)
	require.NoError(t, err)
	require.Equal(t, "stories", models.Data[0].ID)

	params.Model = "gpt-4o"
	_, err = client.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.StatusCode)
	require.Equal(t, "model_not_found", apiErr.Code)

	bad := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Models.List(ctx)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 401, apiErr.StatusCode)
}

// TestHeartbeat: a streamed request that waits in the queue gets ": ping" comments every Heartbeat until
// its first token, and the official client reads through them to the same text as without them.
func TestHeartbeat(t *testing.T) {
	ts := newTestServer(t, serverConfig{parallel: 1, ctx: 2048, heartbeat: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, _ := json.Marshal(map[string]any{"prompt": "Once upon a time", "max_tokens": 2000, "ignore_eos": true, "stream": true})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/completions", strings.NewReader(string(j)))
	blocker, err := ts.Client().Do(req) // holds the only place until cancelled
	require.NoError(t, err)
	defer blocker.Body.Close()
	go io.Copy(io.Discard, blocker.Body)
	waitFor(t, "the first request runs", func() bool { return ts.model.Scheduler.Stats().Running == 1 })

	var mu sync.Mutex
	var raw bytes.Buffer
	seen := func() string { mu.Lock(); defer mu.Unlock(); return raw.String() }
	tee := option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		if err == nil {
			resp.Body = teeBody{resp.Body, func(b []byte) { mu.Lock(); raw.Write(b); mu.Unlock() }}
		}
		return resp, err
	})
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithMaxRetries(0), tee)
	stream := client.Completions.NewStreaming(context.Background(), openai.CompletionNewParams{Model: "stories",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(24), Temperature: openai.Float(0)})
	done := make(chan string, 1)
	go func() {
		var text strings.Builder
		for stream.Next() {
			if c := stream.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Text)
			}
		}
		done <- text.String()
	}()
	waitFor(t, "pings while the request waits", func() bool { return strings.Count(seen(), ": ping\n\n") >= 3 })
	require.Equal(t, 1, ts.model.Scheduler.Stats().Waiting, "it is still queued")
	require.NotContains(t, seen(), "data:")
	cancel() // the place frees: the queued request runs
	require.Equal(t, greedyText, <-done)
	require.NoError(t, stream.Err())
	require.True(t, strings.HasSuffix(seen(), "data: [DONE]\n\n"))
}

// teeBody hands what is read from a response body to seen.
type teeBody struct {
	io.ReadCloser
	seen func([]byte)
}

func (b teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.seen(p[:n])
	return n, err
}
