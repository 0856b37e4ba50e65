package gguf

import (
	"testing"
)

// FuzzParse feeds arbitrary bytes to the reader and, when they parse, to everything that reads a File.
// Nothing may panic or allocate beyond what the input can justify. Run: make fuzz (or
// go test ./gguf -run '^$' -fuzz FuzzParse -fuzztime 5m); found inputs land in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	raw, _ := writeSample(f)
	f.Add(raw)
	f.Add(hostile(3, 1, 1, str("general.alignment"), u32(uint32(ValueUint32)), u32(64), tensorInfo("t", TypeQ8_0, 0, 32, 2), make([]byte, 200)))
	f.Add(hostile(2, 0, 1, str("tokenizer.ggml.tokens"), u32(uint32(ValueArray)), u32(uint32(ValueString)), u64(2), str("a"), str("b")))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		_, _ = file.LlamaConfig()
		_, _ = file.Tokenizer()
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if ti.Elements() > 1<<16 || !ti.Type.CanDequantize() {
				continue
			}
			out := make([]float32, ti.Elements())
			if err := Dequantize(ti.Type, file.TensorData(ti), out); err != nil {
				t.Fatalf("tensor %q parsed but does not dequantize: %v", ti.Name, err)
			}
		}
	})
}
