package gguf

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadTokenizerTurnAndFIMTokens reads the optional special-token keys chat and infill need, with
// llama.cpp's rules: a missing key, uint32(-1) and an id outside the vocabulary all mean "not named", and the
// deprecated prefix/suffix/middle keys win over the fim_* ones.
func TestReadTokenizerTurnAndFIMTokens(t *testing.T) {
	var md Metadata
	md.Set("tokenizer.ggml.model", "gpt2")
	md.Set("tokenizer.ggml.tokens", []string{"a", "b", "c", "d", "e", "f"})
	md.Set("tokenizer.ggml.eot_token_id", uint32(3))
	md.Set("tokenizer.ggml.eom_token_id", uint32(math.MaxUint32))
	md.Set("tokenizer.ggml.fim_pre_token_id", uint32(1))
	md.Set("tokenizer.ggml.prefix_token_id", uint32(2))
	md.Set("tokenizer.ggml.fim_suf_token_id", uint32(4))
	md.Set("tokenizer.ggml.suffix_token_id", uint32(99)) // out of range: ignored, fim_suf stays
	md.Set("tokenizer.ggml.fim_sep_token_id", uint32(5))
	tok, err := ReadTokenizer(&md)
	require.NoError(t, err)
	id := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	require.Equal(t, 3, id(tok.EOT))
	require.Nil(t, tok.EOM)
	require.Equal(t, 2, id(tok.FIMPre))
	require.Equal(t, 4, id(tok.FIMSuf))
	require.Nil(t, tok.FIMMid)
	require.Nil(t, tok.FIMPad)
	require.Nil(t, tok.FIMRep)
	require.Equal(t, 5, id(tok.FIMSep))

	md.Set("tokenizer.ggml.eot_token_id", "three")
	_, err = ReadTokenizer(&md)
	require.ErrorContains(t, err, "tokenizer.ggml.eot_token_id")
}
