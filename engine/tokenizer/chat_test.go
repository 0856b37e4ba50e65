package tokenizer

import (
	"fmt"
	"slices"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// vocabToken is one extra token of an in-memory test vocabulary.
type vocabToken struct {
	text string
	typ  int32
}

// spmVocab builds a SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte-fallback tokens, then
// extra (so any text encodes, and the extra tokens' ids are 259, 260, …). edit may change the info before
// New sees it.
func spmVocab(t *testing.T, extra []vocabToken, edit func(*gguf.TokenizerInfo)) *Tokenizer {
	t.Helper()
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{gguf.TokenUnknown, gguf.TokenControl, gguf.TokenControl}
	for b := 0; b < 256; b++ {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, gguf.TokenByte)
	}
	for _, e := range extra {
		toks = append(toks, e.text)
		types = append(types, e.typ)
	}
	info := &gguf.TokenizerInfo{Model: "llama", Tokens: toks, TokenTypes: types, BOS: 1, EOS: 2, UNK: 0, PAD: -1}
	if edit != nil {
		edit(info)
	}
	tok, err := New(info, nil)
	require.NoError(t, err)
	return tok
}

func intp(v int) *int { return &v }

// A Phi-3-style vocabulary stores "<|end|>" as user-defined and "<|im_end|>" as normal: llama.cpp treats both
// as control tokens (found by their text) and stops on them; "<|user|>" only looks like one and stays
// user-defined.
func TestControlLookingTokensBecomeControl(t *testing.T) {
	extra := []vocabToken{{"▁", gguf.TokenNormal}, {"a", gguf.TokenNormal}, {"▁a", gguf.TokenNormal},
		{"<|end|>", gguf.TokenUserDefined}, {"<|user|>", gguf.TokenUserDefined}, {"<|im_end|>", gguf.TokenNormal}}
	var info *gguf.TokenizerInfo
	tok := spmVocab(t, extra, func(i *gguf.TokenizerInfo) { info = i })
	const a, spA, end, user, imEnd = 260, 261, 262, 263, 264

	require.True(t, tok.IsControl(end))
	require.True(t, tok.IsControl(imEnd))
	require.False(t, tok.IsControl(user))
	require.Equal(t, int32(gguf.TokenUserDefined), info.TokenTypes[end], "the caller's TokenizerInfo is left as read")

	// Without special parsing a control token's text is plain text; user-defined tokens always parse.
	require.NotContains(t, tok.Encode("a<|end|>", false, false), int32(end))
	require.Equal(t, []int32{spA, end}, tok.Encode("a<|end|>", false, true))
	require.Equal(t, []int32{user, spA}, tok.Encode("<|user|>a", false, false))
	require.NotContains(t, tok.Encode("<|im_end|>", false, false), int32(imEnd))

	// Decode without special leaves control tokens out, with special prints them.
	require.Equal(t, "a", tok.Decode([]int32{a, end}, false))
	require.Equal(t, "a<|end|>", tok.Decode([]int32{a, end}, true))
	require.Equal(t, "<|user|>a", tok.Decode([]int32{user, a}, false))

	require.True(t, tok.IsEOG(end))
	require.True(t, tok.IsEOG(imEnd))
	require.False(t, tok.IsEOG(user))
	require.Equal(t, []int32{2, end, imEnd}, tok.EOG())
	require.Equal(t, int32(end), tok.EOT, "the lowest id of the end-of-turn texts")
	require.Equal(t, int32(-1), tok.EOM)
}

// The EOG set: EOS, the EOT/EOM the file names (whatever their type), the FIM pad/repo/separator tokens and
// every end-of-turn text; FIM prefix/suffix/middle tokens become control but do not stop generation.
func TestEOGSet(t *testing.T) {
	extra := []vocabToken{{"x", gguf.TokenNormal}, {"y", gguf.TokenNormal}, {"<|eot_id|>", gguf.TokenControl},
		{"<|eom_id|>", gguf.TokenNormal}, {"<|fim_pad|>", gguf.TokenNormal}, {"<|fim_prefix|>", gguf.TokenNormal},
		{"<|file_sep|>", gguf.TokenControl}, {"<end_of_turn>", gguf.TokenUnused}, {"<|start_header_id|>", gguf.TokenControl}}
	const x, y, eot, eom, fimPad, fimPre, fileSep, endOfTurn, header = 259, 260, 261, 262, 263, 264, 265, 266, 267
	tok := spmVocab(t, extra, func(i *gguf.TokenizerInfo) { i.EOT = intp(x) })
	require.Equal(t, int32(x), tok.EOT, "the file's EOT wins over the text")
	require.False(t, tok.IsControl(x), "a token the file names keeps its type")
	require.Equal(t, int32(eom), tok.EOM)
	require.True(t, tok.IsControl(eom))
	require.True(t, tok.IsControl(fimPre))
	require.True(t, tok.IsControl(endOfTurn))
	require.Equal(t, []int32{2, x, eot, eom, fimPad, fileSep, endOfTurn}, tok.EOG())
	for _, id := range []int32{y, fimPre, header, 1, 0, -1, 9999} {
		require.False(t, tok.IsEOG(id), "token %d", id)
	}

	// The file's FIM pad id replaces the lookup by text: "<|fim_pad|>" is then neither EOG nor retyped.
	tok = spmVocab(t, extra, func(i *gguf.TokenizerInfo) { i.FIMPad = intp(y); i.EOM = intp(x) })
	require.Equal(t, []int32{2, x, y, eot, eom, fileSep, endOfTurn}, tok.EOG(), "<|eom_id|> is an end-of-generation text itself")
	require.Equal(t, int32(eot), tok.EOT)
	require.False(t, tok.IsControl(fimPad))
}

// llama.cpp's corrections for vocabularies where a usual end-of-turn text is not one.
func TestEOGWorkarounds(t *testing.T) {
	// gpt-oss: "<|end|>" ends a message, not generation, when "<|return|>" and "<|call|>" exist; its
	// structure tokens are made user-defined so they always print.
	tok := spmVocab(t, []vocabToken{{"<|return|>", gguf.TokenControl}, {"<|call|>", gguf.TokenControl},
		{"<|end|>", gguf.TokenControl}, {"<|start|>", gguf.TokenControl}, {"<|channel|>", gguf.TokenControl}}, nil)
	require.Equal(t, []int32{2, 259, 260}, tok.EOG())
	require.False(t, tok.IsControl(261))
	require.Equal(t, "<|start|><|channel|><|end|>", tok.Decode([]int32{262, 263, 261}, false))
	require.Equal(t, []int32{262, 261}, tok.Encode("<|start|><|end|>", false, false))

	// Solar Open: "<|calls|>" and "<|flush|>" do the same.
	tok = spmVocab(t, []vocabToken{{"<|flush|>", gguf.TokenControl}, {"<|calls|>", gguf.TokenControl},
		{"<|end|>", gguf.TokenControl}}, nil)
	require.Equal(t, []int32{2, 259, 260}, tok.EOG())
	// "<|end|>" with only one of them stays EOG.
	tok = spmVocab(t, []vocabToken{{"<|return|>", gguf.TokenControl}, {"<|end|>", gguf.TokenControl}}, nil)
	require.Equal(t, []int32{2, 259, 260}, tok.EOG())

	// Gemma 4: "</s>" is not EOG (nor control) when "<|tool_response>" exists; EOS here is another token.
	tok = spmVocab(t, []vocabToken{{"<eos>", gguf.TokenControl}, {"<|tool_response>", gguf.TokenControl}},
		func(i *gguf.TokenizerInfo) { i.EOS = 259 })
	require.Equal(t, []int32{259, 260}, tok.EOG())
	require.False(t, tok.IsControl(2))
	require.False(t, tok.IsEOG(2))
}

// EOG reports EOS even when a caller changes it after New, as IsEOG always did.
func TestEOGFollowsEOS(t *testing.T) {
	tok := spmVocab(t, []vocabToken{{"x", gguf.TokenNormal}}, nil)
	tok.EOS = 259
	require.True(t, tok.IsEOG(259))
	require.True(t, slices.Contains(tok.EOG(), 259))
}
