package engine

import (
	"bytes"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
)

// FuzzLoad feeds arbitrary bytes past the parser: the configuration checks, the tokenizer, binding the
// weights on the CPU and a first forward pass of the prompt. Nothing may panic, hang or allocate more than
// the input justifies; errors are fine. Run: make fuzz; found inputs land in testdata/fuzz/FuzzLoad, and
// the committed seeds there (tiny valid and hostile models) run with every go test.
func FuzzLoad(f *testing.F) {
	for _, o := range []synth.Options{
		{Vocab: 260, Embd: 32, Layers: 1, Heads: 2, KVHeads: 1, FF: 32, Ctx: 16, Seed: 1},
		{Vocab: 260, Embd: 32, Layers: 1, Heads: 2, KVHeads: 2, FF: 32, Ctx: 16, Seed: 2, Type: "Q8_0", TiedEmbed: true},
	} {
		var buf bytes.Buffer
		if err := synth.Write(&buf, o); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse(data)
		if err != nil {
			return
		}
		var elems uint64
		for i := range file.Tensors {
			elems += file.Tensors[i].Elements()
		}
		if elems > 1<<20 { // the forward pass of larger claims is slow, not wrong: keep the fuzzer fast
			return
		}
		b := NewCPU(1)
		defer b.Close()
		m, err := Load(file, b)
		if err != nil {
			return
		}
		ids := m.Tokenizer.Encode("hi there", true, false)
		if len(ids) == 0 || len(ids) > 8 {
			return
		}
		s, err := m.NewSession(16, 8)
		if err != nil {
			return
		}
		_, _ = s.Eval(ids, false)
	})
}
