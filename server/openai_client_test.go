package server

import (
	"context"
	"strings"
	"testing"

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
