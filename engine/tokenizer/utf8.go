package tokenizer

import "unicode/utf8"

// Invalid UTF-8 in the input is handled as llama.cpp handles it, which differs by tokenizer:
//
//   - SentencePiece: the text is cut into symbols by the length its lead byte announces (a continuation byte
//     or plain ASCII is 1 byte, 0xC0–0xDF 2, 0xE0–0xEF 3, 0xF0–0xFF 4, cut short at the end of the text)
//     without checking what follows; a symbol that is no token falls back to one byte token per byte.
//   - Byte-level BPE: the text is decoded into code points first (unicode_cpts_from_utf8), each byte that does
//     not start a well-formed sequence becomes U+FFFD, and the pre-tokens are the code points encoded again.
//     That decoder checks only the continuation bytes, so an overlong form comes back shortest ("\xc0\x80"
//     is "\x00") and a surrogate comes back as it was.

// spmCharLen is the length of the symbol starting with byte c (llama.cpp's unicode_len_utf8).
func spmCharLen(c byte) int {
	switch c >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// decodeLenient decodes one code point at s[i:] as llama.cpp's unicode_cpt_from_utf8 does: the lead byte
// sets the length and the following bytes must be continuation bytes; nothing else is checked. ok is false
// for a byte that starts no such sequence.
func decodeLenient(s string, i int) (r rune, n int, ok bool) {
	c := s[i]
	cont := func(k int) bool { return i+k < len(s) && s[i+k]&0xC0 == 0x80 }
	switch {
	case c < 0x80:
		return rune(c), 1, true
	case c < 0xC0, c >= 0xF8:
		return utf8.RuneError, 1, false
	case c < 0xE0:
		if !cont(1) {
			return utf8.RuneError, 1, false
		}
		return rune(c&0x1F)<<6 | rune(s[i+1]&0x3F), 2, true
	case c < 0xF0:
		if !cont(1) || !cont(2) {
			return utf8.RuneError, 1, false
		}
		return rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3, true
	default:
		if !cont(1) || !cont(2) || !cont(3) {
			return utf8.RuneError, 1, false
		}
		r = rune(c&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
		if r > utf8.MaxRune {
			// llama.cpp cannot encode this code point again and its tokenizer throws; here the lead byte is
			// invalid like any other, and so is each continuation byte after it.
			return utf8.RuneError, 1, false
		}
		return r, 4, true
	}
}

// appendCodePoint encodes r in UTF-8 as llama.cpp's unicode_cpt_to_utf8 does, surrogates included.
func appendCodePoint(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

// bpeText is text as llama.cpp's byte-level BPE path sees it: decoded leniently, invalid bytes replaced by
// U+FFFD, encoded again. Valid UTF-8 comes back unchanged.
func bpeText(text string) string {
	if utf8.ValidString(text) {
		return text
	}
	b := make([]byte, 0, len(text)+8)
	for i := 0; i < len(text); {
		r, n, _ := decodeLenient(text, i)
		b = appendCodePoint(b, r)
		i += n
	}
	return string(b)
}
