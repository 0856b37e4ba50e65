package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/llamago/llamago/engine/arch"
	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/atomicfile"
	"github.com/llamago/llamago/internal/progress"
	"github.com/spf13/cobra"
)

type quantizeOptions struct {
	Threads int
	Quiet   bool
}

func newQuantizeCmd() *cobra.Command {
	var o quantizeOptions
	cmd := &cobra.Command{
		Use:   "quantize IN.gguf OUT.gguf TYPE",
		Short: "Convert a model's weights to another type (Q4_0, Q8_0, Q4_K_M, …)",
		Long: `Quantize writes a copy of a GGUF model with its 2-D weight matrices stored as TYPE: a tensor type
(F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) or the
mixture Q4_K_M (Q6_K for output.weight and some attn_v/ffn_down, Q4_K elsewhere). Norms and other 1-D
tensors keep their type; a row length a type's block does not divide falls back as in llama.cpp.
Metadata is copied (general.file_type updated). The output is written beside OUT and renamed when
complete. Start from F16/F32 when you can: requantizing an already quantized model adds its error.

See what a quantization costs with perplexity and KL divergence against the original:
  llamago perplexity -m in.gguf  -f text.txt --kl-divergence-base base.kld
  llamago perplexity -m out.gguf -f text.txt --kl-divergence-base base.kld --kl-divergence`,
		Example: `  llamago quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M
  llamago quantize model-f16.gguf model-q8_0.gguf q8_0 --threads 4`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuantize(cmd.ErrOrStderr(), args[0], args[1], args[2], o)
		},
	}
	cmd.Flags().IntVarP(&o.Threads, "threads", "t", 0, "quantization threads (default: all cores)")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// blockLayer returns N for a tensor named blk.N.…, else −1.
func blockLayer(name string) int {
	if n, ok := arch.BlockIndex(name); ok {
		return n
	}
	return -1
}

func runQuantize(stderr io.Writer, in, out, target string, o quantizeOptions) error {
	if o.Threads < 0 {
		return usagef("--threads must be positive (0: all cores), got %d", o.Threads)
	}
	if abs(in) == abs(out) {
		return usagef("the output must be another file than the input")
	}
	if err := atomicfile.NotInput(out, in); err != nil { // a symbolic or hard link to the input
		return usageError{err}
	}
	src, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	layers := 0
	for _, t := range src.Tensors {
		layers = max(layers, blockLayer(t.Name)+1)
	}
	rule, err := gguf.NewTypeRule(target, layers)
	if err != nil {
		return usageError{err}
	}
	tmp, err := atomicfile.Create(out, "quantize")
	if err != nil {
		return err
	}
	defer tmp.Abort()
	w := gguf.NewWriter(tmp)
	for _, kv := range src.Metadata.KVs {
		w.Metadata.Set(kv.Key, kv.Value)
	}
	w.Metadata.Set("general.file_type", uint32(rule.FileType))
	w.Metadata.Set("general.quantization_version", uint32(2))
	types := make([]gguf.Type, len(src.Tensors))
	var total int64
	requantized := map[gguf.Type]bool{}
	fellBack := map[string]int{} // "Q8_0 instead of Q6_K (rows of 64 …)" → count
	weights, asked := 0, 0
	for i := range src.Tensors {
		t := &src.Tensors[i]
		types[i] = t.Type
		if len(t.Dims) == 2 && strings.HasSuffix(t.Name, ".weight") {
			want := rule.Want(t.Name, blockLayer(t.Name))
			types[i] = rule.For(t.Name, blockLayer(t.Name), int(t.Dims[0]))
			weights++
			if types[i] == want {
				asked++
			} else {
				fellBack[fmt.Sprintf("%s instead of %s (rows of %d, not a multiple of its block of %d)", types[i], want, t.Dims[0], want.BlockSize())]++
			}
			if types[i] != t.Type && !t.Type.CanDequantize() {
				return fmt.Errorf("tensor %s is %s, which llamago cannot read to convert", t.Name, t.Type)
			}
			if t.Type.IsQuantized() && types[i] != t.Type {
				requantized[t.Type] = true
			}
		}
		if err := w.AddTensor(t.Name, types[i], t.Dims...); err != nil {
			return err
		}
		total += int64(types[i].RowBytes(int(t.Dims[0]))) * int64(t.Elements()/max(t.Dims[0], 1)) // a zero dimension: no rows
	}
	// Like llama-quantize: say which weights could not take the requested type, and warn when none did.
	for _, k := range sortedKeys(fellBack) {
		fmt.Fprintf(stderr, "llamago quantize: note: %d weight(s) stored as %s\n", fellBack[k], k)
	}
	if weights > 0 && asked == 0 {
		fmt.Fprintf(stderr, "llamago quantize: warning: no weight could be stored as %s: the file holds only fallback types\n", rule.Name)
	}
	for t := range requantized {
		fmt.Fprintf(stderr, "llamago quantize: note: requantizing weights stored as %s adds their rounding error to %s's; start from F16/F32 when you can\n", t, rule.Name)
	}
	threads := o.Threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	bar := progress.New(total, "quantize "+filepath.Base(out), true, o.Quiet)
	start := time.Now()
	var done int64
	for i := range src.Tensors {
		t := &src.Tensors[i]
		n, err := convertTensor(w, t, src.TensorData(t), types[i], threads)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		done += n
		bar.Set(done)
	}
	if err := w.Close(); err != nil {
		return err
	}
	bar.Finish()
	if err := tmp.Commit(); err != nil {
		return err
	}
	st, _ := os.Stat(out)
	fmt.Fprintf(stderr, "wrote %s: %s, %s (from %s), in %s\n", out, rule.Name, humanBytes(uint64(st.Size())),
		humanBytes(uint64(src.Size())), time.Since(start).Round(time.Millisecond))
	return nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// convertTensor writes t's data as type to, converting chunks of rows on threads goroutines (memory stays
// at a few chunks whatever the tensor's size). It returns the bytes written.
func convertTensor(w *gguf.Writer, t *gguf.TensorInfo, data []byte, to gguf.Type, threads int) (int64, error) {
	if to == t.Type || t.Elements() == 0 { // nothing to convert (a tensor with a zero dimension has no bytes)
		_, err := w.Write(data)
		return int64(len(data)), err
	}
	cols := int(t.Dims[0])
	rows := int(t.Elements() / t.Dims[0])
	inRow, outRow := t.Type.RowBytes(cols), to.RowBytes(cols)
	const chunkRows = 256
	out := make([]byte, chunkRows*outRow)
	var written int64
	for r0 := 0; r0 < rows; r0 += chunkRows {
		n := min(chunkRows, rows-r0)
		var wg sync.WaitGroup
		errs := make([]error, threads)
		per := (n + threads - 1) / threads
		for k := 0; k < threads; k++ {
			lo, hi := k*per, min(n, (k+1)*per)
			if lo >= hi {
				break
			}
			wg.Add(1)
			go func(k, lo, hi int) {
				defer wg.Done()
				f := make([]float32, cols)
				for r := lo; r < hi; r++ {
					row := data[(r0+r)*inRow : (r0+r+1)*inRow]
					if err := gguf.Dequantize(t.Type, row, f); err != nil {
						errs[k] = err
						return
					}
					if err := gguf.Quantize(to, f, out[r*outRow:(r+1)*outRow]); err != nil {
						errs[k] = err
						return
					}
				}
			}(k, lo, hi)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return written, err
			}
		}
		if _, err := w.Write(out[:n*outRow]); err != nil {
			return written, err
		}
		written += int64(n * outRow)
	}
	return written, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
