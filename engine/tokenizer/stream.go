package tokenizer

import "unicode/utf8"

// Stream turns generated token ids into text for printing as they arrive, never splitting a multi-byte
// UTF-8 character across two writes (byte-fallback tokens deliver one byte at a time).
type Stream struct {
	t       *Tokenizer
	pending []byte
	special bool
}

// NewStream starts a stream; special makes control tokens print their text.
func (t *Tokenizer) NewStream(special bool) *Stream { return &Stream{t: t, special: special} }

// Push adds a token and returns the text that is now complete.
func (s *Stream) Push(id int32) string {
	s.pending = s.t.AppendPiece(s.pending, id, s.special)
	n := completePrefix(s.pending)
	out := string(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return out
}

// Flush returns whatever is still held back (an incomplete character at the end of generation).
func (s *Stream) Flush() string {
	out := string(s.pending)
	s.pending = s.pending[:0]
	return out
}

// completePrefix is the length of the longest prefix of b that does not end inside a UTF-8 character that
// could still be completed. Invalid bytes are released as they are.
func completePrefix(b []byte) int {
	// Look back at most 3 bytes for the start of an unfinished sequence.
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return len(b) // ASCII: everything before is complete
		}
		if c >= 0xC0 { // a lead byte: is its sequence finished?
			need := 0
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			default:
				need = 2
			}
			if k < need && utf8.FullRune(b[len(b)-k:]) == false {
				return len(b) - k
			}
			return len(b)
		}
	}
	return len(b)
}
