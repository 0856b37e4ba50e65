package tokenizer

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, path string) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	tok, err := FromFile(f)
	require.NoError(t, err)
	return tok
}

// TestLlamaCppVocabVectors runs llama.cpp's own tokenizer test vectors (test-tokenizer-0: .inp strings
// separated by __ggml_vocab_test__, .out ids per line, tokenized without BOS and without special parsing).
func TestLlamaCppVocabVectors(t *testing.T) {
	dir := testutil.Shared(t, "vocab")
	inps, _ := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	require.NotEmpty(t, inps)
	for _, inp := range inps {
		model := strings.TrimSuffix(inp, ".inp")
		t.Run(filepath.Base(model), func(t *testing.T) {
			tok := load(t, model)
			rawIn, err := os.ReadFile(inp)
			require.NoError(t, err)
			rawOut, err := os.ReadFile(model + ".out")
			require.NoError(t, err)
			texts := strings.Split(string(rawIn), "\n__ggml_vocab_test__\n")
			lines := strings.Split(strings.TrimSuffix(string(rawOut), "\n"), "\n")
			if texts[len(texts)-1] == "" {
				texts = texts[:len(texts)-1]
			}
			require.Len(t, lines, len(texts))
			for i, text := range texts {
				var want []int32
				for _, f := range strings.Fields(lines[i]) {
					v, err := strconv.Atoi(f)
					require.NoError(t, err)
					want = append(want, int32(v))
				}
				got := tok.Encode(text, false, false)
				if len(want) == 0 {
					want = nil
				}
				assert.Equal(t, want, got, "text %q", text)
			}
		})
	}
}

type tokCase struct {
	Input      string   `json:"input"`
	IDs        []int32  `json:"ids"`
	IDsSpecial []int32  `json:"ids_special"`
	PiecesHex  []string `json:"pieces_hex"`
	Concat     string   `json:"concat"`
	Detok      string   `json:"detok"`
}

// TestReferenceTokenize compares with llama.cpp's tokenizations, pieces and detokenizations of 52 tricky
// strings for every vocabulary in ../shared/reference/tokenize.
func TestReferenceTokenize(t *testing.T) {
	dir := testutil.Shared(t, "reference/tokenize")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NotEmpty(t, files)
	for _, rf := range files {
		var ref struct {
			Vocab  string    `json:"vocab"`
			BOS    int32     `json:"bos"`
			EOS    int32     `json:"eos"`
			AddBOS bool      `json:"add_bos"`
			AddEOS bool      `json:"add_eos"`
			Cases  []tokCase `json:"cases"`
		}
		raw, err := os.ReadFile(rf)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &ref))
		name := ref.Vocab
		path := filepath.Join(testutil.SharedDir(), "vocab", name)
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(testutil.SharedDir(), "models", name)
		}
		t.Run(name, func(t *testing.T) {
			tok := load(t, path)
			require.Equal(t, ref.BOS, tok.BOS)
			require.Equal(t, ref.EOS, tok.EOS)
			require.Equal(t, ref.AddBOS, tok.AddBOS, "llama.cpp's add_bos for this vocabulary")
			require.Equal(t, ref.AddEOS, tok.AddEOS)
			require.True(t, tok.IsEOG(ref.EOS))
			for _, c := range ref.Cases {
				got := tok.Encode(c.Input, false, false)
				assert.Equal(t, norm(c.IDs), got, "ids of %q", c.Input)
				assert.Equal(t, norm(c.IDsSpecial), tok.Encode(c.Input, false, true), "ids with special tokens of %q", c.Input)
				var pieces []string
				var concat []byte
				for _, id := range c.IDs {
					p := tok.AppendPiece(nil, id, false)
					pieces = append(pieces, hex.EncodeToString(p))
					concat = append(concat, p...)
				}
				if len(c.PiecesHex) > 0 {
					assert.Equal(t, c.PiecesHex, pieces, "pieces of %q", c.Input)
				}
				assert.Equal(t, c.Concat, string(concat), "concatenated pieces of %q", c.Input)
				assert.Equal(t, c.Detok, tok.Decode(c.IDs, false), "detokenization of %q", c.Input)
				// llama_detokenize(remove_special=false, unparse_special=false) cleans up spaces where the
				// vocabulary asks (GPT-2's does; no reference string has a space before punctuation, so there
				// it must change nothing).
				assert.Equal(t, c.Detok, tok.DecodeWith(c.IDs, DecodeOptions{CleanSpaces: true}), "llama_detokenize of %q", c.Input)
			}
		})
	}
}

// TestCleanSpacesGPT2 detokenizes with GPT-2's vocabulary, which asks for the clean-up of spaces.
func TestCleanSpacesGPT2(t *testing.T) {
	tok := load(t, testutil.Shared(t, "vocab/ggml-vocab-gpt-2.gguf"))
	require.True(t, tok.CleanSpaces())
	require.False(t, tok.AddBOS, "llama.cpp adds no BOS for the gpt-2 pre-tokenizer by default")
	ids := tok.Encode("Hello , world ! Isn 't it ? I 'm sure you 've seen .", false, false)
	require.Equal(t, "Hello , world ! Isn 't it ? I 'm sure you 've seen .", tok.Decode(ids, false))
	require.Equal(t, "Hello, world! Isn 't it? I'm sure you've seen.", tok.DecodeWith(ids, DecodeOptions{CleanSpaces: true}))
}

// TestInvalidUTF8SharedVocabs: GPT-2's vocabulary sees an invalid byte as U+FFFD (llama.cpp's
// unicode_cpts_from_utf8); LLaMA's SentencePiece one keeps every byte through byte fallback, and a stray
// lead byte swallows what follows it, even the ▁ that stands for a space.
func TestInvalidUTF8SharedVocabs(t *testing.T) {
	gpt2 := load(t, testutil.Shared(t, "vocab/ggml-vocab-gpt-2.gguf"))
	require.Equal(t, gpt2.Encode("caf\ufffd ok\ufffd", false, false), gpt2.Encode("caf\xe9 ok\xff", false, false))
	spm := load(t, testutil.Shared(t, "vocab/ggml-vocab-llama-spm.gguf"))
	for _, s := range []string{"\xffab", "x\xc3", "\x80\x80 a"} {
		ids := spm.Encode(s, false, false)
		require.Equal(t, s, spm.Decode(ids, false), "%v", ids)
	}
	// "\xe9" announces three bytes: it takes the first two of "▁" (e2 96), whose last byte (81) is then alone;
	// all four fall back to byte tokens (<0xXX> is id 3+XX), so the space comes back as the bytes of "▁".
	ids := spm.Encode("caf\xe9 ok", false, false)
	require.Equal(t, []int32{3 + 0xE9, 3 + 0xE2, 3 + 0x96, 3 + 0x81}, ids[2:6], "%v", ids)
	require.Equal(t, "caf\xe9▁ok", spm.Decode(ids, false))
}

func norm(ids []int32) []int32 {
	if len(ids) == 0 {
		return nil
	}
	return ids
}
