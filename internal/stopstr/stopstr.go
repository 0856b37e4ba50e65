// Package stopstr finds stop strings in generated text as it streams: what comes before the first stop
// string is output, and an end of the text that could be the start of one is held back until more text
// (or the end) decides. The server's "stop" and llamago run --stop share it.
package stopstr

import "bytes"

// Set is a list of stop strings (none empty).
type Set struct {
	stops   [][]byte
	longest int
}

// New makes a Set of stops.
func New(stops []string) Set {
	var s Set
	for _, stop := range stops {
		s.stops = append(s.stops, []byte(stop))
		s.longest = max(s.longest, len(stop))
	}
	return s
}

// Find is the offset of the first stop string in b, or -1.
func (s Set) Find(b []byte) int {
	first := -1
	for _, stop := range s.stops {
		if i := bytes.Index(b, stop); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}

// HoldBack is the length of the longest end of b that begins a stop string (it may complete later).
func (s Set) HoldBack(b []byte) int {
	for n := min(len(b), s.longest-1); n > 0; n-- {
		tail := b[len(b)-n:]
		for _, stop := range s.stops {
			if len(stop) > n && bytes.HasPrefix(stop, tail) {
				return n
			}
		}
	}
	return 0
}

// Stream applies a Set to text that arrives in pieces (a generation's tokens): Push returns the text now
// known to come before any stop string, holding back an end that may begin one.
type Stream struct {
	set     Set
	held    []byte
	stopped bool
}

// NewStream starts a Stream over stops.
func NewStream(stops []string) *Stream { return &Stream{set: New(stops)} }

// Push adds piece and returns the text that is now certain; stopped reports that a stop string was met
// (the text returned ends where it begins, and nothing more comes).
func (st *Stream) Push(piece string) (text string, stopped bool) {
	if st.stopped {
		return "", true
	}
	st.held = append(st.held, piece...)
	if i := st.set.Find(st.held); i >= 0 {
		text, st.held, st.stopped = string(st.held[:i]), nil, true
		return text, true
	}
	n := len(st.held) - st.set.HoldBack(st.held)
	text = string(st.held[:n])
	st.held = append(st.held[:0], st.held[n:]...)
	return text, false
}

// Flush returns the text held back at the end (no stop string can complete it any more).
func (st *Stream) Flush() string {
	text := string(st.held)
	st.held = nil
	return text
}
