package engine

import (
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
	"github.com/stretchr/testify/require"
)

func TestPlanMemory(t *testing.T) {
	f, m := synthModel(t, synth.Options{Type: "Q8_0", Vocab: 300, Layers: 4, Seed: 2})
	p := PlanMemory(f, m.Config, 128, 16, gguf.TypeF32)
	var weights int64
	for _, ti := range f.Tensors {
		weights += int64(ti.Size)
	}
	var layers int64
	for _, w := range p.LayerWeights {
		require.Positive(t, w)
		layers += w
	}
	require.Equal(t, weights, layers+p.OtherWeights)
	require.Equal(t, int64(2*128*2*64*4), p.LayerKV) // 2 KV heads of 64, keys and values, float32, 4 blocks of 32
	require.NoError(t, p.CheckFits(p.Total(), "test"))
	err := p.CheckFits(p.Fits(2)+1, "test")
	require.ErrorContains(t, err, "--gpu-layers 2 would fit (the other 2 layers then run on the CPU)")
	require.ErrorContains(t, p.CheckFits(1, "test"), "use --backend cpu")
	require.ErrorContains(t, err, "or --kv-type f16 (the KV cache in half the bytes)")
	h := PlanMemory(f, m.Config, 128, 16, gguf.TypeF16)
	require.Equal(t, p.LayerKV/2, h.LayerKV, "a half-precision cache: half the bytes")
	require.NotContains(t, h.CheckFits(h.Fits(2)+1, "test").Error(), "--kv-type f16", "already half precision")
}

// reserving is a CPU backend that records what a session reserves and what it then allocates.
type reserving struct {
	*CPU
	reserved, used, released int64
	last                     Reservation
}

func (r *reserving) Reserve(res Reservation) (func(), error) {
	r.reserved += res.Bytes
	r.last = res
	return func() { r.released += res.Bytes }, nil
}

func (r *reserving) ScratchBytes(Reservation) int64 { return 0 }

func (r *reserving) Alloc(n int) (Buffer, error) {
	r.used += 4 * int64(n)
	return r.CPU.Alloc(n)
}

func (r *reserving) NewKVCache(s KVSpec) (KVCache, error) {
	r.used += 2 * kvElemBytes(s.Type) * int64(s.Layers) * int64(s.Blocks) * int64(s.BlockSize) * int64(s.KVHeads*s.HeadDim)
	return r.CPU.NewKVCache(s)
}

// TestSessionReservesWhatItAllocates: a backend that takes one arena per session is told exactly the
// bytes the session's buffers and KV cache then take, and gets them back when the session is closed.
func TestSessionReservesWhatItAllocates(t *testing.T) {
	f, _ := synthModel(t, synth.Options{Type: "Q8_0", Vocab: 300, Layers: 3, Seed: 4})
	r := &reserving{CPU: NewCPU(1)}
	defer r.Close()
	m, err := Load(f, r)
	require.NoError(t, err)
	s, err := m.NewSession(64, 16)
	require.NoError(t, err)
	require.Positive(t, r.used)
	require.Equal(t, r.used, r.reserved)
	require.Zero(t, r.released)
	s.Close()
	s.Close()
	require.Equal(t, r.reserved, r.released, "Close gives the reservation back, once")
	_, err = s.Eval([]int32{1}, false)
	require.ErrorIs(t, err, ErrClosed)
	plan := PlanMemory(f, m.Config, 64, 16, gguf.TypeF32)
	require.Equal(t, r.used, plan.Activations+int64(m.Config.BlockCount)*plan.LayerKV, "PlanMemory counts what the session allocates")
	c := m.Config
	require.Equal(t, Reservation{Bytes: r.reserved, Batch: 16, Heads: c.HeadCount, HeadDim: c.HeadDim()}, r.last)
}
