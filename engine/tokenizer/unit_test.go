package tokenizer

import (
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

func TestPreTokenizers(t *testing.T) {
	require.Equal(t, []string{"Hello", " world", "'s", " ", " a", "!!", "\n"}, splitGPT2("Hello world's  a!!\n"))
	require.Equal(t, []string{"I", "'m", " ", "123", "45", " ok", "!!\n\n", "yes", "'LL"}, splitLlama3("I'm 12345 ok!!\n\nyes'LL"))
	require.Equal(t, []string{"a", "  \n", "b", "   ", " c"}, splitLlama3("a  \nb    c"))
	require.Equal(t, []string{"Hello", ",", " world", "!", " ", "123", "456", "7"}, splitDefault("Hello, world! 1234567"))
	require.Equal(t, []string{"é", " 日本"}, splitGPT2("é 日本"))
	// Invalid UTF-8 is kept byte for byte.
	require.Equal(t, "a\xffb", joinAll(splitGPT2("a\xffb")))
}

func joinAll(s []string) string {
	out := ""
	for _, x := range s {
		out += x
	}
	return out
}

// bpeFixture is a tiny byte-level BPE vocabulary: bytes 'a'…'d', space, and merges that build "ab", "abc", " ab".
func bpeFixture(t *testing.T, pre string) *Tokenizer {
	toks := []string{"a", "b", "c", "d", "Ġ", "ab", "abc", "Ġab", "<|end|>"}
	types := []int32{1, 1, 1, 1, 1, 1, 1, 1, gguf.TokenControl}
	yes := true
	tok, err := New(&gguf.TokenizerInfo{Model: "gpt2", Pre: pre, Tokens: toks, TokenTypes: types,
		Merges: []string{"a b", "ab c", "Ġ ab"}, BOS: 8, EOS: 8, UNK: -1, PAD: -1, AddBOS: &yes}, nil)
	require.NoError(t, err)
	return tok
}

func TestBPEEncodeDecode(t *testing.T) {
	tok := bpeFixture(t, "gpt-2")
	ids := tok.Encode("abc ab d", true, false)
	require.Equal(t, []int32{8, 6, 7, 4, 3}, ids) // BOS, "abc", " ab", " " (no " d" merge), "d"
	require.Equal(t, "abc ab d", tok.Decode(ids, false))
	require.Equal(t, "<|end|>abc ab d", tok.Decode(ids, true))
	require.Equal(t, []int32{6, 8}, tok.Encode("abc<|end|>", false, true))
	require.NotEqual(t, []int32{6, 8}, tok.Encode("abc<|end|>", false, false), "control tokens parse only when asked")
	require.True(t, tok.IsEOG(8))

	_, err := New(&gguf.TokenizerInfo{Model: "gpt2", Pre: "klingon", Tokens: []string{"a"}, BOS: -1, EOS: -1}, nil)
	require.ErrorContains(t, err, `pre-tokenizer "klingon" is not supported`)
	_, err = New(&gguf.TokenizerInfo{Model: "wordpiece", Tokens: []string{"a"}, BOS: -1, EOS: -1}, nil)
	require.ErrorContains(t, err, `tokenizer model "wordpiece" is not supported`)
}

func TestStreamNeverSplitsCharacters(t *testing.T) {
	// An SPM vocabulary with byte-fallback tokens only: every byte of "é🦙" arrives as its own token.
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{gguf.TokenUnknown, gguf.TokenControl, gguf.TokenControl}
	for b := 0; b < 256; b++ {
		toks = append(toks, "<0x"+string("0123456789ABCDEF"[b>>4])+string("0123456789ABCDEF"[b&15])+">")
		types = append(types, gguf.TokenByte)
	}
	tok, err := New(&gguf.TokenizerInfo{Model: "llama", Tokens: toks, TokenTypes: types, BOS: 1, EOS: 2, UNK: 0, PAD: -1}, nil)
	require.NoError(t, err)
	ids := tok.Encode("é🦙x", false, false)
	s := tok.NewStream(false)
	var outs []string
	for _, id := range ids {
		if o := s.Push(id); o != "" {
			outs = append(outs, o)
		}
	}
	// The prefixed space is "▁", itself three byte tokens here (as in llama.cpp), then é, 🦙 and x.
	require.Equal(t, []string{"▁", "é", "🦙", "x"}, outs)
	require.Empty(t, s.Flush())
	// A character cut off at the end is released by Flush.
	s.Push(3 + 0xF0)
	require.Equal(t, "\xf0", s.Flush())
}
