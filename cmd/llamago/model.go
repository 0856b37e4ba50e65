package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/llamago/llamago/engine"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/progress"
	"github.com/spf13/pflag"
)

// modelFlags are the flags every command that runs a model shares.
type modelFlags struct {
	Model       string
	Ctx         int
	Batch       int
	Threads     int
	Backend     string
	Devices     []int
	Split       string
	TensorSplit []float64
	GPULay      int
	Unfused     bool
	ActBits     int
	KVType      string
	kvType      gguf.Type // KVType parsed (validate)
	ctxFrom     string    // what set Ctx when the command chose it rather than --ctx (bench -d): for notes
	name        string    // what to call the model when it is not its file's name (the built-in one)
	// kvFor, when set, is the KV cache the command will make, in positions, given the context: a server's
	// parallel requests (or its --kv-blocks) rather than one sequence — for the device memory check.
	kvFor func(ctx int) int
}

func (mf *modelFlags) bind(f *pflag.FlagSet) {
	f.StringVarP(&mf.Model, "model", "m", "", "GGUF model file (required)")
	f.IntVarP(&mf.Ctx, "ctx", "c", 0, "context size in tokens (default: the model's, at most 4096)")
	f.IntVarP(&mf.Batch, "batch", "b", 512, "prompt tokens processed per batch")
	f.IntVarP(&mf.Threads, "threads", "t", 0, "CPU threads (default: all cores)")
	f.StringVar(&mf.Backend, "backend", "auto", "compute backend: auto, cpu or cuda")
	f.IntSliceVar(&mf.Devices, "device", []int{0}, "GPU(s) to use (cuda backend): 1, or 0,1 to split the layers across two cards")
	f.StringVar(&mf.Split, "split", "layers", "how a model is split across several --device GPUs: layers (consecutive layers on each card) or none (the first GPU only)")
	f.Float64SliceVar(&mf.TensorSplit, "tensor-split", nil, "with several --device GPUs, their shares of the layers, e.g. 3,1 (default: in proportion to their free memory)")
	f.IntVar(&mf.GPULay, "gpu-layers", -1, "layers to run on the GPU, the rest on the CPU (partial offload; -1: all)")
	f.BoolVar(&mf.Unfused, "unfused", false, "run every operation as its own GPU kernel, even where the backend fuses them (to find a fault in a fused kernel, or to measure what fusing saves)")
	f.IntVar(&mf.ActBits, "activations", 16, "bits the CPU rounds activations to in quantized matrix products: 16 (logits within ~1e-8 NMSE of exact) or 8 (exactly as llama.cpp rounds them: its logits and its ~5e-4 distance from exact; faster prompts and batches, on CPUs with AVX-512 VNNI or AVX2)")
	f.StringVar(&mf.KVType, "kv-type", "f32", "what the KV cache keeps keys and values in: f32 (exact) or f16 (the cache in half the memory, and faster decoding of long contexts; each key and value rounded to half precision, as llama.cpp's cache keeps them by default)")
	if !gpuBuild {
		for _, name := range []string{"backend", "device", "split", "tensor-split", "gpu-layers", "unfused"} {
			f.MarkHidden(name)
		}
	}
}

// loadedModel is an open model file, its backend(s) and the bound model.
type loadedModel struct {
	file     *gguf.File
	backend  engine.Backend   // the first layers' backend
	others   []engine.Backend // the other backends layers run on (more GPUs; the CPU with --gpu-layers)
	model    *engine.Model
	loadTime time.Duration
	ctx      int
	name     string   // set for the built-in model, else ""
	notes    []string // things the user asked for that will not happen as they may think (printed by the command)
	actBits  int      // --activations (16 or 8)
}

// numerics are the settings that change a loaded model's numbers, as the commands' JSON reports them.
type numerics struct {
	Activations int    `json:"activations"` // bits the CPU rounds activations to in quantized products
	KVType      string `json:"kv_type"`     // what the KV cache keeps keys and values in
}

func (l *loadedModel) numerics() numerics {
	return numerics{Activations: l.actBits, KVType: engine.KVTypeName(l.model.KVType())}
}

// printNotes writes the load notes on stderr.
func (l *loadedModel) printNotes(stderr io.Writer) {
	for _, n := range l.notes {
		fmt.Fprintln(stderr, "llamago: note:", n)
	}
}

func (l *loadedModel) Close() {
	l.backend.Close()
	for _, b := range l.others {
		b.Close()
	}
	l.file.Close()
}

// validate checks the flags (checkFlags) and that -m names a file.
func (mf *modelFlags) validate() error {
	if mf.Model == "" {
		return usagef("--model/-m is required: the GGUF file to run")
	}
	if err := mf.checkFlags(); err != nil {
		return err
	}
	st, err := os.Stat(mf.Model)
	if err != nil {
		return fmt.Errorf("model file: %w", err)
	}
	if st.IsDir() {
		return usagef("-m %s is a folder: give the GGUF file in it", mf.Model)
	}
	return nil
}

// checkFlags checks every flag but -m: before a default model is filled in, or a server listens.
func (mf *modelFlags) checkFlags() error {
	switch {
	case mf.Ctx < 0:
		return usagef("--ctx must be positive, got %d", mf.Ctx)
	case mf.Ctx > gguf.MaxContextLength:
		return usagef("--ctx %d is more than the %d positions llamago supports", mf.Ctx, gguf.MaxContextLength)
	case mf.Batch <= 0:
		return usagef("--batch must be positive, got %d", mf.Batch)
	case mf.Threads < 0:
		return usagef("--threads must be positive (0: all cores), got %d", mf.Threads)
	case mf.GPULay < -1:
		return usagef("--gpu-layers must be -1 (all) or a layer count, got %d", mf.GPULay)
	case mf.ActBits != 0 && mf.ActBits != 16 && mf.ActBits != 8: // 0: a modelFlags made in code
		return usagef("--activations must be 16 (the default) or 8 (llama.cpp's rounding), got %d", mf.ActBits)
	}
	if mf.KVType != "" { // "" (a modelFlags made in code): f32
		var err error
		if mf.kvType, err = engine.ParseKVType(mf.KVType); err != nil {
			return usageError{fmt.Errorf("--kv-type: %w", err)}
		}
	}
	return nil
}

// checkRunnable says in words why a file that parsed is not a model llamago can run, before the loader
// reports a missing hyperparameter key: another architecture, or a vocabulary-only file.
func checkRunnable(f *gguf.File) error {
	arch, _ := f.Metadata.String("general.architecture")
	ok := false
	for _, a := range engine.SupportedArchitectures {
		ok = ok || a == arch
	}
	switch {
	case arch != "" && !ok:
		return fmt.Errorf("%s: architecture %q is not supported (llamago runs: %s)", f.Path, arch, strings.Join(engine.SupportedArchitectures, ", "))
	case len(f.Tensors) == 0:
		return fmt.Errorf("%s has no tensors: it is a vocabulary-only file (usable with 'llamago tokenize -m'), not a model", f.Path)
	}
	return nil
}

// open loads the model on the chosen backend.
func (mf *modelFlags) open() (*loadedModel, error) {
	if err := mf.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	f, err := gguf.Open(mf.Model)
	if err != nil {
		return nil, err
	}
	if err := checkRunnable(f); err != nil {
		f.Close()
		return nil, err
	}
	ctx := mf.Ctx
	if ctx == 0 {
		ctx = 4096
		if cfg, err := f.LlamaConfig(); err == nil {
			ctx = min(cfg.ContextLength, 4096)
		}
	}
	parts, opened, err := openParts(mf, f, ctx)
	if err != nil {
		f.Close()
		return nil, err
	}
	b := parts[0].Backend
	var bar *progress.Bar
	if uploads(b) { // CPU weights stay in the mapping: nothing to wait for
		to := b.Name()
		if len(parts) > 1 { // where the layers go: "cuda:0 … (11 layers), cuda:1 … (11 layers)"
			var s []string
			for _, p := range parts {
				if p.Layers != 0 {
					s = append(s, fmt.Sprintf("%s (%s layers)", p.Backend.Name(), map[bool]string{true: "the other", false: fmt.Sprint(p.Layers)}[p.Layers < 0]))
				}
			}
			to = strings.Join(s, ", ")
		}
		bar = progress.New(0, "loading "+filepath.Base(mf.Model)+" to "+to, true, false)
	}
	m, err := engine.LoadWith(f, engine.LoadOptions{Parts: parts, Unfused: mf.Unfused, KVType: mf.kvType, Progress: func(done, total int64) {
		if bar != nil {
			bar.SetTotal(total)
			bar.Set(done)
		}
	}})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		for _, b := range opened {
			b.Close()
		}
		f.Close()
		return nil, err
	}
	lm := &loadedModel{file: f, backend: b, others: slices.DeleteFunc(opened, func(o engine.Backend) bool { return o == b }),
		model: m, loadTime: time.Since(start), ctx: ctx, name: mf.name, actBits: cmp.Or(mf.ActBits, 16)}
	if cpus := runtime.GOMAXPROCS(0); mf.Threads > cpus { // F10: each extra spinning worker costs the others
		lm.notes = append(lm.notes, fmt.Sprintf("--threads %d is more than the %d CPUs available: the workers take turns and every step slows down (0 uses them all)", mf.Threads, cpus))
	}
	if trained := m.Config.ContextLength; mf.Ctx > trained && trained > 0 {
		what := fmt.Sprintf("--ctx %d is", mf.Ctx)
		if mf.ctxFrom != "" {
			what = fmt.Sprintf("%s take %d positions,", mf.ctxFrom, mf.Ctx)
		}
		lm.notes = append(lm.notes, fmt.Sprintf("%s more than the %d positions the model was trained with: text past them degrades", what, trained))
	}
	if !gpuBuild {
		var unused []string // GPU flags given to a build without CUDA
		if mf.GPULay >= 0 {
			unused = append(unused, "--gpu-layers/-ngl")
		}
		if len(mf.Devices) > 1 || len(mf.Devices) == 1 && mf.Devices[0] != 0 {
			unused = append(unused, "--device/-mg")
		}
		if mf.Split != "" && mf.Split != "layers" {
			unused = append(unused, "--split/-sm")
		}
		if len(mf.TensorSplit) > 0 {
			unused = append(unused, "--tensor-split/-ts")
		}
		if len(unused) > 0 {
			verb := "has"
			if len(unused) > 1 {
				verb = "have"
			}
			lm.notes = append(lm.notes, strings.Join(unused, ", ")+" "+verb+" no effect: this llamago was built without CUDA (make cuda builds bin/llamago-cuda)")
		}
	}
	return lm, nil
}

// bindSampler adds the sampling flags that run and chat share, with llama.cpp's defaults.
func bindSampler(f *pflag.FlagSet, o *engine.SamplerOptions) {
	d := engine.DefaultSampler
	f.Float64Var(&o.Temp, "temp", d.Temp, "temperature (0: greedy)")
	f.IntVar(&o.TopK, "top-k", d.TopK, "keep the k most likely tokens (0: all)")
	f.Float64Var(&o.TopP, "top-p", d.TopP, "keep the smallest set of tokens with this much probability (1: all)")
	f.Float64Var(&o.MinP, "min-p", d.MinP, "drop tokens less likely than this fraction of the most likely (0: off)")
}
