package tokenizer

import (
	"sort"
	"strings"
)

// The special-token split (partition) gives exactly what llama.cpp's tokenizer_st_partition gives: the
// special tokens are taken one after the other, longest text first (lowest id first among texts of one
// length), and each takes every leftmost non-overlapping occurrence of its text in the raw text that the
// tokens before it left. That is not a left-to-right longest match: with the tokens "abc" and "cdef",
// "abcdef" splits as "ab" + <cdef>, because the longer token goes first.
//
// Done token by token that costs (special tokens) × (text length): seconds for a vocabulary whose 32,000
// tokens are all user-defined (review finding F9). Here it is one walk over the text plus an ordered
// resolution, with the same result:
//
//  1. At every position of the text, the longest special token that starts there is found in a trie of the
//     special texts (a sorted array narrowed byte by byte), which costs at most the length of the longest
//     special text per position, however many special tokens there are. Every other special token that
//     starts there is a prefix of that one, reached through prefix links computed once per vocabulary.
//  2. The candidates (a token at a position) are taken from a heap in llama.cpp's order — longer text
//     first, then lower id, then earlier position — and a candidate is kept when its bytes are all still
//     free. Kept bytes (and the whitespace an rstrip token swallows after it) are marked taken; a rejected
//     candidate makes way for the next shorter special text at its position, which comes later in that order.
//
// Token by token, a token's occurrence is taken exactly when its bytes lie in one raw fragment left by the
// tokens before it and do not overlap its own earlier kept occurrence: the same test, in the same order.

// specialIndex is the trie of the special texts that one value of parseSpecial lets match.
type specialIndex struct {
	ids  []int32 // token ids, sorted by text; one id per text, the one llama.cpp's order reaches first
	text []string
	link []int32 // index of the longest proper prefix of text[i] that is also here; -1 if none
}

// newSpecialIndex indexes the tokens of order (already in llama.cpp's order: longest first, then lowest id)
// that keep says may match.
func newSpecialIndex(t *Tokenizer, order []int32, keep func(int32) bool) *specialIndex {
	x := &specialIndex{}
	seen := map[string]bool{}
	for _, id := range order {
		if s := t.pieces[id]; keep(id) && !seen[s] {
			seen[s] = true // a later token with the same text never matches: the first took every occurrence
			x.ids = append(x.ids, id)
		}
	}
	sort.Slice(x.ids, func(a, b int) bool { return t.pieces[x.ids[a]] < t.pieces[x.ids[b]] })
	x.text = make([]string, len(x.ids))
	x.link = make([]int32, len(x.ids))
	var stack []int32 // the entries that are prefixes of the current one, shortest first
	for i, id := range x.ids {
		s := t.pieces[id]
		x.text[i] = s
		for len(stack) > 0 && !strings.HasPrefix(s, x.text[stack[len(stack)-1]]) {
			stack = stack[:len(stack)-1]
		}
		x.link[i] = -1
		if len(stack) > 0 {
			x.link[i] = stack[len(stack)-1]
		}
		stack = append(stack, int32(i))
	}
	return x
}

// longest returns the entry of the longest special text that text[pos:] starts with, or -1, and the
// number of trie steps (bytes narrowed) it took.
func (x *specialIndex) longest(text string, pos int) (best int32, steps int) {
	lo, hi, best := 0, len(x.text), int32(-1)
	for d := 0; pos+d < len(text) && lo < hi; d++ {
		// Every entry in [lo, hi) starts with text[pos:pos+d]; one of length d sorts first (and is recorded).
		if len(x.text[lo]) == d {
			lo++
		}
		c := text[pos+d]
		lo = lo + sort.Search(hi-lo, func(k int) bool { return x.text[lo+k][d] >= c })
		hi = lo + sort.Search(hi-lo, func(k int) bool { return x.text[lo+k][d] > c })
		steps++
		if lo < hi && len(x.text[lo]) == d+1 {
			best = int32(lo)
		}
	}
	return best, steps
}

// candidate is a special token (an entry of the index) at a position of the text.
type candidate struct{ ent, pos int32 }

// candidateHeap orders candidates as llama.cpp takes them: longer text, lower id, earlier position first.
type candidateHeap struct {
	x *specialIndex
	c []candidate
}

func (h *candidateHeap) less(a, b candidate) bool {
	la, lb := len(h.x.text[a.ent]), len(h.x.text[b.ent])
	if la != lb {
		return la > lb
	}
	if ia, ib := h.x.ids[a.ent], h.x.ids[b.ent]; ia != ib {
		return ia < ib
	}
	return a.pos < b.pos
}

func (h *candidateHeap) down(i int) {
	for n := len(h.c); ; {
		m, l, r := i, 2*i+1, 2*i+2
		if l < n && h.less(h.c[l], h.c[m]) {
			m = l
		}
		if r < n && h.less(h.c[r], h.c[m]) {
			m = r
		}
		if m == i {
			return
		}
		h.c[i], h.c[m] = h.c[m], h.c[i]
		i = m
	}
}

func (h *candidateHeap) push(c candidate) {
	h.c = append(h.c, c)
	for i := len(h.c) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.c[i], h.c[p]) {
			break
		}
		h.c[i], h.c[p] = h.c[p], h.c[i]
		i = p
	}
}

func (h *candidateHeap) pop() candidate {
	c := h.c[0]
	n := len(h.c) - 1
	h.c[0] = h.c[n]
	h.c = h.c[:n]
	h.down(0)
	return c
}

// taken is a bit set over the bytes of the text.
type taken []uint64

func (b taken) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b taken) set(i int)      { b[i>>6] |= 1 << (i & 63) }

// anyIn reports whether a byte of [lo, hi) is taken.
func (b taken) anyIn(lo, hi int) bool {
	for lo < hi {
		w, off := lo>>6, lo&63
		word := b[w] >> off
		if n := hi - lo; n < 64-off {
			word &= 1<<n - 1
		}
		if word != 0 {
			return true
		}
		lo += 64 - off
	}
	return false
}

// partition splits text on special tokens as llama.cpp does (see the top of this file).
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags, _ := t.partitionCounted(text, parseSpecial)
	return frags
}

// partitionCounted is partition, also returning the work it did (trie steps and candidates taken from the
// heap), which tests bound.
func (t *Tokenizer) partitionCounted(text string, parseSpecial bool) (frags []fragment, work int) {
	if text == "" {
		return nil, 0
	}
	x := t.userIndex
	if parseSpecial {
		x = t.allIndex
	}
	if x == nil || len(x.ids) == 0 {
		return []fragment{{text, -1}}, 0
	}
	h := &candidateHeap{x: x}
	for pos := range len(text) {
		best, steps := x.longest(text, pos)
		work += steps
		if best >= 0 {
			h.c = append(h.c, candidate{best, int32(pos)})
		}
	}
	if len(h.c) == 0 {
		return []fragment{{text, -1}}, work
	}
	for i := len(h.c)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	used := make(taken, (len(text)+63)/64)
	type kept struct{ pos, end, id int32 } // the token and the spaces it swallowed: [pos, end)
	var keep []kept
	for len(h.c) > 0 {
		c := h.pop()
		work++
		pos := int(c.pos)
		if used.has(pos) {
			continue // the shorter texts at pos start on a taken byte too
		}
		stop := pos + len(x.text[c.ent])
		if used.anyIn(pos, stop) {
			if l := x.link[c.ent]; l >= 0 {
				h.push(candidate{l, c.pos})
			}
			continue
		}
		id := x.ids[c.ent]
		if t.rstrip[id] {
			for stop < len(text) && !used.has(stop) && strings.IndexByte(" \t\n\v\f\r", text[stop]) >= 0 {
				stop++
			}
		}
		for i := pos; i < stop; i++ {
			used.set(i)
		}
		keep = append(keep, kept{c.pos, int32(stop), id})
	}
	sort.Slice(keep, func(a, b int) bool { return keep[a].pos < keep[b].pos })
	pos := 0
	for _, k := range keep {
		if int(k.pos) > pos {
			frags = append(frags, fragment{text[pos:k.pos], -1})
		}
		frags = append(frags, fragment{"", k.id})
		pos = int(k.end)
	}
	if pos < len(text) {
		frags = append(frags, fragment{text[pos:], -1})
	}
	return frags, work
}
