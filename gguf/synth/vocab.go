package synth

import (
	"fmt"

	"github.com/llamago/llamago/gguf"
)

// minVocab is the smallest built-in vocabulary: <unk>, <s>, </s>, the 256 bytes and one more.
const minVocab = 3 + 256 + 1

// builtinVocab makes a SentencePiece-style ("llama") vocabulary of n tokens that needs no outside file:
// <unk>, <s>, </s>, the 256 byte-fallback tokens <0x00>…<0xFF>, then pieces over a small alphabet
// ("▁" and lower-case letters first, then digits and punctuation) in order of length, each the merge of a
// shorter piece and one character, with scores falling by id so shorter pieces merge first.
func builtinVocab(n int) (tokens []string, scores []float32, types []int32, err error) {
	if n < minVocab {
		return nil, nil, nil, fmt.Errorf("the built-in vocabulary needs at least %d tokens, asked for %d", minVocab, n)
	}
	tokens = []string{"<unk>", "<s>", "</s>"}
	types = []int32{gguf.TokenUnknown, gguf.TokenControl, gguf.TokenControl}
	for b := 0; b < 256; b++ {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, gguf.TokenByte)
	}
	alphabet := []string{"▁"}
	for c := 'a'; c <= 'z'; c++ {
		alphabet = append(alphabet, string(c))
	}
	for c := 'A'; c <= 'Z'; c++ {
		alphabet = append(alphabet, string(c))
	}
	for _, c := range "0123456789.,!?'\"-:;()" {
		alphabet = append(alphabet, string(c))
	}
	// Pieces of length L are the previous length's pieces extended by one character of the first k letters;
	// k shrinks with L so short, common-looking pieces come first.
	level := append([]string(nil), alphabet...)
	seen := map[string]bool{}
	add := func(p string) bool {
		if len(tokens) >= n || seen[p] {
			return len(tokens) < n
		}
		seen[p] = true
		tokens = append(tokens, p)
		types = append(types, gguf.TokenNormal)
		return len(tokens) < n
	}
	for _, p := range level {
		if !add(p) {
			break
		}
	}
	for width := 27; len(tokens) < n; width = max(6, width-4) {
		var next []string
		for _, p := range level {
			for _, c := range alphabet[:min(width, len(alphabet))] {
				if c == "▁" {
					continue
				}
				next = append(next, p+c)
				if !add(p + c) {
					break
				}
			}
			if len(tokens) >= n {
				break
			}
		}
		level = next
	}
	scores = make([]float32, n)
	for i := range scores {
		if types[i] == gguf.TokenNormal {
			scores[i] = -float32(i)
		}
	}
	return tokens, scores, types, nil
}
