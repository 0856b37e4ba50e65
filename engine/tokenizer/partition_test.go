package tokenizer

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/stretchr/testify/require"
)

// partitionPerToken is the special-token split as llama.cpp writes it (and as llamago did before F9): each
// special token, longest first, splits every raw fragment left by the ones before it. It is the reference
// partition must agree with. bytes counts the bytes it scans.
func (t *Tokenizer) partitionPerToken(text string, parseSpecial bool) (frags []fragment, bytes int) {
	if text == "" {
		return nil, 0
	}
	frags = []fragment{{text, -1}}
	for _, id := range t.special {
		ty := t.types[id]
		if !parseSpecial && (ty == gguf.TokenControl || ty == gguf.TokenUnknown) {
			continue
		}
		sp := t.pieces[id]
		var next []fragment
		for _, f := range frags {
			bytes += len(f.text)
			if f.token >= 0 || !strings.Contains(f.text, sp) {
				next = append(next, f)
				continue
			}
			rest := f.text
			for {
				i := strings.Index(rest, sp)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, fragment{rest[:i], -1})
				}
				next = append(next, fragment{"", id})
				rest = rest[i+len(sp):]
				if t.rstrip[id] {
					rest = strings.TrimLeft(rest, " \t\n\v\f\r")
				}
			}
			if rest != "" {
				next = append(next, fragment{rest, -1})
			}
		}
		frags = next
	}
	return frags, bytes
}

// The one-pass split gives the per-token split's result on random vocabularies of overlapping special
// texts (control, user-defined and unknown, duplicated texts, tokens that swallow the spaces after them)
// and random texts over the same few characters, where every kind of overlap happens.
func TestPartitionMatchesPerTokenSplit(t *testing.T) {
	rng := rand.New(rand.NewSource(16))
	const alphabet = "ab c\n"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(b)
	}
	types := []int32{gguf.TokenNormal, gguf.TokenControl, gguf.TokenUserDefined, gguf.TokenUnknown}
	for round := 0; round < 300; round++ {
		var extra []vocabToken
		for range 1 + rng.Intn(40) {
			extra = append(extra, vocabToken{word(1 + rng.Intn(6)), types[rng.Intn(len(types))]})
		}
		tok := spmVocab(t, extra, nil)
		tok.rstrip = map[int32]bool{}
		for _, id := range tok.special {
			if rng.Intn(3) == 0 {
				tok.rstrip[id] = true
			}
		}
		for range 20 {
			text := word(rng.Intn(80))
			for _, parse := range []bool{false, true} {
				want, _ := tok.partitionPerToken(text, parse)
				got := tok.partition(text, parse)
				require.Equal(t, want, got, "round %d, text %q, parseSpecial %v, vocabulary %q", round, text, parse, extra)
			}
		}
	}
	// Where a longer token overlaps a shorter one that starts earlier, the longer one wins (llama.cpp's
	// order), not the leftmost.
	tok := spmVocab(t, []vocabToken{{"abc", gguf.TokenUserDefined}, {"cdef", gguf.TokenUserDefined}}, nil)
	require.Equal(t, []fragment{{"ab", -1}, {"", 260}}, tok.partition("abcdef", false))
}

// F9: a vocabulary whose tokens are all user-defined (thousands of special tokens) and a long text. The
// per-token split scans the text once per special token; the one-pass split's work (trie steps and
// candidates) is bounded by the text's length times the longest special text, whatever the number of
// special tokens.
func TestPartitionWorkDoesNotGrowWithSpecialTokens(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	words := strings.Fields("once upon a time there was a little girl named lily she loved to play outside with her dog and cat in the park")
	seen := map[string]bool{}
	var extra []vocabToken
	maxLen := 0
	for len(extra) < 6000 { // words, pieces of words and random letters, as all user-defined tokens
		s := words[rng.Intn(len(words))]
		if i := rng.Intn(len(s)); rng.Intn(2) == 0 {
			s = s[i : i+1+rng.Intn(len(s)-i)]
		} else {
			r := make([]byte, 2+rng.Intn(5))
			for k := range r {
				r[k] = byte('a' + rng.Intn(26))
			}
			s = string(r)
		}
		if !seen[s] {
			seen[s] = true
			extra = append(extra, vocabToken{s, gguf.TokenUserDefined})
			maxLen = max(maxLen, len(s))
		}
	}
	tok := spmVocab(t, extra, nil)
	var b strings.Builder
	for b.Len() < 100_000 {
		b.WriteString(words[rng.Intn(len(words))])
		b.WriteByte(' ')
	}
	text := b.String()

	frags, work := tok.partitionCounted(text, false)
	bound := len(text) * (maxLen + 2)
	require.LessOrEqual(t, work, bound, "work %d for %d bytes and %d special tokens", work, len(text), len(tok.special))
	// The per-token split (on a twentieth of the text, to keep the test short) scans the raw text once per
	// special token.
	short := text[:5000]
	want, scanned := tok.partitionPerToken(short, false)
	got, shortWork := tok.partitionCounted(short, false)
	require.Equal(t, want, got)
	require.Greater(t, scanned, 100*shortWork, "the per-token split scans the text once per special token")
	require.Equal(t, len(strings.Join(strings.Fields(text), "")), countRaw(frags)+countTokens(tok, frags))
	t.Logf("%d special tokens: %d bytes take %d steps; %d bytes take %d steps one pass and %d bytes scanned token by token",
		len(tok.special), len(text), work, len(short), shortWork, scanned)
}

func countRaw(frags []fragment) (n int) {
	for _, f := range frags {
		n += len(strings.Join(strings.Fields(f.text), ""))
	}
	return n
}

func countTokens(tok *Tokenizer, frags []fragment) (n int) {
	for _, f := range frags {
		if f.token >= 0 {
			n += len(tok.Piece(f.token))
		}
	}
	return n
}
