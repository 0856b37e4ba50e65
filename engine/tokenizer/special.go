package tokenizer

import (
	"slices"

	"github.com/llamago/llamago/gguf"
)

// The special tokens llama.cpp finds by their text when a GGUF file does not name them (src/llama-vocab.cpp,
// the vocabulary load, at the reference commit). The texts are matched exactly: llama.cpp has no "looks like
// <|...|>" pattern, so a token such as Phi-3's "<|user|>" keeps the type the file gives it.
var (
	// eotTexts name the end-of-turn token when tokenizer.ggml.eot_token_id is absent.
	eotTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
		"<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}
	// eomTexts name the end-of-message token when tokenizer.ggml.eom_token_id is absent.
	eomTexts = []string{"<|eom_id|>"}
	// The fill-in-the-middle tokens, when their tokenizer.ggml.fim_*_token_id keys are absent.
	fimPreTexts = []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
		"<|code_prefix|>", "<|prefix|>"}
	fimSufTexts = []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
		"<|code_suffix|>", "<|suffix|>"}
	fimMidTexts = []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
		"<|code_middle|>", "<|middle|>"}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepTexts = []string{"<|file_sep|>"}
	// eogTexts are end-of-generation tokens wherever they appear in a vocabulary.
	eogTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
		"<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
		"<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["}
	// renderedTexts are gpt-oss's structure tokens, which llama.cpp makes user-defined so they always print.
	renderedTexts = []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}
)

// initSpecial finds the end-of-turn, end-of-message and fill-in-the-middle tokens and the end-of-generation
// set as llama.cpp's vocabulary load does, and gives the token types the same corrections:
//
//   - a token found by one of the texts above ("control-looking") that is not of type CONTROL becomes CONTROL
//     (llama.cpp warns "this is probably a bug in the model"; Phi-3 files store "<|end|>" as user-defined), so
//     without special parsing its text is plain text and Decode without special leaves it out;
//   - EOG holds FIM_PAD, FIM_REP, FIM_SEP, every token whose text is in eogTexts, EOS, EOT and EOM;
//   - gpt-oss's structure tokens become USER_DEFINED;
//   - "<|end|>" leaves EOG (and becomes USER_DEFINED) in a vocabulary that also ends generation on
//     "<|return|>" and "<|call|>", or on "<|call|>"/"<|calls|>" and "<|flush|>" (gpt-oss, Solar Open);
//   - "</s>" leaves EOG (and becomes NORMAL) in a vocabulary with "<|tool_response>" (Gemma 4).
//
// Where several texts of one list are in the vocabulary llama.cpp takes the first its hash map yields; the
// lowest id is taken here, which is deterministic. It must run before the special-token cache is built.
func (t *Tokenizer) initSpecial(info *gguf.TokenizerInfo) {
	opt := func(p *int) int32 {
		if p == nil || *p < 0 || *p >= len(t.pieces) {
			return -1
		}
		return int32(*p)
	}
	control := func(id int32) {
		if t.types[id] != gguf.TokenControl {
			t.types[id] = gguf.TokenControl
		}
	}
	find := func(id int32, texts []string) int32 {
		if id >= 0 {
			return id // named by the file: neither looked up nor retyped
		}
		for _, s := range texts {
			if i, ok := t.ids[s]; ok && (id < 0 || i < id) {
				id = i
			}
		}
		if id >= 0 {
			control(id)
		}
		return id
	}
	t.EOT = find(opt(info.EOT), eotTexts)
	t.EOM = find(opt(info.EOM), eomTexts)
	find(opt(info.FIMPre), fimPreTexts)
	find(opt(info.FIMSuf), fimSufTexts)
	find(opt(info.FIMMid), fimMidTexts)
	fimPad := find(opt(info.FIMPad), fimPadTexts)
	fimRep := find(opt(info.FIMRep), fimRepTexts)
	fimSep := find(opt(info.FIMSep), fimSepTexts)

	eog := map[int32]bool{}
	add := func(id int32) {
		if id >= 0 && int(id) < len(t.pieces) {
			eog[id] = true
		}
	}
	add(fimPad)
	add(fimRep)
	add(fimSep)
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			add(id)
			control(id)
		}
	}
	for _, s := range renderedTexts {
		if id, ok := t.ids[s]; ok {
			t.types[id] = gguf.TokenUserDefined
		}
	}
	add(t.EOS)
	add(t.EOT)
	add(t.EOM)
	in := func(text string) (int32, bool) {
		id, ok := t.ids[text]
		return id, ok && eog[id]
	}
	end, hasEnd := in("<|end|>")
	_, hasReturn := in("<|return|>")
	_, hasCall := in("<|call|>")
	_, hasCalls := in("<|calls|>")
	_, hasFlush := in("<|flush|>")
	if hasEnd && (hasCall || hasCalls) && (hasReturn || hasFlush) {
		delete(eog, end)
		t.types[end] = gguf.TokenUserDefined
	}
	if s, hasS := in("</s>"); hasS {
		if _, ok := in("<|tool_response>"); ok {
			delete(eog, s)
			t.types[s] = gguf.TokenNormal
		}
	}
	t.eog = make([]int32, 0, len(eog))
	for id := range eog {
		t.eog = append(t.eog, id)
	}
	slices.Sort(t.eog)
}

// IsEOG reports whether generation should stop at id: EOS, EOT, EOM or another end-of-generation token
// (see EOG).
func (t *Tokenizer) IsEOG(id int32) bool {
	if id < 0 {
		return false
	}
	if id == t.EOS {
		return true
	}
	_, found := slices.BinarySearch(t.eog, id)
	return found
}

// EOG returns the end-of-generation tokens in increasing order, the set llama.cpp's llama_vocab_is_eog
// answers for: EOS, EOT, EOM, the FIM pad/repo/file-separator tokens and every token whose text is one of
// llama.cpp's end-of-turn texts ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "</s>", …). A
// server stops on them and can report them to clients.
func (t *Tokenizer) EOG() []int32 {
	out := slices.Clone(t.eog)
	if t.EOS >= 0 && int(t.EOS) < len(t.pieces) {
		if i, found := slices.BinarySearch(out, t.EOS); !found {
			out = slices.Insert(out, i, t.EOS)
		}
	}
	return out
}
