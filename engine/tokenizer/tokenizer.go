// Package tokenizer turns text into token ids and back using only what a GGUF file stores, matching
// llama.cpp: the SentencePiece-style "llama" model (score-driven merges, ▁ for spaces, byte fallback) and
// the byte-level BPE "gpt2" model (ranked merges after a pre-tokenizer chosen by tokenizer.ggml.pre).
package tokenizer

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/llamago/llamago/gguf"
)

// Tokenizer encodes and decodes text for one vocabulary. It is safe for concurrent use.
type Tokenizer struct {
	kind    string // "llama" or "gpt2"
	pre     string
	pieces  []string
	scores  []float32
	types   []int32
	ids     map[string]int32
	byteIDs [256]int32 // SPM: id of <0xXX>; BPE: id of the mapped single-character token; -1 if none
	ranks   map[[2]string]int
	special []int32 // control, user-defined and unknown tokens, longest text first
	// allIndex finds the special tokens in text when control tokens are parsed, userIndex when only
	// user-defined tokens are (see partition.go).
	allIndex, userIndex *specialIndex
	eog                 []int32        // end-of-generation tokens, sorted (see EOG)
	rstrip              map[int32]bool // special tokens that swallow the whitespace after them (see initRStrip)

	BOS, EOS, UNK int32 // -1 when absent
	// EOT ends a turn, EOM a message (Llama 3.1's "<|eom_id|>"): named by tokenizer.ggml.eot_token_id and
	// eom_token_id, else found by their text as llama.cpp does (see initSpecial); -1 when absent.
	EOT, EOM     int32
	AddBOS       bool
	AddEOS       bool
	addSpace     bool // SPM: prefix a space to text at the start and after special tokens
	ignoreMerges bool // BPE: a whole pre-token found in the vocabulary is used as is (llama-bpe)
	cleanSpaces  bool
}

// New builds a tokenizer from a GGUF file's tokenizer metadata.
func New(info *gguf.TokenizerInfo, md *gguf.Metadata) (*Tokenizer, error) {
	t := &Tokenizer{kind: info.Model, pre: info.Pre, pieces: info.Tokens, scores: info.Scores, types: info.TokenTypes,
		BOS: int32(info.BOS), EOS: int32(info.EOS), UNK: int32(info.UNK)}
	n := len(t.pieces)
	if n == 0 {
		return nil, fmt.Errorf("tokenizer: the vocabulary is empty")
	}
	if t.types == nil {
		t.types = make([]int32, n)
		for i := range t.types {
			t.types[i] = gguf.TokenNormal
		}
	} else {
		t.types = slices.Clone(t.types) // initSpecial corrects some types; the caller's info stays as read
	}
	if t.scores == nil {
		t.scores = make([]float32, n)
	}
	t.ids = make(map[string]int32, n)
	for i, p := range t.pieces {
		if _, dup := t.ids[p]; !dup {
			t.ids[p] = int32(i)
		}
	}
	for i := range t.byteIDs {
		t.byteIDs[i] = -1
	}
	switch t.kind {
	case "llama":
		t.AddBOS, t.AddEOS, t.addSpace = true, false, true
		for b := 0; b < 256; b++ {
			if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.byteIDs[b] = id
			} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
				t.byteIDs[b] = id
			}
		}
		if t.UNK < 0 {
			t.UNK = 0
		}
	case "gpt2":
		// llama.cpp's defaults for byte-level BPE when the file has no add_bos_token key: BOS only for the
		// pre-tokenizers it lists (LLaMA 3's "llama-bpe" among them; not "gpt-2", "default" or "smaug-bpe"),
		// and the clean-up of spaces on detokenization unless the pre-tokenizer turns it off. Where llama.cpp
		// would fall back to its default BOS id 11 because the file names none, no BOS is added here.
		t.AddBOS, t.AddEOS = bpeAddsBOS[t.pre] && t.BOS >= 0, false
		t.cleanSpaces = !bpeKeepsSpaces[t.pre]
		if err := t.initBPE(info); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tokenizer model %q is not supported (llamago supports \"llama\" and \"gpt2\")", t.kind)
	}
	if info.AddBOS != nil {
		t.AddBOS = *info.AddBOS
	}
	if info.AddEOS != nil {
		t.AddEOS = *info.AddEOS
	}
	if md != nil {
		if v, err := md.BoolOr("tokenizer.ggml.add_space_prefix", t.addSpace); err == nil {
			t.addSpace = v
		}
	}
	if t.AddBOS && t.BOS < 0 {
		return nil, fmt.Errorf("tokenizer: the model asks for a BOS token but has no tokenizer.ggml.bos_token_id")
	}
	t.initSpecial(info)
	for i, ty := range t.types {
		if ty == gguf.TokenControl || ty == gguf.TokenUserDefined || ty == gguf.TokenUnknown {
			if t.pieces[i] != "" {
				t.special = append(t.special, int32(i))
			}
		}
	}
	sort.SliceStable(t.special, func(a, b int) bool { return len(t.pieces[t.special[a]]) > len(t.pieces[t.special[b]]) })
	t.allIndex = newSpecialIndex(t, t.special, func(int32) bool { return true })
	t.userIndex = newSpecialIndex(t, t.special, func(id int32) bool { return t.types[id] == gguf.TokenUserDefined })
	if md != nil {
		name, _ := md.StringOr("general.name", "")
		t.initRStrip(name)
	}
	return t, nil
}

// initRStrip marks the special tokens that swallow the whitespace after them in the input, as llama.cpp
// does by model name: for Phi-3 ("phi-3" or "phi3" in general.name, any case) every special token and
// "</s>" do, except "<unk>", "<s>" and "<|endoftext|>", so "<|user|>\nHi<|end|>\n" encodes no newline.
func (t *Tokenizer) initRStrip(name string) {
	name = strings.ToLower(name)
	if !strings.Contains(name, "phi-3") && !strings.Contains(name, "phi3") {
		return
	}
	t.rstrip = map[int32]bool{}
	for _, id := range t.special {
		t.rstrip[id] = true
	}
	if id, ok := t.ids["</s>"]; ok {
		t.rstrip[id] = true
	}
	for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
		if id, ok := t.ids[s]; ok {
			delete(t.rstrip, id)
		}
	}
}

// FromFile builds the tokenizer of an open GGUF file.
func FromFile(f *gguf.File) (*Tokenizer, error) {
	info, err := f.Tokenizer()
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return New(info, &f.Metadata)
}

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Model is the tokenizer model name ("llama" or "gpt2").
func (t *Tokenizer) Model() string { return t.kind }

// Piece is the stored text of a token (with ▁ or byte-mapped characters as stored).
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// IsControl reports whether id is a control token (BOS, EOS, …).
func (t *Tokenizer) IsControl(id int32) bool {
	return id >= 0 && int(id) < len(t.types) && t.types[id] == gguf.TokenControl
}

// fragment is a piece of input: raw text, or a special token found in it.
type fragment struct {
	text  string
	token int32 // -1 for raw text
}

// Encode tokenizes text. addSpecial adds BOS/EOS as the model asks; parseSpecial lets control tokens
// written in the text ("<s>", "<|eot_id|>") become those tokens (user-defined tokens always do, as in llama.cpp).
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	var out []int32
	frags := t.partition(text, parseSpecial)
	if addSpecial && t.AddBOS {
		out = append(out, t.BOS)
	}
	prevSpecial := true
	for _, f := range frags {
		if f.token >= 0 {
			out = append(out, f.token)
			prevSpecial = true
			continue
		}
		if t.kind == "llama" {
			s := f.text
			if t.addSpace && prevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(strings.ReplaceAll(s, " ", "▁"), out)
		} else {
			out = t.encodeBPE(f.text, out)
		}
		prevSpecial = false
	}
	if addSpecial && t.AddEOS {
		out = append(out, t.EOS)
	}
	return out
}

// Decode joins the pieces of ids as bytes and returns them as a string (which may hold invalid UTF-8
// when ids end inside a character). Control tokens are left out unless special is set. It is
// DecodeWith(ids, DecodeOptions{Special: special}): no clean-up of spaces.
func (t *Tokenizer) Decode(ids []int32, special bool) string {
	return t.DecodeWith(ids, DecodeOptions{Special: special})
}

// DecodeOptions are llama_detokenize's choices. DecodeOptions{CleanSpaces: true} is what llama.cpp's
// llama_detokenize(remove_special=false, unparse_special=false) returns.
type DecodeOptions struct {
	// Special prints the text of control and unknown tokens (llama_detokenize's unparse_special); without it
	// they are left out.
	Special bool
	// RemoveSpecial leaves out a leading BOS when the vocabulary adds BOS and a trailing EOS when it adds EOS
	// (llama_detokenize's remove_special).
	RemoveSpecial bool
	// CleanSpaces applies llama.cpp's clean-up of spaces when the vocabulary asks for it (see CleanSpaces);
	// for other vocabularies it changes nothing.
	CleanSpaces bool
}

// CleanSpaces reports whether the vocabulary asks for the clean-up of spaces on detokenization (Hugging
// Face's clean_up_tokenization_spaces, as llama.cpp decides it: byte-level BPE vocabularies unless their
// pre-tokenizer turns it off). The clean-up removes the space before "?", "!", "." and ",", turns " ' " into
// "'", and removes the space before the contractions 's, 'm, 're and 've.
func (t *Tokenizer) CleanSpaces() bool { return t.cleanSpaces }

// DecodeWith joins the pieces of ids as llama_detokenize does (see DecodeOptions). The space SentencePiece
// vocabularies prefix to the text is removed from the first piece, unless RemoveSpecial removed a BOS.
func (t *Tokenizer) DecodeWith(ids []int32, o DecodeOptions) string {
	removeSpace := t.addSpace
	if o.RemoveSpecial && t.AddBOS && len(ids) > 0 && ids[0] == t.BOS {
		ids, removeSpace = ids[1:], false
	}
	if o.RemoveSpecial && t.AddEOS && len(ids) > 0 && ids[len(ids)-1] == t.EOS {
		ids = ids[:len(ids)-1]
	}
	var b []byte
	for i, id := range ids {
		n := len(b)
		b = t.AppendPiece(b, id, o.Special)
		if i == 0 && removeSpace && len(b) > n && b[n] == ' ' {
			b = append(b[:n], b[n+1:]...) // the space the encoder prefixed (llama.cpp strips it from the first piece only)
		}
	}
	if o.CleanSpaces && t.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces is llama_detokenize's clean-up of spaces, three passes over the bytes: a space goes before
// "?", "!", "." and ","; a "'" between two spaces loses both (left to right, a space taken as the right one
// is not the left one of the next); a space goes before the contractions 's, 'm, 're and 've (not 't, 'd
// or 'll, which llama.cpp leaves alone).
func cleanSpaces(b []byte) []byte {
	if len(b) < 2 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[0])
	for i := 1; i < len(b); i++ {
		if x := b[i]; b[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			out = out[:len(out)-1]
		}
		out = append(out, b[i])
	}
	b, out = out, make([]byte, 0, len(out))
	out = append(out, b[0])
	taken := -1 // the index of the last right-hand space removed with a " ' "
	for i := 1; i < len(b); i++ {
		x := b[i]
		out = append(out, x)
		if x == '\'' && i+1 < len(b) && b[i-1] == ' ' && i-1 != taken && b[i+1] == ' ' {
			out = append(out[:len(out)-2], x)
			taken = i + 1
			i++
		}
	}
	b, out = out, make([]byte, 0, len(out))
	out = append(out, b[0])
	for i := 1; i < len(b); i++ {
		if b[i-1] == ' ' && b[i] == '\'' && i+1 < len(b) {
			x1, x2 := b[i+1], byte(0)
			if i+2 < len(b) {
				x2 = b[i+2]
			}
			if x1 == 's' || x1 == 'm' || (i+2 < len(b) && x2 == 'e' && (x1 == 'r' || x1 == 'v')) {
				out = out[:len(out)-1]
			}
		}
		out = append(out, b[i])
	}
	return out
}

// AppendPiece appends the bytes token id stands for, as llama.cpp's llama_token_to_piece does: control and
// unknown tokens only with special (as their stored text), user-defined tokens as their stored text, normal
// tokens with ▁ as a space (SentencePiece) or their bytes unmapped (byte-level BPE), byte tokens as their
// byte, and unused tokens not at all.
func (t *Tokenizer) AppendPiece(b []byte, id int32, special bool) []byte {
	if id < 0 || int(id) >= len(t.pieces) {
		return b
	}
	ty, p := t.types[id], t.pieces[id]
	switch ty {
	case gguf.TokenControl, gguf.TokenUnknown:
		if !special {
			return b
		}
		return append(b, p...)
	case gguf.TokenUserDefined:
		return append(b, p...)
	case gguf.TokenNormal:
		if t.kind == "llama" {
			return append(b, strings.ReplaceAll(p, "▁", " ")...)
		}
		return appendUnmapped(b, p)
	case gguf.TokenByte:
		if len(p) == 6 && strings.HasPrefix(p, "<0x") && p[5] == '>' {
			if v, err := strconv.ParseUint(p[3:5], 16, 8); err == nil {
				return append(b, byte(v))
			}
		}
		if t.kind == "llama" {
			return append(b, p...)
		}
		return appendUnmapped(b, p)
	}
	return b
}

// TokenText is the text token id stands for with special tokens printed: a control token's stored text
// ("<s>", "<|eot_id|>"), a normal token's decoded text. It is what llama.cpp's chat templates get as
// bos_token and eos_token (llama_token_to_piece with special). "" for an id outside the vocabulary.
func (t *Tokenizer) TokenText(id int32) string { return string(t.AppendPiece(nil, id, true)) }

// BOSText is TokenText(BOS), "" when the vocabulary has no BOS: the chat template's bos_token.
func (t *Tokenizer) BOSText() string { return t.TokenText(t.BOS) }

// EOSText is TokenText(EOS), "" when the vocabulary has no EOS: the chat template's eos_token.
func (t *Tokenizer) EOSText() string { return t.TokenText(t.EOS) }
