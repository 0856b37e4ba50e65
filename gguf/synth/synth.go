// Package synth writes LLaMA-architecture GGUF files with random weights of any shape and type, for tests,
// benchmarks and GPU checks when no trained model is at hand.
//
// Weights are scaled the way a trained model's are, so a forward pass stays well-conditioned and the logits
// have a clear argmax (standard deviation about 4, as in ../shared's syn256 models): projections into the
// residual stream have std 1/√fan_in, outputs back into it are damped by 1/√(2·layers), norms are 1 ± 0.1.
// Files are streamed: each tensor is generated, quantized and written in chunks of rows by a few workers,
// so memory stays bounded (a few MiB per worker) whatever the model size. Output depends only on the
// options and the seed.
package synth

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	"github.com/llamago/llamago/engine/arch"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/atomicfile"
)

// Options describe the model to make. Zero fields take the preset's value.
type Options struct {
	Preset      string // tiny, llama-1b, llama2-7b, llama3-8b
	Vocab       int
	Embd        int
	Layers      int
	Heads       int
	KVHeads     int
	FF          int
	Ctx         int
	RopeDim     int
	RopeBase    float64
	RMSEps      float64
	TiedEmbed   bool   // leave out output.weight (the output projection then reuses token_embd.weight)
	Llama31Rope bool   // write rope_freqs.weight with LLaMA 3.1 frequency factors (factor 8, original context 8192)
	Type        string // a tensor type (Q4_0, F16, …) or a mixture (Q4_K_M)
	VocabFrom   string // copy tokenizer.* metadata from this GGUF file; "" for the built-in byte-level vocabulary
	Seed        uint64
	Name        string
	Workers     int                           // generator goroutines; 0 means GOMAXPROCS
	Progress    func(done, total int64)       // called as bytes are written; may be nil
	Warn        func(format string, a ...any) // notes such as type fallbacks; may be nil
}

// Presets are the named shapes; every field of Options that a preset sets can be overridden.
var Presets = map[string]Options{
	"tiny":      {Vocab: 512, Embd: 256, Layers: 2, Heads: 4, KVHeads: 2, FF: 768, Ctx: 512, RopeBase: 10000, RMSEps: 1e-5},
	"llama-1b":  {Vocab: 32000, Embd: 2048, Layers: 22, Heads: 32, KVHeads: 4, FF: 5632, Ctx: 2048, RopeBase: 10000, RMSEps: 1e-5},
	"llama2-7b": {Vocab: 32000, Embd: 4096, Layers: 32, Heads: 32, KVHeads: 32, FF: 11008, Ctx: 4096, RopeBase: 10000, RMSEps: 1e-5},
	"llama3-8b": {Vocab: 128256, Embd: 4096, Layers: 32, Heads: 32, KVHeads: 8, FF: 14336, Ctx: 8192, RopeBase: 500000, RMSEps: 1e-5},
}

// PresetNames lists the presets in size order.
var PresetNames = []string{"tiny", "llama-1b", "llama2-7b", "llama3-8b"}

// resolve fills zero fields from the preset and checks the shape.
func (o Options) resolve() (Options, error) {
	if o.Preset == "" {
		o.Preset = "tiny"
	}
	p, ok := Presets[o.Preset]
	if !ok {
		return o, fmt.Errorf("--preset: unknown preset %q: choose one of %s (see llamago synth --help)", o.Preset, strings.Join(PresetNames, ", "))
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&o.Vocab, p.Vocab)
	setInt(&o.Embd, p.Embd)
	setInt(&o.Layers, p.Layers)
	setInt(&o.Heads, p.Heads)
	setInt(&o.FF, p.FF)
	setInt(&o.Ctx, p.Ctx)
	if o.KVHeads == 0 {
		o.KVHeads = min(p.KVHeads, o.Heads)
		if o.Heads%o.KVHeads != 0 {
			o.KVHeads = o.Heads
		}
	}
	if o.RopeBase == 0 {
		o.RopeBase = p.RopeBase
	}
	if o.RMSEps == 0 {
		o.RMSEps = p.RMSEps
	}
	if o.Type == "" {
		o.Type = "F32"
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("llamago-synth-%s-%s", o.Preset, o.Type)
	}
	var errs []error
	// The loader's limits (gguf.ReadLlamaConfig), checked on the flags before anything is written: a value
	// past them made a file llamago refuses, was truncated to 32 bits in the header, or ran out of memory
	// planning the tensors.
	sizeErr := false
	for _, c := range []struct {
		name   string
		v, max int
	}{{"vocab", o.Vocab, gguf.MaxVocabSize}, {"embd", o.Embd, gguf.MaxEmbedding}, {"layers", o.Layers, gguf.MaxBlockCount},
		{"heads", o.Heads, gguf.MaxHeadCount}, {"kv-heads", o.KVHeads, gguf.MaxHeadCount}, {"ff", o.FF, 16 * gguf.MaxEmbedding},
		{"ctx", o.Ctx, gguf.MaxContextLength}} {
		if c.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive, got %d", c.name, c.v))
		} else if c.v > c.max {
			errs = append(errs, fmt.Errorf("--%s %d is out of range (allowed: 1 to %d)", c.name, c.v, c.max))
			sizeErr = sizeErr || c.name == "vocab" || c.name == "embd" || c.name == "layers" || c.name == "ff"
		}
	}
	finite := func(name string, v, hi float64) {
		if f := float64(float32(v)); math.IsNaN(v) || math.IsInf(f, 0) || f <= 0 || (hi > 0 && v > hi) {
			allowed := "a finite number greater than 0"
			if hi > 0 {
				allowed += fmt.Sprintf(" and at most %g", hi)
			}
			errs = append(errs, fmt.Errorf("--%s %g is out of range (allowed: %s)", name, v, allowed))
		}
	}
	finite("rope-base", o.RopeBase, 0)
	finite("rms-eps", o.RMSEps, 1)
	if len(errs) > 0 && sizeErr {
		return o, fmt.Errorf("%w%s", errors.Join(errs...), o.sizeNote())
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	if o.Embd%o.Heads != 0 {
		errs = append(errs, fmt.Errorf("--embd %d must be a multiple of --heads %d", o.Embd, o.Heads))
	}
	if o.Heads%o.KVHeads != 0 {
		errs = append(errs, fmt.Errorf("--heads %d must be a multiple of --kv-heads %d", o.Heads, o.KVHeads))
	}
	hd := o.Embd / o.Heads
	ropeDefault := o.RopeDim == 0
	if ropeDefault {
		o.RopeDim = hd
	}
	// A default --rope-dim only inherits a bad head size: that error is already the one above.
	if (o.RopeDim < 2 || o.RopeDim > hd || o.RopeDim%2 != 0) && !(ropeDefault && o.Embd%o.Heads != 0) {
		errs = append(errs, fmt.Errorf("--rope-dim %d must be even, from 2 to the head size %d", o.RopeDim, hd))
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	// Whatever the checks above miss, the loader's own rules refuse here, before a byte is written.
	var md gguf.Metadata
	setHyperparameters(&md, o, 0)
	if _, err := gguf.ReadLlamaConfig(&md); err != nil {
		return o, fmt.Errorf("llamago would refuse this model: %w", err)
	}
	return o, nil
}

// Check resolves the options as Write does and reports what Write would refuse, before any output exists.
func Check(o Options) error {
	r, err := o.resolve()
	if err != nil {
		return err
	}
	if _, err := gguf.NewTypeRule(r.Type, r.Layers); err != nil {
		return fmt.Errorf("--type: %w", err)
	}
	if r.VocabFrom == "" && r.Vocab < minVocab {
		return fmt.Errorf("--vocab: the built-in vocabulary needs at least %d tokens, asked for %d", minVocab, r.Vocab)
	}
	return nil
}

// EstimateBytes is about how large the file of o is (weights at o.Type's bits; metadata left out); 0 when
// the options are invalid. Computed in floating point, it holds for any shape.
func EstimateBytes(o Options) float64 {
	r, err := o.resolve()
	if err != nil {
		return 0
	}
	return r.estimate()
}

// estimate sizes the weights from the shape alone (no tensor list): F32 norms, and the matrices at the
// bits per weight of the type (Q4_K for the Q4_K_M mixture).
func (o Options) estimate() float64 {
	bpw := 4.0
	name := o.Type
	if strings.EqualFold(name, "Q4_K_M") {
		name = "Q4_K"
	}
	if t, err := gguf.ParseType(name); err == nil && t.BlockSize() > 0 {
		bpw = float64(t.RowBytes(t.BlockSize())) / float64(t.BlockSize())
	}
	e, ff, v, l := float64(o.Embd), float64(o.FF), float64(o.Vocab), float64(o.Layers)
	kv := e / math.Max(1, float64(o.Heads)) * float64(max(o.KVHeads, 1))
	layer := bpw*(2*e*e+2*e*kv+3*e*ff) + 4*2*e
	out := v * e
	if o.TiedEmbed {
		out = 0
	}
	return l*layer + bpw*(v*e+out) + 4*e
}

// sizeNote says how large a file the shape asks for, for errors about sizes.
func (o Options) sizeNote() string {
	if o.Vocab <= 0 || o.Embd <= 0 || o.Layers <= 0 || o.FF <= 0 {
		return ""
	}
	return fmt.Sprintf(" (this shape would make a file of about %s)", HumanBytes(o.estimate()))
}

// HumanBytes writes a size in bytes with a binary unit: "1.5 GiB".
func HumanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// tensorSpec is one tensor to generate: name, type, dims (ggml order) and the std of its values.
type tensorSpec struct {
	name string
	typ  gguf.Type
	dims []uint64
	std  float64
	mean float64 // norms are 1 + 0.1·noise
}

// plan lists the tensors in llama.cpp's order with the type each gets.
func plan(o Options, typeFor func(name string, layer int) gguf.Type, warn func(string, ...any)) []tensorSpec {
	warned := map[gguf.Type]bool{}
	e := uint64(o.Embd)
	damp := 1 / math.Sqrt(2*float64(o.Layers))
	mat := func(name string, layer int, in, out uint64, std float64) tensorSpec {
		want := typeFor(name, layer)
		got := gguf.FallbackType(want, int(in))
		if got != want && warn != nil && !warned[want] {
			warned[want] = true
			warn("row length %d is not a multiple of the %s block size %d: such tensors are stored as %s (as llama.cpp does)", in, want, want.BlockSize(), got)
		}
		return tensorSpec{name: name, typ: got, dims: []uint64{in, out}, std: std}
	}
	norm := func(name string) tensorSpec {
		return tensorSpec{name: name, typ: gguf.TypeF32, dims: []uint64{e}, std: 0.1, mean: 1}
	}
	// The tensors of the architecture's table, in its order; a matrix's values have std 1/√inputs (scaled down
	// where it adds to the residual stream, up for the output projection), the embedding's std 1.
	cfg := &gguf.LlamaConfig{EmbeddingLength: o.Embd, HeadCount: o.Heads, HeadCountKV: o.KVHeads, FeedForwardLength: o.FF,
		VocabSize: o.Vocab, BlockCount: o.Layers, RopeDimensionCount: o.RopeDim}
	spec := func(t *arch.Tensor, layer int) (tensorSpec, bool) {
		name := t.Name(layer)
		rows, cols := t.Shape(cfg)
		switch {
		case t.Kind == arch.Norm:
			return norm(name), true
		case t.Kind == arch.Factors:
			return tensorSpec{name: name, typ: gguf.TypeF32, dims: []uint64{uint64(cols)}}, o.Llama31Rope
		case t.Kind == arch.Embedding:
			return mat(name, layer, uint64(cols), uint64(rows), 1), true
		case t.Key == "output.weight":
			return mat(name, layer, uint64(cols), uint64(rows), 4/math.Sqrt(float64(e))), !o.TiedEmbed
		case t.Residual:
			return mat(name, layer, uint64(cols), uint64(rows), damp/math.Sqrt(float64(cols))), true
		}
		return mat(name, layer, uint64(cols), uint64(rows), 1/math.Sqrt(float64(cols))), true
	}
	var specs []tensorSpec
	add := func(ts []arch.Tensor, layer int) {
		for i := range ts {
			if sp, ok := spec(&ts[i], layer); ok {
				specs = append(specs, sp)
			}
		}
	}
	add(arch.Llama.Before(), -1)
	for l := 0; l < o.Layers; l++ {
		add(arch.Llama.Blocks(), l)
	}
	add(arch.Llama.After(), -1)
	return specs
}

// WriteFile writes the model to path atomically: into a temporary file beside it, renamed on success,
// so a failed or interrupted run never leaves a truncated model behind.
func WriteFile(path string, o Options) error {
	tmp, err := atomicfile.Create(path, "synth")
	if err != nil {
		return err
	}
	defer tmp.Abort()
	if err := Write(tmp, o); err != nil {
		return err
	}
	return tmp.Commit()
}

// Write streams the model to w.
func Write(w io.Writer, o Options) error {
	o, err := o.resolve()
	if err != nil {
		return err
	}
	rule, err := gguf.NewTypeRule(o.Type, o.Layers)
	if err != nil {
		return fmt.Errorf("--type: %w", err)
	}
	typeFor, ftype := rule.Want, rule.FileType
	gw := gguf.NewWriter(w)
	if err := setMetadata(&gw.Metadata, o, ftype); err != nil {
		return err
	}
	specs := plan(o, typeFor, o.Warn)
	var total int64
	for _, s := range specs {
		if err := gw.AddTensor(s.name, s.typ, s.dims...); err != nil {
			return err
		}
		total += int64(s.typ.RowBytes(int(s.dims[0]))) * int64(sliceProd(s.dims[1:]))
	}
	var done int64
	for i, s := range specs {
		if err := writeTensor(gw, s, o, uint64(i), func(n int) {
			done += int64(n)
			if o.Progress != nil {
				o.Progress(done, total)
			}
		}); err != nil {
			return fmt.Errorf("tensor %s: %w", s.name, err)
		}
	}
	return gw.Close()
}

func sliceProd(d []uint64) uint64 {
	p := uint64(1)
	for _, x := range d {
		p *= x
	}
	return p
}

func setMetadata(md *gguf.Metadata, o Options, ftype int) error {
	setHyperparameters(md, o, ftype)
	if o.VocabFrom != "" {
		return copyVocab(md, o)
	}
	tokens, scores, types, err := builtinVocab(o.Vocab)
	if err != nil {
		return err
	}
	md.Set("tokenizer.ggml.model", "llama")
	md.Set("tokenizer.ggml.pre", "default")
	md.Set("tokenizer.ggml.tokens", tokens)
	md.Set("tokenizer.ggml.scores", scores)
	md.Set("tokenizer.ggml.token_type", types)
	md.Set("tokenizer.ggml.bos_token_id", uint32(1))
	md.Set("tokenizer.ggml.eos_token_id", uint32(2))
	md.Set("tokenizer.ggml.unknown_token_id", uint32(0))
	md.Set("tokenizer.ggml.add_bos_token", true)
	md.Set("tokenizer.ggml.add_eos_token", false)
	return nil
}

// setHyperparameters writes the general.* and llama.* keys of o (resolved, so every value fits its type).
func setHyperparameters(md *gguf.Metadata, o Options, ftype int) {
	md.Set("general.architecture", "llama")
	md.Set("general.name", o.Name)
	md.Set("general.file_type", uint32(ftype))
	md.Set("general.quantization_version", uint32(2))
	md.Set("llama.context_length", uint32(o.Ctx))
	md.Set("llama.embedding_length", uint32(o.Embd))
	md.Set("llama.block_count", uint32(o.Layers))
	md.Set("llama.feed_forward_length", uint32(o.FF))
	md.Set("llama.attention.head_count", uint32(o.Heads))
	md.Set("llama.attention.head_count_kv", uint32(o.KVHeads))
	md.Set("llama.rope.dimension_count", uint32(o.RopeDim))
	md.Set("llama.rope.freq_base", float32(o.RopeBase))
	md.Set("llama.attention.layer_norm_rms_epsilon", float32(o.RMSEps))
	md.Set("llama.vocab_size", uint32(o.Vocab))
}

// copyVocab copies every tokenizer.* key from o.VocabFrom; its token count must equal the model's vocab.
func copyVocab(md *gguf.Metadata, o Options) error {
	src, err := gguf.Open(o.VocabFrom)
	if err != nil {
		return fmt.Errorf("--vocab-from: %w", err)
	}
	defer src.Close()
	toks, err := src.Metadata.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return fmt.Errorf("--vocab-from %s: %w", o.VocabFrom, err)
	}
	if len(toks) != o.Vocab {
		return fmt.Errorf("--vocab-from %s has %d tokens but the model's vocabulary is %d: pass --vocab %d", o.VocabFrom, len(toks), o.Vocab, len(toks))
	}
	for _, kv := range src.Metadata.KVs {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			md.Set(kv.Key, kv.Value)
		}
	}
	return nil
}

// rowsPerChunk is how many rows a worker generates at a time.
const rowsPerChunk = 64

// writeTensor generates the tensor chunk by chunk on o.Workers goroutines and writes chunks in order.
func writeTensor(gw *gguf.Writer, s tensorSpec, o Options, index uint64, progress func(int)) error {
	if s.name == "rope_freqs.weight" {
		buf := make([]byte, 4*s.dims[0])
		if err := gguf.Quantize(gguf.TypeF32, llama31RopeFactors(o), buf); err != nil {
			return err
		}
		_, err := gw.Write(buf)
		progress(len(buf))
		return err
	}
	cols := int(s.dims[0])
	rows := int(sliceProd(s.dims[1:]))
	rowBytes := s.typ.RowBytes(cols)
	nChunks := (rows + rowsPerChunk - 1) / rowsPerChunk
	h := fnv.New64a()
	h.Write([]byte(s.name))
	stream := h.Sum64() ^ index

	type result struct {
		buf []byte
		err error
	}
	results := make([]chan result, nChunks)
	for i := range results {
		results[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, 2*o.Workers) // chunks in flight: bounds memory
	var wg sync.WaitGroup
	go func() {
		for c := 0; c < nChunks; c++ {
			sem <- struct{}{}
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				r0 := c * rowsPerChunk
				n := min(rowsPerChunk, rows-r0)
				rng := rand.New(rand.NewPCG(o.Seed, stream+uint64(c)*0x9e3779b97f4a7c15))
				x := make([]float32, n*cols)
				for i := range x {
					x[i] = float32(s.mean + s.std*approxNormal(rng))
				}
				buf := make([]byte, n*rowBytes)
				results[c] <- result{buf, gguf.Quantize(s.typ, x, buf)}
			}(c)
		}
	}()
	var firstErr error
	for c := 0; c < nChunks; c++ {
		r := <-results[c]
		<-sem
		if firstErr != nil {
			continue
		}
		if r.err != nil {
			firstErr = r.err
			continue
		}
		if _, err := gw.Write(r.buf); err != nil {
			firstErr = err
			continue
		}
		progress(len(r.buf))
	}
	wg.Wait()
	return firstErr
}

// approxNormal returns a standard-normal-like value: the centred sum of four 16-bit uniforms from one
// 64-bit draw (Irwin–Hall, std 1, bounded at ±3.46). Several times faster than an exact normal, which
// matters for the billions of values of a 7B model, and smooth enough for synthetic weights.
func approxNormal(r *rand.Rand) float64 {
	u := r.Uint64()
	s := float64(u&0xffff) + float64(u>>16&0xffff) + float64(u>>32&0xffff) + float64(u>>48)
	return (s - 2*65535.0) / 37837.0
}

// llama31RopeFactors are the per-frequency divisors LLaMA 3.1 applies to RoPE (as its GGUF conversion writes
// them to rope_freqs.weight): 1 for short wavelengths, 8 for long ones, smoothly between.
func llama31RopeFactors(o Options) []float32 {
	const factor, low, high, oldCtx = 8.0, 1.0, 4.0, 8192.0
	out := make([]float32, o.RopeDim/2)
	for i := range out {
		freq := math.Pow(o.RopeBase, -2*float64(i)/float64(o.RopeDim))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < oldCtx/high:
			out[i] = 1
		case wavelen > oldCtx/low:
			out[i] = factor
		default:
			smooth := (oldCtx/wavelen - low) / (high - low)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out
}
