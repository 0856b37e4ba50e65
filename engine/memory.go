package engine

import (
	"fmt"

	"github.com/llamago/llamago/engine/arch"
	"github.com/llamago/llamago/gguf"
)

// MemoryPlan is what a model needs on a device: weights by layer, the rest of the weights, and per
// layer the KV cache, plus the activation buffers of one session.
type MemoryPlan struct {
	LayerWeights []int64 // bytes of blk.N.* for each layer N
	OtherWeights int64   // token embedding, output norm and projection
	LayerKV      int64   // bytes of KV cache per layer at the planned context
	HalfKV       bool    // the KV cache is in half precision already (for the advice)
	Activations  int64   // bytes of activation buffers for the planned batch
	Scratch      int64   // the device backend's own scratch for such batches (Reserver.ScratchBytes), once
}

// PlanMemory adds up a model's device memory for a session of ctx positions and batches of batch tokens:
// what NewSession allocates, the KV cache in whole blocks of kv (LoadOptions.KVType).
func PlanMemory(f *gguf.File, cfg *gguf.LlamaConfig, ctx, batch int, kv gguf.Type) MemoryPlan {
	p := MemoryPlan{LayerWeights: make([]int64, cfg.BlockCount)}
	for _, t := range f.Tensors {
		if l, ok := arch.BlockIndex(t.Name); ok && l < cfg.BlockCount {
			p.LayerWeights[l] += int64(t.Size)
			continue
		}
		p.OtherWeights += int64(t.Size)
	}
	// The same counts NewSession's runner allocates (and reserves on a device).
	batch = min(max(batch, 1), ctx)
	p.LayerKV, p.HalfKV = kvBytes(cfg, 1, blocksFor(ctx), kv), kv == gguf.TypeF16
	p.Activations = 4 * stepFloats(cfg, batch, batch, true)
	return p
}

// Total is the memory for every layer on one device.
func (p MemoryPlan) Total() int64 { return p.Fits(len(p.LayerWeights)) }

// Fits is the memory for the first n layers plus everything else on one device.
func (p MemoryPlan) Fits(n int) int64 {
	total := p.OtherWeights + p.Activations + p.Scratch
	for _, w := range p.LayerWeights[:n] {
		total += w + p.LayerKV
	}
	return total
}

// LayersFitting is how many leading layers fit in free bytes (with the rest of the model), −1 if none.
func (p MemoryPlan) LayersFitting(free int64) int {
	best := -1
	for n := 0; n <= len(p.LayerWeights); n++ {
		if p.Fits(n) <= free {
			best = n
		}
	}
	return best
}

// CheckFits returns an error that says how many layers would fit when the whole model does not fit in free
// bytes of device memory.
func (p MemoryPlan) CheckFits(free int64, device string) error {
	need := p.Total()
	if need <= free {
		return nil
	}
	gib := func(b int64) float64 { return float64(b) / (1 << 30) }
	n := p.LayersFitting(free)
	advice := "even the embedding and output do not fit: use --backend cpu or a smaller --ctx"
	if n >= 0 {
		advice = fmt.Sprintf("--gpu-layers %d would fit (the other %d layers then run on the CPU), or use a smaller --ctx", n, len(p.LayerWeights)-n)
	}
	if !p.HalfKV && p.LayerKV > 0 {
		advice += ", or --kv-type f16 (the KV cache in half the bytes)"
	}
	return fmt.Errorf("the model needs %.2f GiB on %s (weights, KV cache and activations) but %.2f GiB are free: %s",
		gib(need), device, gib(free), advice)
}
