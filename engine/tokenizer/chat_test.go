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
	return spmVocabMD(t, extra, edit, nil)
}

// spmVocabMD is spmVocab with the file's other metadata (general.name, …).
func spmVocabMD(t *testing.T, extra []vocabToken, edit func(*gguf.TokenizerInfo), md *gguf.Metadata) *Tokenizer {
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
	tok, err := New(info, md)
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

// bpeVocab builds a byte-level BPE vocabulary with the pre-tokenizer pre: one token per byte (token i is byte i,
// stored in GPT-2's byte↔character mapping), then "Ġ," (256), "<|endoftext|>" (257, control), "<|begin_of_text|>" (258,
// control), "<|eot_id|>" (259, normal, as a careless conversion stores it) and the merge "Ġ ,". BOS is 258,
// EOS 257.
func bpeVocab(t *testing.T, pre string, edit func(*gguf.TokenizerInfo)) *Tokenizer {
	t.Helper()
	var toks []string
	var types []int32
	for b := 0; b < 256; b++ {
		toks = append(toks, string(byteToRune[b]))
		types = append(types, gguf.TokenNormal)
	}
	toks = append(toks, "Ġ,", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>")
	types = append(types, gguf.TokenNormal, gguf.TokenControl, gguf.TokenControl, gguf.TokenNormal)
	info := &gguf.TokenizerInfo{Model: "gpt2", Pre: pre, Tokens: toks, TokenTypes: types, Merges: []string{"Ġ ,"},
		BOS: 258, EOS: 257, UNK: -1, PAD: -1}
	if edit != nil {
		edit(info)
	}
	tok, err := New(info, nil)
	require.NoError(t, err)
	return tok
}

// A byte-level BPE file without tokenizer.ggml.add_bos_token gets llama.cpp's default for its pre-tokenizer:
// BOS for LLaMA 3's, none for GPT-2's, the default one or smaug-bpe; the key, when present, decides.
func TestBPEAddBOSDefault(t *testing.T) {
	for pre, want := range map[string]bool{"llama-bpe": true, "llama3": true, "gpt-2": false, "default": false, "smaug-bpe": false} {
		tok := bpeVocab(t, pre, nil)
		require.Equal(t, want, tok.AddBOS, pre)
		ids := tok.Encode("a", true, false)
		require.Equal(t, want, ids[0] == 258, "%s: %v", pre, ids)
	}
	no, yes := false, true
	require.False(t, bpeVocab(t, "llama-bpe", func(i *gguf.TokenizerInfo) { i.AddBOS = &no }).AddBOS)
	require.True(t, bpeVocab(t, "gpt-2", func(i *gguf.TokenizerInfo) { i.AddBOS = &yes }).AddBOS)
	// llama.cpp would add its default BOS id 11 to a vocabulary that names none; llamago adds nothing.
	tok := bpeVocab(t, "llama-bpe", func(i *gguf.TokenizerInfo) { i.BOS = -1 })
	require.False(t, tok.AddBOS)
	require.Equal(t, []int32{'a'}, tok.Encode("a", true, false))
}

func TestCleanSpaces(t *testing.T) {
	// Each expectation is what llama.cpp's llama_detokenize clean-up gives for the input.
	for in, want := range map[string]string{
		"Hello , world !":   "Hello, world!",
		"What ? Yes .":      "What? Yes.",
		" .":                ".",
		"a  .":              "a .",
		"a ' b":             "a'b",
		"a ' ' b":           "a'' b",
		"' '":               "' '",
		"x '":               "x '",
		"I 'm here":         "I'm here",
		"it 's":             "it's",
		"we 're , they 've": "we're, they've",
		"don 't":            "don 't",
		"you 'll":           "you 'll",
		"I 'd":              "I 'd",
		"":                  "",
		" ":                 " ",
	} {
		require.Equal(t, want, string(cleanSpaces([]byte(in))), "%q", in)
	}
}

// DecodeWith cleans up spaces only where the vocabulary asks (byte-level BPE unless its pre-tokenizer says
// otherwise; never SentencePiece), removes the BOS/EOS Encode adds, and Decode stays as it was.
func TestDecodeWith(t *testing.T) {
	tok := bpeVocab(t, "llama-bpe", nil)
	require.True(t, tok.CleanSpaces())
	ids := tok.Encode("a , b", true, false)
	require.Equal(t, []int32{258, 'a', 256, ' ', 'b'}, ids) // BOS, "a", " ,", " ", "b": token i is byte i
	require.Equal(t, "a , b", tok.Decode(ids, false))
	require.Equal(t, "a, b", tok.DecodeWith(ids, DecodeOptions{CleanSpaces: true}))
	require.Equal(t, "<|begin_of_text|>a, b", tok.DecodeWith(ids, DecodeOptions{CleanSpaces: true, Special: true}))
	require.Equal(t, "a , b", tok.DecodeWith(ids, DecodeOptions{RemoveSpecial: true, Special: true}))

	// A pre-tokenizer that keeps spaces (Qwen 2's, say) is not cleaned; nor is a SentencePiece vocabulary.
	bpeKeepsSpaces["test-keep"], preTokenizers["test-keep"] = true, splitGPT2
	defer delete(bpeKeepsSpaces, "test-keep")
	defer delete(preTokenizers, "test-keep")
	keep := bpeVocab(t, "test-keep", nil)
	require.False(t, keep.CleanSpaces())
	require.Equal(t, "a , b", keep.DecodeWith(keep.Encode("a , b", false, false), DecodeOptions{CleanSpaces: true}))
	spm := spmVocab(t, []vocabToken{{"▁", gguf.TokenNormal}, {",", gguf.TokenNormal}, {"a", gguf.TokenNormal}}, nil)
	require.False(t, spm.CleanSpaces())
	sids := spm.Encode("a ,", true, false)
	require.Equal(t, []int32{1, 259, 261, 259, 260}, sids)
	// llama.cpp strips the prefixed space from the first piece only: after a BOS it stays, whether
	// RemoveSpecial drops the BOS or the BOS prints as nothing.
	require.Equal(t, " a ,", spm.DecodeWith(sids, DecodeOptions{CleanSpaces: true, RemoveSpecial: true}))
	require.Equal(t, " a ,", spm.DecodeWith(sids, DecodeOptions{}))
	require.Equal(t, "<s> a ,", spm.DecodeWith(sids, DecodeOptions{Special: true}))
	require.Equal(t, "a ,", spm.Decode(sids[1:], false))
	// RemoveSpecial drops only the tokens the vocabulary adds: an EOS is kept when it adds none.
	require.Equal(t, "a</s>", spm.DecodeWith([]int32{261, 2}, DecodeOptions{RemoveSpecial: true, Special: true}))
	eos := true
	spmEOS := spmVocab(t, []vocabToken{{"a", gguf.TokenNormal}}, func(i *gguf.TokenizerInfo) { i.AddEOS = &eos })
	require.Equal(t, "a", spmEOS.DecodeWith([]int32{259, 2}, DecodeOptions{RemoveSpecial: true, Special: true}))
}

// Pieces follow llama_token_to_piece: unknown tokens print (their text) only with special, unused tokens
// never; TokenText, BOSText and EOSText are what a chat template gets as bos_token and eos_token.
func TestPiecesAndTokenText(t *testing.T) {
	tok := spmVocab(t, []vocabToken{{"▁a", gguf.TokenNormal}, {"<unused0>", gguf.TokenUnused}, {"<x>", gguf.TokenUserDefined}}, nil)
	require.Equal(t, "", tok.Decode([]int32{0}, false))
	require.Equal(t, "<unk>", tok.Decode([]int32{0}, true))
	require.Equal(t, "", tok.Decode([]int32{260}, true))
	require.Equal(t, "<s>", tok.BOSText())
	require.Equal(t, "</s>", tok.EOSText())
	require.Equal(t, " a", tok.TokenText(259))
	require.Equal(t, "<x>", tok.TokenText(261))
	require.Equal(t, "\n", tok.TokenText(3+'\n'))
	require.Equal(t, "", tok.TokenText(-1))
	require.Equal(t, "", tok.TokenText(9999))

	b := bpeVocab(t, "llama-bpe", nil)
	require.Equal(t, "<|begin_of_text|>", b.BOSText())
	require.Equal(t, "<|endoftext|>", b.EOSText())
	require.Equal(t, " ,", b.TokenText(256))
	b.BOS = -1
	require.Equal(t, "", b.BOSText())
}

// Invalid UTF-8, as llama.cpp tokenizes it. SentencePiece cuts symbols by the length the lead byte announces,
// valid or not, and byte-falls back what is no token; byte-level BPE turns each invalid byte into U+FFFD
// (and an overlong form into its shortest one) before pre-tokenizing.
func TestInvalidUTF8(t *testing.T) {
	spm := spmVocab(t, []vocabToken{{"▁", gguf.TokenNormal}, {"a", gguf.TokenNormal}, {"b", gguf.TokenNormal},
		{"ab", gguf.TokenNormal}}, nil)
	const sp, ab = 259, 262
	byteTok := func(b byte) int32 { return 3 + int32(b) }
	// 0xFF announces four bytes: "\xffab" is one symbol, so "ab" cannot merge and falls back to bytes.
	require.Equal(t, []int32{sp, byteTok(0xFF), byteTok('a'), byteTok('b')}, spm.Encode("\xffab", false, false))
	// A lone continuation byte is one byte; "ab" merges after it.
	require.Equal(t, []int32{sp, byteTok(0x80), ab}, spm.Encode("\x80ab", false, false))
	// A lead byte cut off by the end of the text is as long as what is left.
	require.Equal(t, []int32{sp, ab, byteTok(0xE2), byteTok('a')}, spm.Encode("ab\xe2a", false, false))
	for _, s := range []string{"\xffab", "\x80ab", "ab\xe2a", "a\xc3"} {
		require.Equal(t, s, spm.Decode(spm.Encode(s, false, false), false), "byte fallback keeps the bytes of %q", s)
	}

	bpe := bpeVocab(t, "gpt-2", nil)
	require.Equal(t, []int32{'a', 0xEF, 0xBF, 0xBD, 'b'}, bpe.Encode("a\xffb", false, false)) // U+FFFD's bytes
	require.Equal(t, bpe.Encode("a\ufffdb", false, false), bpe.Encode("a\xffb", false, false))
	require.Equal(t, []int32{'a', 0}, bpe.Encode("a\xc0\x80", false, false), "an overlong NUL is NUL")
	require.Equal(t, []int32{0xED, 0xA0, 0x80}, bpe.Encode("\xed\xa0\x80", false, false), "a surrogate is kept")
	require.Equal(t, []int32{0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD}, bpe.Encode("\xf4\x90", false, false), "a truncated sequence: one U+FFFD per byte")
	require.Equal(t, "a\ufffdb", bpe.Decode(bpe.Encode("a\xffb", false, false), false))
}

func TestBPETextMatchesLlamaCppDecoder(t *testing.T) {
	for in, want := range map[string]string{
		"héllo":            "héllo",
		"\xff":             "\ufffd",
		"\x80\xbf":         "\ufffd\ufffd",
		"\xc0\x80":         "\x00",
		"\xc1\xbf":         "\x7f",
		"\xe0\x80\xaf":     "/",
		"\xed\xa0\x80":     "\xed\xa0\x80",
		"\xc3":             "\ufffd",
		"\xc3a":            "\ufffda",
		"\xf0\x9f\xa6":     "\ufffd\ufffd\ufffd",
		"\xf0\x9f\xa6\x99": "🦙",
		"\xf8\x88\x80\x80": "\ufffd\ufffd\ufffd\ufffd",
		"\xf4\x90\x80\x80": "\ufffd\ufffd\ufffd\ufffd", // beyond U+10FFFF: llama.cpp throws; each byte is invalid here
	} {
		require.Equal(t, want, bpeText(in), "%q", in)
	}
}

// Phi-3 (by general.name, as llama.cpp decides it): special tokens swallow the whitespace after them, so a
// chat prompt's "<|user|>\n" encodes no newline; "<s>", "<unk>" and "<|endoftext|>" do not.
func TestPhi3SpecialTokensStripWhitespaceAfter(t *testing.T) {
	extra := []vocabToken{{"▁", gguf.TokenNormal}, {"hi", gguf.TokenNormal}, {"▁hi", gguf.TokenNormal},
		{"<|user|>", gguf.TokenUserDefined}, {"<|end|>", gguf.TokenUserDefined}}
	const sp, hi, spHi, user, end = 259, 260, 261, 262, 263
	nl := int32(3 + '\n')
	build := func(name string) *Tokenizer {
		var md gguf.Metadata
		md.Set("general.name", name)
		return spmVocabMD(t, extra, nil, &md)
	}
	prompt := "<s><|user|>\nhi<|end|>\n "
	require.Equal(t, []int32{1, user, spHi, end}, build("Phi-3-mini-4k-instruct").Encode(prompt, false, true))
	require.Equal(t, []int32{1, user, spHi, end}, build("phi3").Encode(prompt, false, true))
	require.Equal(t, []int32{1, sp, spHi}, build("Phi-3").Encode("<s> hi", false, true), "<s> keeps the space after it")
	require.Equal(t, []int32{1, user, sp, nl, hi, end, sp, nl, sp}, build("Llama").Encode(prompt, false, true))
}
