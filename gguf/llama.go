package gguf

import (
	"fmt"
	"math"
	"strings"
)

// LlamaConfig holds the hyperparameters of a LLaMA-family model, read from the "{arch}.*" keys.
type LlamaConfig struct {
	Architecture       string  `json:"architecture"`
	Name               string  `json:"name"`      // general.name, may be empty
	FileType           int     `json:"file_type"` // general.file_type (llama_ftype), -1 when absent
	ContextLength      int     `json:"context_length"`
	EmbeddingLength    int     `json:"embedding_length"`
	BlockCount         int     `json:"block_count"`
	FeedForwardLength  int     `json:"feed_forward_length"`
	HeadCount          int     `json:"head_count"`
	HeadCountKV        int     `json:"head_count_kv"`
	RopeDimensionCount int     `json:"rope_dimension_count"` // defaults to EmbeddingLength/HeadCount
	RopeFreqBase       float32 `json:"rope_freq_base"`       // defaults to 10000
	RopeFreqScale      float32 `json:"rope_freq_scale"`      // 1/rope.scaling.factor for linear scaling, else 1
	RopeScalingType    string  `json:"rope_scaling_type"`    // "none", "linear", "yarn", … ("none" when absent)
	RMSEpsilon         float32 `json:"rms_epsilon"`
	VocabSize          int     `json:"vocab_size"` // llama.vocab_size, else the tokenizer's token count
}

// HeadDim is the size of one attention head.
func (c *LlamaConfig) HeadDim() int { return c.EmbeddingLength / c.HeadCount }

// LlamaConfig reads the model hyperparameters. Missing required keys are all named in one error.
func (f *File) LlamaConfig() (*LlamaConfig, error) { return ReadLlamaConfig(&f.Metadata) }

// Limits on the hyperparameters ReadLlamaConfig accepts. They are far above any released model and far below
// what would overflow the sizes computed from them, so a hostile file is refused before anything is allocated.
const (
	MaxContextLength = 1 << 31 // positions
	MaxEmbedding     = 1 << 20 // embedding length, and feed-forward length / 16
	MaxBlockCount    = 1 << 16 // layers
	MaxHeadCount     = 1 << 14
	MaxVocabSize     = 1 << 24 // tokens
)

// ReadLlamaConfig reads the hyperparameters from metadata (see File.LlamaConfig) and checks each for sign,
// range and consistency with the others; every problem is one short line naming the key, the value and
// what is allowed.
func ReadLlamaConfig(md *Metadata) (*LlamaConfig, error) {
	arch, err := md.String("general.architecture")
	if err != nil {
		return nil, err
	}
	c := &LlamaConfig{Architecture: arch}
	var errs []error
	p := arch + "."
	bad := func(key string, v any, allowed string, a ...any) {
		errs = append(errs, fmt.Errorf("metadata %s%s = %v is out of range (allowed: %s)", p, key, v, fmt.Sprintf(allowed, a...)))
	}
	// intIn reads an integer key (def when it is absent and def >= 0) and checks lo <= v <= hi.
	intIn := func(key string, def int64, lo, hi int64, dst *int) bool {
		var v int64
		var err error
		if def < 0 {
			v, err = md.Int(p + key)
		} else {
			v, err = md.IntOr(p+key, def)
		}
		if err != nil {
			errs = append(errs, err)
			return false
		}
		if v < lo || v > hi {
			bad(key, v, "%d to %d", lo, hi)
			return false
		}
		*dst = int(v)
		return true
	}
	// positive reads a float key (def when absent) that must be finite and > 0 (and <= hi when hi > 0).
	positive := func(key string, def, hi float64) (float32, bool) {
		var v float64
		var err error
		if def < 0 {
			v, err = md.Float(p + key)
		} else {
			v, err = md.FloatOr(p+key, def)
		}
		if err != nil {
			errs = append(errs, err)
			return 0, false
		}
		f := float32(v)
		if math.IsNaN(v) || math.IsInf(float64(f), 0) || f <= 0 || (hi > 0 && v > hi) {
			if hi > 0 {
				bad(key, float32(v), "a finite number greater than 0 and at most %g", hi)
			} else {
				bad(key, float32(v), "a finite number greater than 0")
			}
			return 0, false
		}
		return f, true
	}
	intIn("context_length", -1, 1, MaxContextLength, &c.ContextLength)
	okEmbd := intIn("embedding_length", -1, 1, MaxEmbedding, &c.EmbeddingLength)
	intIn("block_count", -1, 1, MaxBlockCount, &c.BlockCount)
	intIn("feed_forward_length", -1, 1, 16*MaxEmbedding, &c.FeedForwardLength)
	okHeads := intIn("attention.head_count", -1, 1, MaxHeadCount, &c.HeadCount)
	c.RMSEpsilon, _ = positive("attention.layer_norm_rms_epsilon", -1, 1)
	if len(errs) > 0 {
		return nil, fmt.Errorf("model metadata invalid: %w", joinLine(errs))
	}
	if okEmbd && okHeads && c.EmbeddingLength%c.HeadCount != 0 {
		errs = append(errs, fmt.Errorf("metadata %sembedding_length = %d is not a multiple of %sattention.head_count = %d", p, c.EmbeddingLength, p, c.HeadCount))
	}
	if len(errs) > 0 { // the checks below divide by the head count
		return nil, fmt.Errorf("model metadata invalid: %w", joinLine(errs))
	}
	if intIn("attention.head_count_kv", int64(c.HeadCount), 1, int64(c.HeadCount), &c.HeadCountKV) && c.HeadCount%c.HeadCountKV != 0 {
		errs = append(errs, fmt.Errorf("metadata %sattention.head_count = %d is not a multiple of %sattention.head_count_kv = %d", p, c.HeadCount, p, c.HeadCountKV))
	}
	hd := c.EmbeddingLength / c.HeadCount
	// Rotary embeddings turn pairs of values: an odd count, or none at all (a model with no positions), is an
	// error, not garbage text.
	if v, err := md.IntOr(p+"rope.dimension_count", int64(hd)); err != nil {
		errs = append(errs, err)
	} else if v < 2 || v > int64(hd) || v%2 != 0 {
		bad("rope.dimension_count", v, "an even number from 2 to the head size %d", hd)
	} else {
		c.RopeDimensionCount = int(v)
	}
	c.RopeFreqBase, _ = positive("rope.freq_base", 10000, 0)
	c.RopeScalingType, _ = md.StringOr(p+"rope.scaling.type", "none")
	c.RopeFreqScale = 1
	if md.Has(p+"rope.scaling.factor") && c.RopeScalingType != "none" {
		if f, ok := positive("rope.scaling.factor", 1, 0); ok {
			c.RopeFreqScale = 1 / f
		}
	} else if md.Has(p + "rope.scale_linear") {
		if f, ok := positive("rope.scale_linear", 1, 0); ok {
			c.RopeFreqScale = 1 / f
		}
	}
	if s := c.RopeFreqScale; math.IsInf(float64(s), 0) || s <= 0 {
		bad("rope scaling", s, "a finite frequency scale greater than 0")
	}
	c.Name, _ = md.StringOr("general.name", "")
	ft, _ := md.IntOr("general.file_type", -1)
	c.FileType = int(ft)
	intIn("vocab_size", 0, 0, MaxVocabSize, &c.VocabSize)
	if c.VocabSize == 0 {
		if toks, err := md.Strings("tokenizer.ggml.tokens"); err == nil {
			c.VocabSize = len(toks)
		}
	}
	if c.VocabSize > MaxVocabSize {
		errs = append(errs, fmt.Errorf("metadata tokenizer.ggml.tokens has %d tokens, more than the %d allowed", c.VocabSize, MaxVocabSize))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("model metadata invalid: %w", joinLine(errs))
	}
	return c, nil
}

// joinLine joins errors on one line ("a; b"), so a report of several problems stays one short line.
func joinLine(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return lineErrors{errs, strings.Join(msgs, "; ")}
}

type lineErrors struct {
	errs []error
	msg  string
}

func (e lineErrors) Error() string   { return e.msg }
func (e lineErrors) Unwrap() []error { return e.errs }

// TokenizerInfo is the tokenizer as the tokenizer.ggml.* keys describe it.
type TokenizerInfo struct {
	Model      string    // "llama" (SentencePiece-style), "gpt2" (byte-level BPE), …
	Pre        string    // pre-tokenizer name for gpt2 models ("default" when absent)
	Tokens     []string  // piece of each id
	Scores     []float32 // per id (SentencePiece merge priority); may be nil
	TokenTypes []int32   // per id: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; may be nil
	Merges     []string  // "a b" pairs in priority order (gpt2); may be nil
	BOS, EOS   int       // -1 when absent
	UNK, PAD   int       // -1 when absent
	AddBOS     *bool     // nil when the file does not say
	AddEOS     *bool
	// EOT and EOM (tokenizer.ggml.eot_token_id, eom_token_id) end a turn or a message; the FIM ids
	// (tokenizer.ggml.fim_{pre,suf,mid,pad,rep,sep}_token_id, and the older prefix/suffix/middle_token_id) mark
	// fill-in-the-middle prompts. Each is nil when the file does not name it, or names an id outside the
	// vocabulary (uint32(-1) included): llama.cpp ignores such a key with a warning and looks the token up by
	// its text instead, so a bad value here is not an error.
	EOT, EOM                                       *int
	FIMPre, FIMSuf, FIMMid, FIMPad, FIMRep, FIMSep *int
	// ChatTemplate is the Jinja chat template, "" when absent.
	ChatTemplate string
}

// Token types of tokenizer.ggml.token_type.
const (
	TokenNormal      = 1
	TokenUnknown     = 2
	TokenControl     = 3
	TokenUserDefined = 4
	TokenUnused      = 5
	TokenByte        = 6
)

// Tokenizer reads the tokenizer.ggml.* keys, checking that the per-token arrays agree in length and the
// special ids are in range.
func (f *File) Tokenizer() (*TokenizerInfo, error) { return ReadTokenizer(&f.Metadata) }

// ReadTokenizer reads the tokenizer from metadata (see File.Tokenizer).
func ReadTokenizer(md *Metadata) (*TokenizerInfo, error) {
	var t TokenizerInfo
	var err error
	if t.Model, err = md.String("tokenizer.ggml.model"); err != nil {
		return nil, err
	}
	if t.Pre, err = md.StringOr("tokenizer.ggml.pre", "default"); err != nil {
		return nil, err
	}
	if t.Tokens, err = md.Strings("tokenizer.ggml.tokens"); err != nil {
		return nil, err
	}
	n := len(t.Tokens)
	if md.Has("tokenizer.ggml.scores") {
		if t.Scores, err = md.Float32s("tokenizer.ggml.scores"); err != nil {
			return nil, err
		}
		if len(t.Scores) != n {
			return nil, fmt.Errorf("tokenizer.ggml.scores has %d entries for %d tokens", len(t.Scores), n)
		}
	}
	if md.Has("tokenizer.ggml.token_type") {
		if t.TokenTypes, err = md.Int32s("tokenizer.ggml.token_type"); err != nil {
			return nil, err
		}
		if len(t.TokenTypes) != n {
			return nil, fmt.Errorf("tokenizer.ggml.token_type has %d entries for %d tokens", len(t.TokenTypes), n)
		}
	}
	if md.Has("tokenizer.ggml.merges") {
		if t.Merges, err = md.Strings("tokenizer.ggml.merges"); err != nil {
			return nil, err
		}
	}
	special := func(key string) (int, error) {
		v, err := md.IntOr(key, -1)
		if err != nil {
			return -1, err
		}
		if v == math.MaxUint32 { // written as uint32(-1): "no such token"
			v = -1
		}
		if v < -1 || v >= int64(n) {
			return -1, fmt.Errorf("%s = %d is outside the vocabulary of %d tokens", key, v, n)
		}
		return int(v), nil
	}
	for _, s := range []struct {
		key string
		dst *int
	}{{"tokenizer.ggml.bos_token_id", &t.BOS}, {"tokenizer.ggml.eos_token_id", &t.EOS},
		{"tokenizer.ggml.unknown_token_id", &t.UNK}, {"tokenizer.ggml.padding_token_id", &t.PAD}} {
		if *s.dst, err = special(s.key); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		key string
		dst **bool
	}{{"tokenizer.ggml.add_bos_token", &t.AddBOS}, {"tokenizer.ggml.add_eos_token", &t.AddEOS}} {
		if md.Has(s.key) {
			b, err := md.Bool(s.key)
			if err != nil {
				return nil, err
			}
			*s.dst = &b
		}
	}
	for _, s := range []struct {
		key string
		dst **int
	}{{"tokenizer.ggml.eot_token_id", &t.EOT}, {"tokenizer.ggml.eom_token_id", &t.EOM},
		{"tokenizer.ggml.fim_pre_token_id", &t.FIMPre}, {"tokenizer.ggml.fim_suf_token_id", &t.FIMSuf},
		{"tokenizer.ggml.fim_mid_token_id", &t.FIMMid}, {"tokenizer.ggml.fim_pad_token_id", &t.FIMPad},
		{"tokenizer.ggml.fim_rep_token_id", &t.FIMRep}, {"tokenizer.ggml.fim_sep_token_id", &t.FIMSep},
		// deprecated names, read after the new ones as llama.cpp does (so they win when both are present)
		{"tokenizer.ggml.prefix_token_id", &t.FIMPre}, {"tokenizer.ggml.suffix_token_id", &t.FIMSuf},
		{"tokenizer.ggml.middle_token_id", &t.FIMMid}} {
		if !md.Has(s.key) {
			continue
		}
		v, err := md.Int(s.key)
		if err != nil {
			return nil, err
		}
		if v >= 0 && v < int64(n) {
			id := int(v)
			*s.dst = &id
		}
	}
	t.ChatTemplate, _ = md.StringOr("tokenizer.chat_template", "")
	return &t, nil
}

// WeightsTypeName names what a file's weights are: its general.file_type (FileTypeName), or, where that
// optional key is absent, "not set (most weights are T)" from its matrices' types.
func (f *File) WeightsTypeName() string {
	ft, _ := f.Metadata.IntOr("general.file_type", -1)
	if ft >= 0 {
		return FileTypeName(int(ft))
	}
	count := map[string]int{}
	best := ""
	for _, t := range f.Tensors {
		if len(t.Dims) == 2 {
			n := t.Type.String()
			count[n]++
			if best == "" || count[n] > count[best] {
				best = n
			}
		}
	}
	if best == "" {
		return FileTypeName(-1)
	}
	return "not set (most weights are " + best + ")"
}

// FileTypeName names a llama_ftype value (general.file_type) as llama.cpp does ("Q4_K_M").
func FileTypeName(ft int) string {
	names := map[int]string{0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
		11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
		19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S",
		27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16"}
	if n, ok := names[ft]; ok {
		return n
	}
	if ft < 0 {
		return "unknown"
	}
	return fmt.Sprintf("ftype(%d)", ft)
}
