package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/gguf/synth"
)

// fuzzBase is the valid tiny model FuzzLoad edits (17 KB: the built-in vocabulary's minimum).
func fuzzBase(tb testing.TB) []byte {
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Vocab: 260, Embd: 8, Layers: 1, Heads: 2, KVHeads: 1, FF: 8, Ctx: 16, Seed: 1, TiedEmbed: true}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// applyEdits changes base by a list of 5-byte edits (a little-endian offset, taken modulo the length, and
// the byte to write there); a shorter last piece truncates the file to that fraction of its length.
func applyEdits(base, edits []byte) []byte {
	data := append([]byte(nil), base...)
	for ; len(edits) >= 5; edits = edits[5:] {
		data[binary.LittleEndian.Uint32(edits)%uint32(len(data))] = edits[4]
	}
	if len(edits) > 0 {
		data = data[:len(data)*int(edits[len(edits)-1])/256]
	}
	return data
}

// editsTo is the edit list that turns base into v (same length).
func editsTo(base, v []byte) []byte {
	var edits []byte
	for i := range base {
		if base[i] != v[i] {
			edits = binary.LittleEndian.AppendUint32(edits, uint32(i))
			edits = append(edits, v[i])
		}
	}
	return edits
}

// FuzzLoad takes fuzzed models past the parser: the configuration checks, the tokenizer, binding the
// weights on the CPU and a first forward pass of the prompt. Nothing may panic, hang or allocate more than
// the input justifies; errors are fine. The fuzzed input is a short list of byte edits to a valid tiny model
// rather than a whole file: Go's fuzzer all but stops on inputs of many kilobytes (measured: no progress
// with 12–47 KB seeds, 255k runs in 15 s with small ones). Seeds: the model as it is, and the F1, F2 and F3
// files of the reliability probe (negative rope dimensions, a NaN rope base, a huge block count) as edits.
// Run: make fuzz.
func FuzzLoad(f *testing.F) {
	base := fuzzBase(f)
	file, err := gguf.Parse(base)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	for _, kv := range []map[string]any{
		{"llama.rope.dimension_count": int32(-2)},
		{"llama.rope.freq_base": float32(math.NaN())},
		{"llama.block_count": uint32(1000000)},
	} {
		var buf bytes.Buffer
		err := gguf.Rewrite(&buf, file, func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
			for k, v := range kv {
				md.Set(k, v)
			}
			return ts
		})
		if err != nil || buf.Len() != len(base) {
			f.Fatalf("seed %v: %v (%d bytes, base %d)", kv, err, buf.Len(), len(base))
		}
		f.Add(editsTo(base, buf.Bytes()))
	}
	f.Fuzz(func(t *testing.T, edits []byte) {
		if len(edits) > 5*64 {
			return // a few edits explore more than many
		}
		file, err := gguf.Parse(applyEdits(base, edits))
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

// TestFuzzCorpusIsCommitted: the seeds are also in testdata/fuzz/FuzzLoad, as files the fuzzer and every
// go test run (LLAMAGO_WRITE_FUZZ_SEEDS=1 rewrites them).
func TestFuzzCorpusIsCommitted(t *testing.T) {
	base := fuzzBase(t)
	f, err := gguf.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{"valid-tiny": {}}
	for name, kv := range map[string]map[string]any{
		"rope-dims-negative": {"llama.rope.dimension_count": int32(-2)},
		"rope-base-nan":      {"llama.rope.freq_base": float32(math.NaN())},
		"block-count-huge":   {"llama.block_count": uint32(1000000)},
	} {
		var buf bytes.Buffer
		if err := gguf.Rewrite(&buf, f, func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
			for k, v := range kv {
				md.Set(k, v)
			}
			return ts
		}); err != nil {
			t.Fatal(err)
		}
		seeds[name] = editsTo(base, buf.Bytes())
	}
	for name, edits := range seeds {
		path := filepath.Join("testdata", "fuzz", "FuzzLoad", name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", edits)
		if os.Getenv("LLAMAGO_WRITE_FUZZ_SEEDS") != "" {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale: run LLAMAGO_WRITE_FUZZ_SEEDS=1 go test ./engine -run TestFuzzCorpus", path)
		}
	}
}

// TestFuzzSeedsAreHostile: the F1–F3 seeds of FuzzLoad are the files the loader refuses, so the fuzzer
// starts from the checks' edges.
func TestFuzzSeedsAreHostile(t *testing.T) {
	base := fuzzBase(t)
	f, err := gguf.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b := NewCPU(1)
	defer b.Close()
	if _, err := Load(f, b); err != nil {
		t.Fatalf("the base model must load: %v", err)
	}
	var buf bytes.Buffer
	gguf.Rewrite(&buf, f, func(md *gguf.Metadata, ts []gguf.TensorInfo) []gguf.TensorInfo {
		md.Set("llama.rope.freq_base", float32(math.NaN()))
		return ts
	})
	edited, err := gguf.Parse(applyEdits(base, editsTo(base, buf.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(edited, b); err == nil {
		t.Fatal("a NaN rope base, as edits, must be refused")
	}
}
