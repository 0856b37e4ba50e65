package tokenizer

import "container/heap"

// SentencePiece-style encoding as llama.cpp does it: start from single UTF-8 characters (as long as their
// lead bytes announce, valid or not), repeatedly merge the adjacent pair whose concatenation is the
// vocabulary token of highest score (leftmost on ties), then emit each final symbol as its token, splitting
// symbols that are not tokens back along their merges and, at the bottom, into byte-fallback tokens <0xXX>.

type spmSymbol struct {
	start, n   int // byte range in the text; n == 0 once merged away
	prev, next int
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

type spmQueue []spmBigram

func (q spmQueue) Len() int { return len(q) }
func (q spmQueue) Less(i, j int) bool {
	if q[i].score != q[j].score {
		return q[i].score > q[j].score
	}
	return q[i].left < q[j].left
}
func (q spmQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *spmQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *spmQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func (t *Tokenizer) encodeSPM(text string, out []int32) []int32 {
	if text == "" {
		return out
	}
	var syms []spmSymbol
	for off := 0; off < len(text); {
		n := min(spmCharLen(text[off]), len(text)-off) // by the lead byte alone, as llama.cpp (see utf8.go)
		syms = append(syms, spmSymbol{start: off, n: n, prev: len(syms) - 1, next: len(syms) + 1})
		off += n
	}
	syms[len(syms)-1].next = -1
	revMerge := map[string][2]int{}
	q := &spmQueue{}
	tryAdd := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		s := text[syms[l].start : syms[r].start+syms[r].n]
		id, ok := t.ids[s]
		if !ok {
			return
		}
		heap.Push(q, spmBigram{l, r, t.scores[id], len(s)})
		revMerge[s] = [2]int{l, r}
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(q).(spmBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // stale: one side was merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}
	var resegment func(i int)
	resegment = func(i int) {
		s := text[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			return
		}
		if m, ok := revMerge[s]; ok {
			resegment(m[0])
			resegment(m[1])
			return
		}
		for j := 0; j < len(s); j++ {
			id := t.byteIDs[s[j]]
			if id < 0 {
				id = t.UNK
			}
			out = append(out, id)
		}
	}
	for i := 0; i >= 0; i = syms[i].next {
		resegment(i)
	}
	return out
}
