package engine

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/llamago/llamago/engine/arch"
	"github.com/llamago/llamago/engine/tokenizer"
	"github.com/llamago/llamago/gguf"
)

// SupportedArchitectures are the general.architecture values llamago runs (the registered ones).
var SupportedArchitectures = arch.Names()

// Model is a loaded model: its hyperparameters, tokenizer and weights bound on a backend.
type Model struct {
	Config    *gguf.LlamaConfig
	Tokenizer *tokenizer.Tokenizer
	File      *gguf.File
	Backend   Backend // the backend of the first layers (and the token embedding)
	Rope      RopeParams
	TiedEmbed bool // the output projection reuses token_embd.weight

	tokEmbd Weight // [vocab][embd], on backends[0]
	outNorm Weight // [embd], on the backend of the last layer
	output  Weight // [vocab][embd], on the backend of the last layer
	layers  []layerWeights

	// backends are the distinct backends in layer order; layerOn[l] indexes the one layer l runs on.
	backends []Backend
	layerOn  []int
	unfused  bool      // LoadOptions.Unfused
	kvType   gguf.Type // LoadOptions.KVType

	// step serializes the forward passes of the model's runners: a backend runs one pass at a time (the
	// CPU's worker pool, a GPU's stream), so sessions and schedulers on one model may run concurrently.
	step sync.Mutex
}

// layerWeights are one transformer block's tensors; shapes are [rows][cols] = [out][in].
type layerWeights struct {
	attnNorm Weight // [embd]
	wq       Weight // [heads·headDim][embd]
	wk       Weight // [kvHeads·headDim][embd]
	wv       Weight // [kvHeads·headDim][embd]
	wo       Weight // [embd][heads·headDim]
	ffnNorm  Weight // [embd]
	wGate    Weight // [ff][embd]
	wUp      Weight // [ff][embd]
	wDown    Weight // [embd][ff]

	qkv    []Weight // wq, wk, wv: one input, for backends with MatMuls
	gateUp []Weight // wGate, wUp
}

// Load binds the weights of an open GGUF file on a backend. The file must stay open while the model is used.
func Load(f *gguf.File, b Backend) (*Model, error) { return LoadSplit(f, b, -1, nil) }

// LoadSplit runs the first n layers (and the token embedding) on first and the remaining layers (and the
// output norm and projection) on rest — partial offload: a model larger than a GPU runs with its first
// layers there and the others on the CPU. n < 0, or n ≥ the layer count, puts everything on first.
func LoadSplit(f *gguf.File, first Backend, n int, rest Backend) (*Model, error) {
	return LoadWith(f, LoadOptions{First: first, FirstLayers: n, Rest: rest})
}

// LoadOptions choose where a model's layers run and how loading reports progress.
type LoadOptions struct {
	First       Backend
	FirstLayers int     // layers on First (< 0: all)
	Rest        Backend // the remaining layers, or nil
	// Parts, when set, replaces First, FirstLayers and Rest: runs of consecutive layers, each on its own
	// backend, in layer order (several GPUs, then perhaps the CPU). The first part also looks up the
	// token embeddings, the last holds the output norm and projection.
	Parts []Part
	// Progress, when set, is called after each tensor is handed to its backend with the bytes done and the
	// total (uploads to a GPU take seconds for large models).
	Progress func(done, total int64)
	// Unfused runs every operation on its own even where a backend offers a fused one (MultiMatMuler,
	// MatMulAdder, MatMulAddNormer, SwiGLUMatMuler, RoPEStorer): to find a fault in a fused kernel, or to
	// measure what fusing saves.
	Unfused bool
	// KVType is the element type of the KV caches of the model's runners and sessions: gguf.TypeF32 (the
	// zero value: exact) or gguf.TypeF16 (half the memory, so twice the positions in a budget, and half the
	// bytes attention reads; each key and value rounded to half precision, as llama.cpp's cache keeps
	// them: beyond ±65504 infinite, as there). Every backend of the model must keep it (SupportsKVType).
	KVType gguf.Type
}

// Part is a run of consecutive layers on one backend (LoadOptions.Parts).
type Part struct {
	Backend Backend
	Layers  int // how many; < 0 on the last part: all the remaining ones
}

// LoadWith binds the weights as o says (see LoadSplit).
func LoadWith(f *gguf.File, o LoadOptions) (*Model, error) {
	cfg, err := f.LlamaConfig()
	if err != nil {
		return nil, err
	}
	supported := false
	for _, a := range SupportedArchitectures {
		supported = supported || a == cfg.Architecture
	}
	if !supported {
		return nil, fmt.Errorf("architecture %q is not supported (llamago runs: %s)", cfg.Architecture, strings.Join(SupportedArchitectures, ", "))
	}
	tok, err := tokenizer.FromFile(f)
	if err != nil {
		return nil, err
	}
	if cfg.VocabSize == 0 {
		cfg.VocabSize = tok.VocabSize()
	}
	m := &Model{Config: cfg, Tokenizer: tok, File: f, unfused: o.Unfused, kvType: o.KVType,
		Rope: RopeParams{Dims: cfg.RopeDimensionCount, Base: float64(cfg.RopeFreqBase), FreqScale: float64(cfg.RopeFreqScale)}}
	if cfg.RopeDimensionCount > cfg.HeadDim() || cfg.RopeDimensionCount%2 != 0 {
		return nil, fmt.Errorf("rope dimension count %d must be even and at most the head size %d", cfg.RopeDimensionCount, cfg.HeadDim())
	}
	if err := checkBlocks(f, cfg); err != nil {
		return nil, err
	}
	if m.backends, m.layerOn, err = placeLayers(o, cfg.BlockCount); err != nil {
		return nil, err
	}
	m.Backend = m.backends[0]
	if kvElemBytes(o.KVType) == 0 {
		return nil, fmt.Errorf("a KV cache of %s is not supported: f32 or f16", KVTypeName(o.KVType))
	}
	for _, b := range m.backends {
		if !SupportsKVType(b, o.KVType) {
			return nil, fmt.Errorf("the %s backend keeps no KV cache of %s: run the model on the CPU, or with an f32 cache", b.Name(), KVTypeName(o.KVType))
		}
	}
	if err := m.bind(o.Progress); err != nil {
		return nil, err
	}
	return m, nil
}

// KVType is the element type of the model's KV caches (LoadOptions.KVType).
func (m *Model) KVType() gguf.Type { return m.kvType }

// placeLayers turns o's parts (or First, FirstLayers and Rest) into the distinct backends in layer order
// and the index of each layer's one. Parts of no layers are left out, but for the first: it still looks up
// the token embeddings (as with --gpu-layers 0).
func placeLayers(o LoadOptions, layers int) ([]Backend, []int, error) {
	parts := o.Parts
	if len(parts) == 0 {
		n := o.FirstLayers
		if n < 0 || n >= layers || o.Rest == nil {
			n = layers
		}
		parts = []Part{{o.First, n}, {o.Rest, layers - n}}
	}
	var backends []Backend
	layerOn := make([]int, 0, layers)
	for i, p := range parts {
		n := p.Layers
		if n < 0 && i == len(parts)-1 {
			n = layers - len(layerOn)
		}
		if n < 0 || len(layerOn)+n > layers {
			return nil, nil, fmt.Errorf("the layer split %s does not fit the model's %d layers", partsString(parts), layers)
		}
		if n == 0 && i > 0 {
			continue
		}
		if p.Backend == nil {
			return nil, nil, fmt.Errorf("part %d of the layer split has no backend", i)
		}
		backends = append(backends, p.Backend)
		for range n {
			layerOn = append(layerOn, len(backends)-1)
		}
	}
	if len(layerOn) != layers || len(backends) == 0 {
		return nil, nil, fmt.Errorf("the layer split %s places %d of the model's %d layers", partsString(parts), len(layerOn), layers)
	}
	return backends, layerOn, nil
}

func partsString(parts []Part) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(p.Layers)
	}
	return strings.Join(s, ",")
}

// lastBackend is the backend of the last layer, which also holds the output norm and projection.
func (m *Model) lastBackend() Backend { return m.backends[len(m.backends)-1] }

// bind finds every tensor of the architecture's table by name, checks its shape and loads it; all problems
// are reported together.
func (m *Model) bind(progress func(done, total int64)) error {
	c, a := m.Config, arch.Llama
	var missing []string
	var errs []error
	var done, total int64
	for _, t := range m.File.Tensors {
		total += int64(t.Size)
	}
	get := func(b Backend, key string, layer int) Weight {
		spec := a.Tensor(key)
		name := spec.Name(layer)
		t, ok := m.File.Tensor(name)
		if !ok {
			if !spec.Optional {
				missing = append(missing, name)
			}
			return nil
		}
		rows, cols := spec.Shape(c)
		want := []uint64{uint64(cols), uint64(rows)}
		if rows == 1 {
			want = want[:1]
		}
		if fmt.Sprint(t.Dims) != fmt.Sprint(want) {
			errs = append(errs, fmt.Errorf("tensor %s has shape %v, the hyperparameters need %v", name, t.Dims, want))
			return nil
		}
		w, err := b.LoadWeight(name, t.Type, rows, cols, m.File.TensorData(t))
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if done += int64(t.Size); progress != nil {
			progress(min(done, total), total)
		}
		return w
	}
	first, last := m.backends[0], m.lastBackend()
	m.tokEmbd = get(first, "token_embd.weight", -1)
	m.outNorm = get(last, "output_norm.weight", -1)
	m.output = get(last, "output.weight", -1)
	if _, ok := m.File.Tensor("output.weight"); !ok {
		m.TiedEmbed = true
		m.output = m.tokEmbd
		if last != first { // the projection runs where the last layer is: it needs its own copy there
			m.output = get(last, "token_embd.weight", -1)
		}
	}
	if t, ok := m.File.Tensor("rope_freqs.weight"); ok {
		if t.Elements() != uint64(m.Rope.Dims/2) {
			errs = append(errs, fmt.Errorf("rope_freqs.weight has %d values, want %d", t.Elements(), m.Rope.Dims/2))
		} else {
			factors := make([]float32, t.Elements())
			if err := gguf.Dequantize(t.Type, m.File.TensorData(t), factors); err != nil {
				errs = append(errs, fmt.Errorf("rope_freqs.weight: %w", err))
			}
			for i, x := range factors { // each divides a frequency
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x <= 0 {
					errs = append(errs, fmt.Errorf("rope_freqs.weight[%d] = %g is out of range (allowed: a finite number greater than 0)", i, x))
					break
				}
			}
			m.Rope.Factors = factors
		}
	}
	m.layers = make([]layerWeights, c.BlockCount)
	for l := range m.layers {
		b := m.backends[m.layerOn[l]]
		m.layers[l] = layerWeights{
			attnNorm: get(b, "attn_norm.weight", l),
			wq:       get(b, "attn_q.weight", l),
			wk:       get(b, "attn_k.weight", l),
			wv:       get(b, "attn_v.weight", l),
			wo:       get(b, "attn_output.weight", l),
			ffnNorm:  get(b, "ffn_norm.weight", l),
			wGate:    get(b, "ffn_gate.weight", l),
			wUp:      get(b, "ffn_up.weight", l),
			wDown:    get(b, "ffn_down.weight", l),
		}
		lw := &m.layers[l]
		lw.qkv, lw.gateUp = []Weight{lw.wq, lw.wk, lw.wv}, []Weight{lw.wGate, lw.wUp}
	}
	if len(missing) > 0 {
		errs = append([]error{fmt.Errorf("%d tensors are missing: %s", len(missing), listSome(missing, maxNamed))}, errs...)
	}
	if len(errs) > maxListed { // a hostile file may get every shape wrong: the error stays short
		errs = append(errs[:maxListed], fmt.Errorf("and %d more problems", len(errs)-maxListed))
	}
	if len(errs) > 0 {
		return fmt.Errorf("cannot load %s (%s): %w", m.File.Path, c.Architecture, errors.Join(errs...))
	}
	return nil
}

// A load error names up to maxNamed missing tensors and maxListed other problems, then counts the rest.
const (
	maxNamed  = 32
	maxListed = 8
)

// listSome joins the first n names and counts the others.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// checkBlocks refuses a block count the file's tensors cannot back, before anything is allocated per
// block: every block has tensors named blk.N.*, so a count past the highest N present is the file's error,
// named in one line (not as the list of every tensor of every absent block).
func checkBlocks(f *gguf.File, cfg *gguf.LlamaConfig) error {
	highest := -1
	for i := range f.Tensors {
		if rest, ok := strings.CutPrefix(f.Tensors[i].Name, "blk."); ok {
			if num, _, ok := strings.Cut(rest, "."); ok {
				if l, err := strconv.Atoi(num); err == nil && l >= 0 && l < cfg.BlockCount {
					highest = max(highest, l)
				}
			}
		}
	}
	if highest >= 0 && highest < cfg.BlockCount-1 { // (no block at all: the capped list of missing tensors says it)
		return fmt.Errorf("metadata %s.block_count = %d does not match the file: its tensors are for blocks 0 to %d at most",
			cfg.Architecture, cfg.BlockCount, highest)
	}
	return nil
}

// attnScale is 1/√headDim.
func (m *Model) attnScale() float32 { return float32(1 / math.Sqrt(float64(m.Config.HeadDim()))) }
