package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestGreedyStories260K: 128 greedy tokens from "Once upon a time" and from BOS alone equal llama.cpp's,
// and the text equals its pieces and its detokenization.
func TestGreedyStories260K(t *testing.T) {
	dir := testutil.Shared(t, "reference/greedy")
	m := loadShared(t, "stories260K.gguf")
	for _, name := range []string{"stories260K__once_upon_a_time.json", "stories260K__bos_only.json"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			var ref struct {
				Prompt    string  `json:"prompt"`
				Tokens    []int32 `json:"tokens"`
				Generated []int32 `json:"generated"`
				Detok     string  `json:"text_detokenize"`
				Concat    string  `json:"text_concat_pieces"`
			}
			require.NoError(t, json.Unmarshal(raw, &ref))
			if ref.Prompt != "" {
				require.Equal(t, ref.Tokens, m.Tokenizer.Encode(ref.Prompt, true, false))
			}
			s, err := m.NewSession(256, 64)
			require.NoError(t, err)
			got, st, err := s.Generate(ref.Tokens, GenerateOptions{MaxTokens: len(ref.Generated), IgnoreEOG: true})
			require.NoError(t, err)
			require.Equal(t, ref.Generated, got)
			require.Equal(t, len(ref.Tokens), st.PromptTokens)
			var text []byte
			for _, id := range got {
				text = m.Tokenizer.AppendPiece(text, id, false)
			}
			require.Equal(t, ref.Concat, string(text))
			require.Equal(t, ref.Detok, m.Tokenizer.Decode(got, false))
		})
	}
}
