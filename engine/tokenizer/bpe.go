package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/llamago/llamago/gguf"
)

// Byte-level BPE ("gpt2" tokenizer model): the text is split into pre-tokens by the pre-tokenizer named in
// tokenizer.ggml.pre, each pre-token's bytes are mapped to printable characters (GPT-2's byte↔unicode
// table), and ranked merges are applied lowest rank first (leftmost on ties).

// byteToRune and runeToByte are GPT-2's reversible byte ↔ printable-character mapping: printable Latin-1
// bytes map to themselves, the rest to U+0100 onwards in byte order.
var byteToRune [256]rune
var runeToByte = map[rune]byte{}

func init() {
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = next
			next++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

func mapBytes(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToRune[s[i]])
	}
	return sb.String()
}

// appendUnmapped turns a stored BPE piece back into the bytes it stands for.
func appendUnmapped(b []byte, piece string) []byte {
	for _, r := range piece {
		if v, ok := runeToByte[r]; ok {
			b = append(b, v)
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// preTokenizers maps tokenizer.ggml.pre values to their splitters.
var preTokenizers = map[string]func(string) []string{
	"default":   splitDefault,
	"gpt-2":     splitGPT2,
	"gpt2":      splitGPT2,
	"llama-bpe": splitLlama3,
	"llama3":    splitLlama3,
	"smaug-bpe": splitLlama3,
}

// bpeAddsBOS are the pre-tokenizers for which llama.cpp's vocabulary load (src/llama-vocab.cpp at the
// reference commit) adds BOS to a byte-level BPE vocabulary whose file has no tokenizer.ggml.add_bos_token
// key; for every other one it adds none. Names llamago cannot tokenize yet are listed too, so that adding
// their pre-tokenizer keeps llama.cpp's default.
var bpeAddsBOS = map[string]bool{"llama3": true, "llama-v3": true, "llama-bpe": true, "falcon3": true,
	"falcon-h1": true, "pixtral": true, "midm-2.0": true, "lfm2": true, "jina-v5-nano": true, "tekken": true,
	"chameleon": true}

// bpeKeepsSpaces are the pre-tokenizers for which llama.cpp turns off its clean-up of spaces on
// detokenization, which is on for every other byte-level BPE vocabulary (and off for SentencePiece ones).
var bpeKeepsSpaces = map[string]bool{"deepseek-llm": true, "deepseek-coder": true, "deepseek-v3": true,
	"youtu": true, "sarvam-moe": true, "command-r": true, "qwen2": true, "deepseek-r1-qwen": true, "kormo": true,
	"f2llmv2": true, "qwen35": true, "poro-chat": true, "viking": true, "tekken": true, "smollm": true,
	"chameleon": true, "gpt-4o": true, "llama4": true, "kanana2": true, "talkie": true,
	"granite-embed-multi-97m": true, "tiny_aya": true, "cohere2moe": true, "superbpe": true, "trillion": true,
	"granite-docling": true, "bailingmoe": true, "bailingmoe2": true, "llada-moe": true, "seed-coder": true,
	"hunyuan": true, "hunyuan-dense": true, "joyai-llm": true, "kimi-k2": true, "grok-2": true, "afmoe": true,
	"laguna": true, "minimax-m2": true, "solar-open": true}

func (t *Tokenizer) initBPE(info *gguf.TokenizerInfo) error {
	if _, ok := preTokenizers[t.pre]; !ok {
		names := make([]string, 0, len(preTokenizers))
		for k := range preTokenizers {
			names = append(names, k)
		}
		return fmt.Errorf("tokenizer: pre-tokenizer %q is not supported (supported: %s)", t.pre, strings.Join(names, ", "))
	}
	t.ignoreMerges = t.pre == "llama-bpe" || t.pre == "llama3" || t.pre == "smaug-bpe"
	t.ranks = make(map[[2]string]int, len(info.Merges))
	for i, m := range info.Merges {
		a, b, ok := strings.Cut(m, " ")
		if !ok {
			return fmt.Errorf("tokenizer: merge %d (%q) is not two pieces separated by a space", i, m)
		}
		if _, dup := t.ranks[[2]string{a, b}]; !dup {
			t.ranks[[2]string{a, b}] = i
		}
	}
	for b := 0; b < 256; b++ {
		if id, ok := t.ids[string(byteToRune[b])]; ok {
			t.byteIDs[b] = id
		}
	}
	return nil
}

func (t *Tokenizer) encodeBPE(text string, out []int32) []int32 {
	for _, word := range preTokenizers[t.pre](bpeText(text)) {
		mapped := mapBytes(word)
		if t.ignoreMerges {
			if id, ok := t.ids[mapped]; ok {
				out = append(out, id)
				continue
			}
		}
		syms := make([]string, 0, len(mapped))
		for _, r := range mapped {
			syms = append(syms, string(r))
		}
		for len(syms) > 1 {
			best, bestRank := -1, int(^uint(0)>>1)
			for i := 0; i+1 < len(syms); i++ {
				if r, ok := t.ranks[[2]string{syms[i], syms[i+1]}]; ok && r < bestRank {
					best, bestRank = i, r
				}
			}
			if best < 0 {
				break
			}
			syms[best] += syms[best+1]
			syms = append(syms[:best+1], syms[best+2:]...)
		}
		for _, s := range syms {
			if id, ok := t.ids[s]; ok {
				out = append(out, id)
				continue
			}
			for _, r := range s { // not a token: fall back to the single-character tokens
				if id, ok := t.ids[string(r)]; ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// runes decodes s into code points with the byte offset of each, leniently as llama.cpp does (a surrogate
// bpeText leaves in the text is one code point; invalid bytes become U+FFFD of width 1).
func runes(s string) ([]rune, []int) {
	rs := make([]rune, 0, len(s))
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, n, _ := decodeLenient(s, i)
		rs = append(rs, r)
		offs = append(offs, i)
		i += n
	}
	return rs, append(offs, len(s))
}

// class helpers over a rune slice; out-of-range positions are in no class.
type cps []rune

func (c cps) at(i int) rune {
	if i < 0 || i >= len(c) {
		return -1
	}
	return c[i]
}
func (c cps) letter(i int) bool { r := c.at(i); return r >= 0 && unicode.IsLetter(r) }
func (c cps) number(i int) bool { r := c.at(i); return r >= 0 && unicode.IsNumber(r) }
func (c cps) space(i int) bool  { r := c.at(i); return r >= 0 && unicode.IsSpace(r) }
func (c cps) other(i int) bool {
	return c.at(i) >= 0 && !c.letter(i) && !c.number(i) && !c.space(i)
}

// splitter runs a hand-written matcher (Go's regexp has no lookahead) that returns the end of the
// pre-token starting at pos.
func splitter(text string, match func(c cps, pos int) int) []string {
	rs, offs := runes(text)
	c := cps(rs)
	var out []string
	for pos := 0; pos < len(c); {
		end := match(c, pos)
		if end <= pos {
			end = pos + 1
		}
		out = append(out, text[offs[pos]:offs[end]])
		pos = end
	}
	return out
}

// whitespace implements `\s+(?!\S)|\s+` at pos (pos is whitespace).
func whitespace(c cps, pos int) int {
	n := 0
	for c.space(pos + n) {
		n++
	}
	if n > 1 && c.at(pos+n) >= 0 {
		return pos + n - 1 // leave the last space to lead the next word
	}
	return pos + n
}

// splitGPT2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(text string) []string {
	return splitter(text, func(c cps, pos int) int {
		if end := contraction(c, pos, false); end > pos {
			return end
		}
		p := pos
		if c.at(p) == ' ' {
			p++
		}
		switch {
		case c.letter(p):
			for c.letter(p) {
				p++
			}
			return p
		case c.number(p):
			for c.number(p) {
				p++
			}
			return p
		case c.other(p):
			for c.other(p) {
				p++
			}
			return p
		}
		if c.space(pos) {
			return whitespace(c, pos)
		}
		return pos + 1
	})
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at pos (case-insensitively when fold is set).
func contraction(c cps, pos int, fold bool) int {
	if c.at(pos) != '\'' {
		return pos
	}
	low := func(i int) rune {
		r := c.at(i)
		if fold {
			r = unicode.ToLower(r)
		}
		return r
	}
	a, b := low(pos+1), low(pos+2)
	switch {
	case a == 's' || a == 't' || a == 'm' || a == 'd':
		return pos + 2
	case (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'):
		return pos + 3
	}
	return pos
}

// splitLlama3 is LLaMA 3's pre-tokenizer:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLlama3(text string) []string {
	return splitter(text, func(c cps, pos int) int {
		if end := contraction(c, pos, true); end > pos {
			return end
		}
		r := c.at(pos)
		if r != '\r' && r != '\n' && !c.number(pos) && (c.letter(pos) || c.letter(pos+1)) {
			p := pos + 1
			for c.letter(p) {
				p++
			}
			return p
		}
		if c.number(pos) {
			p := pos
			for p < pos+3 && c.number(p) {
				p++
			}
			return p
		}
		p := pos
		if r == ' ' {
			p++
		}
		if c.other(p) {
			for c.other(p) {
				p++
			}
			for c.at(p) == '\r' || c.at(p) == '\n' {
				p++
			}
			return p
		}
		if c.space(pos) {
			n, lastNL := 0, -1
			for c.space(pos + n) {
				if q := c.at(pos + n); q == '\r' || q == '\n' {
					lastNL = pos + n + 1
				}
				n++
			}
			if lastNL > 0 {
				return lastNL
			}
			return whitespace(c, pos)
		}
		return pos + 1
	})
}

// splitDefault is llama.cpp's pre-tokenizer for BPE vocabularies that name none: split off runs of
// punctuation and [$+<=>^~|], then the GPT-2 pattern, then runs of digits, then groups of three digits.
func splitDefault(text string) []string {
	punct := func(r rune) bool { return unicode.IsPunct(r) || strings.ContainsRune("$+<=>^~|", r) }
	words := splitRuns(text, punct)
	var out []string
	for _, w := range words {
		for _, g := range splitGPT2(w) {
			for _, n := range splitRuns(g, unicode.IsNumber) {
				out = append(out, splitDigitTriples(n)...)
			}
		}
	}
	return out
}

// splitRuns splits text into maximal runs of characters that satisfy in and the text between them.
func splitRuns(text string, in func(rune) bool) []string {
	var out []string
	start, prev := 0, false
	for i, r := range text {
		cur := in(r)
		if i > 0 && cur != prev {
			out = append(out, text[start:i])
			start = i
		}
		prev = cur
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// splitDigitTriples splits off each run of three ASCII digits ([0-9][0-9][0-9]) from the left.
func splitDigitTriples(s string) []string {
	var out []string
	start, i := 0, 0
	for i+3 <= len(s) {
		if isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
			if i > start {
				out = append(out, s[start:i])
			}
			out = append(out, s[i:i+3])
			i += 3
			start = i
			continue
		}
		i++
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
