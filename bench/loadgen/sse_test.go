package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func events(t *testing.T, stream string) ([]string, error) {
	t.Helper()
	var got []string
	err := readEvents(strings.NewReader(stream), func(d []byte) error {
		got = append(got, string(d))
		return nil
	})
	return got, err
}

func TestReadEvents(t *testing.T) {
	got, err := events(t, "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n")
	require.NoError(t, err)
	require.Equal(t, []string{`{"a":1}`, `{"b":2}`}, got)

	// CRLF, comments, other fields, no space after the colon, a multi-line event, and nothing after [DONE]
	got, err = events(t, ": keep-alive\r\nevent: x\r\nid: 3\r\ndata:one\r\ndata: two\r\n\r\nretry: 5\n\ndata: [DONE]\n\ndata: after\n\n")
	require.NoError(t, err)
	require.Equal(t, []string{"one\ntwo"}, got)

	// the final blank line may be missing
	got, err = events(t, "data: x\n\ndata: [DONE]")
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, got)

	// an empty data line is an (empty) event; a bare "data" field too
	got, err = events(t, "data:\n\ndata\n\ndata: [DONE]\n\n")
	require.NoError(t, err)
	require.Equal(t, []string{"", ""}, got)
}

func TestReadEventsTruncated(t *testing.T) {
	got, err := events(t, "data: x\n\ndata: y\n\n")
	require.ErrorIs(t, err, errNoDone)
	require.Equal(t, []string{"x", "y"}, got)
	_, err = events(t, "")
	require.ErrorIs(t, err, errNoDone)
}

func TestReadEventsStopsOnCallbackError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := readEvents(strings.NewReader("data: a\n\ndata: b\n\ndata: [DONE]\n\n"), func([]byte) error {
		n++
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 1, n)
}

func TestReadEventsByteAtATime(t *testing.T) {
	// a stream that arrives in pieces (as over a socket) reads the same
	var got []string
	r := iotest.OneByteReader(strings.NewReader("data: {\"choices\":[{\"text\":\" the\"}]}\n\ndata: [DONE]\n\n"))
	require.NoError(t, readEvents(r, func(d []byte) error { got = append(got, string(d)); return nil }))
	require.Equal(t, []string{`{"choices":[{"text":" the"}]}`}, got)
}

func TestReadEventsReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("data: x\n\n"), iotest.ErrReader(io.ErrUnexpectedEOF))
	require.ErrorIs(t, readEvents(r, func([]byte) error { return nil }), io.ErrUnexpectedEOF)
}

func TestParseChunk(t *testing.T) {
	c, err := parseChunk([]byte(`{"id":"cmpl-1","object":"text_completion","choices":[{"text":" upon","index":0,"logprobs":null,"finish_reason":null}]}`))
	require.NoError(t, err)
	require.Equal(t, " upon", c.text())
	require.Nil(t, c.Usage)

	c, err = parseChunk([]byte(`{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":64,"total_tokens":69}}`))
	require.NoError(t, err)
	require.Equal(t, "", c.text())
	require.Equal(t, 64, c.Usage.CompletionTokens)

	c, err = parseChunk([]byte(`{"choices":[{"text":"","finish_reason":"length"}]}`))
	require.NoError(t, err)
	require.Equal(t, "length", *c.Choices[0].FinishReason)

	_, err = parseChunk([]byte(`{"error":{"message":"the server is shutting down","type":"server_error"}}`))
	require.ErrorContains(t, err, "the server is shutting down")

	_, err = parseChunk([]byte(`not json`))
	require.ErrorContains(t, err, "not a JSON completion chunk")
}
