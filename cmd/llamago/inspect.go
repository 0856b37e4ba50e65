package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"text/tabwriter"

	"github.com/llamago/llamago/gguf"
	"github.com/llamago/llamago/internal/npy"
	"github.com/spf13/cobra"
)

type inspectOptions struct {
	JSON      bool
	Metadata  bool
	NoTensors bool
	Tensor    string
	Dump      string
}

func newInspectCmd() *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a GGUF file: architecture, hyperparameters, tokenizer, sizes and tensors",
		Long: `Inspect reads a GGUF file's header (the weights are memory-mapped, not read) and prints the model
architecture, its hyperparameters, a tokenizer summary, the parameter count, the size taken by each
tensor type and a table of tensors. With --tensor NAME --dump OUT.npy it writes one tensor,
dequantized to float32, as a NumPy array whose shape is the tensor's in NumPy order (rows, columns).`,
		Example: `  llamago inspect model.gguf
  llamago inspect model.gguf --json | jq .hyperparameters
  llamago inspect model.gguf --metadata --no-tensors
  llamago inspect model.gguf --tensor token_embd.weight --dump embd.npy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "print one JSON object instead of text")
	f.BoolVar(&o.Metadata, "metadata", false, "also print every metadata key (long arrays are summarized)")
	f.BoolVar(&o.NoTensors, "no-tensors", false, "leave out the tensor table")
	f.StringVar(&o.Tensor, "tensor", "", "show one tensor: type, shape, size and value statistics (with --dump: write it)")
	f.StringVar(&o.Dump, "dump", "", "write the --tensor, dequantized to float32, to this .npy file")
	return cmd
}

// inspectReport is what inspect prints; its JSON form is the --json output.
type inspectReport struct {
	File            string            `json:"file"`
	SizeBytes       int64             `json:"size_bytes"`
	Version         uint32            `json:"gguf_version"`
	Architecture    string            `json:"architecture"`
	FileType        string            `json:"file_type"`
	Parameters      uint64            `json:"parameters"`
	Hyperparameters *gguf.LlamaConfig `json:"hyperparameters,omitempty"`
	ConfigError     string            `json:"config_error,omitempty"`
	Tokenizer       *tokenizerSummary `json:"tokenizer,omitempty"`
	TokenizerError  string            `json:"tokenizer_error,omitempty"`
	ByType          []typeSummary     `json:"size_by_type"`
	Tensors         []tensorRow       `json:"tensors,omitempty"`
	Metadata        map[string]any    `json:"metadata,omitempty"`
	metadataOrder   []string
}

type tokenizerSummary struct {
	Model           string `json:"model"`
	Pre             string `json:"pre"`
	Tokens          int    `json:"tokens"`
	Merges          int    `json:"merges"`
	BOS             int    `json:"bos_id"`
	EOS             int    `json:"eos_id"`
	UNK             int    `json:"unk_id"`
	AddBOS          *bool  `json:"add_bos,omitempty"`
	AddEOS          *bool  `json:"add_eos,omitempty"`
	HasChatTemplate bool   `json:"has_chat_template"`
	pieces          []string
}

type typeSummary struct {
	Type       string `json:"type"`
	Tensors    int    `json:"tensors"`
	Parameters uint64 `json:"parameters"`
	Bytes      uint64 `json:"bytes"`
}

type tensorRow struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Shape  []uint64 `json:"shape"`
	Bytes  uint64   `json:"bytes"`
	Offset uint64   `json:"offset"`
}

func runInspect(w, stderr io.Writer, path string, o inspectOptions) error {
	if o.Dump != "" && o.Tensor == "" {
		return usagef("--dump needs the tensor to write: --tensor NAME --dump OUT.npy")
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if o.Dump != "" {
		return dumpTensor(stderr, f, o.Tensor, o.Dump)
	}
	if o.Tensor != "" {
		return showTensor(w, f, o.Tensor, o.JSON)
	}
	r := buildReport(f, o)
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return printReport(w, r)
}

func buildReport(f *gguf.File, o inspectOptions) *inspectReport {
	r := &inspectReport{File: f.Path, SizeBytes: f.Size(), Version: f.Version}
	r.Architecture, _ = f.Metadata.StringOr("general.architecture", "unknown")
	r.FileType = f.WeightsTypeName() // the key is optional: without it, what most weights are
	if c, err := f.LlamaConfig(); err == nil {
		r.Hyperparameters = c
	} else {
		r.ConfigError = err.Error()
	}
	if t, err := f.Tokenizer(); err == nil {
		r.Tokenizer = &tokenizerSummary{Model: t.Model, Pre: t.Pre, Tokens: len(t.Tokens), Merges: len(t.Merges),
			BOS: t.BOS, EOS: t.EOS, UNK: t.UNK, AddBOS: t.AddBOS, AddEOS: t.AddEOS, HasChatTemplate: t.ChatTemplate != "", pieces: t.Tokens}
	} else if f.Metadata.Has("tokenizer.ggml.model") {
		r.TokenizerError = err.Error()
	}
	byType := map[gguf.Type]*typeSummary{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		s := byType[t.Type]
		if s == nil {
			s = &typeSummary{Type: t.Type.String()}
			byType[t.Type] = s
		}
		s.Tensors++
		s.Parameters += t.Elements()
		s.Bytes += t.Size
		r.Parameters += t.Elements()
		if !o.NoTensors {
			r.Tensors = append(r.Tensors, tensorRow{t.Name, t.Type.String(), t.Dims, t.Size, t.Offset})
		}
	}
	for _, s := range byType {
		r.ByType = append(r.ByType, *s)
	}
	sort.Slice(r.ByType, func(i, j int) bool { return r.ByType[i].Bytes > r.ByType[j].Bytes })
	if o.Metadata {
		r.Metadata = map[string]any{}
		for _, kv := range f.Metadata.KVs {
			r.Metadata[kv.Key] = finiteJSON(summarizeValue(kv.Value))
			r.metadataOrder = append(r.metadataOrder, kv.Key)
		}
	}
	return r
}

// summarizeValue shortens arrays longer than 8 elements to their first few and a count.
func summarizeValue(v any) any {
	if vt, _ := gguf.TypeOf(v); vt != gguf.ValueArray {
		return v
	}
	s := fmt.Sprintf("%v", v)
	if len(s) <= 120 {
		return v
	}
	et, n := gguf.ArrayInfo(v)
	return fmt.Sprintf("%s … (array of %d %s)", s[:100], n, et)
}

func printReport(w io.Writer, r *inspectReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	p("file:\t%s (%s, GGUF v%d)", r.File, humanBytes(uint64(r.SizeBytes)), r.Version)
	p("architecture:\t%s", r.Architecture)
	p("file type:\t%s", r.FileType)
	p("parameters:\t%s", humanCount(r.Parameters))
	if c := r.Hyperparameters; c != nil {
		if c.Name != "" {
			p("name:\t%s", c.Name)
		}
		p("context length:\t%d", c.ContextLength)
		p("embedding length:\t%d", c.EmbeddingLength)
		p("blocks:\t%d", c.BlockCount)
		p("feed-forward length:\t%d", c.FeedForwardLength)
		attn := "multi-head"
		switch {
		case c.HeadCountKV == 1:
			attn = "multi-query"
		case c.HeadCountKV < c.HeadCount:
			attn = fmt.Sprintf("grouped-query, %d queries per KV head", c.HeadCount/c.HeadCountKV)
		}
		p("heads / KV heads:\t%d / %d (%s)", c.HeadCount, c.HeadCountKV, attn)
		p("head size:\t%d (rope on %d dims)", c.HeadDim(), c.RopeDimensionCount)
		p("rope:\tfreq base %g, freq scale %g, scaling %s", c.RopeFreqBase, c.RopeFreqScale, c.RopeScalingType)
		p("rms epsilon:\t%g", c.RMSEpsilon)
		p("vocab size:\t%d", c.VocabSize)
	} else if r.ConfigError != "" {
		p("hyperparameters:\tnot a complete LLaMA-family header: %s", r.ConfigError)
	}
	if t := r.Tokenizer; t != nil {
		p("tokenizer:\t%s (pre %s), %d tokens, %d merges", t.Model, t.Pre, t.Tokens, t.Merges)
		p("special tokens:\tbos %s, eos %s, unk %s", tokenName(t.BOS, t.pieces), tokenName(t.EOS, t.pieces), tokenName(t.UNK, t.pieces))
		p("add bos / eos:\t%s / %s", optBool(t.AddBOS), optBool(t.AddEOS))
		tmpl := "none"
		if t.HasChatTemplate {
			tmpl = "present (tokenizer.chat_template; 'llamago template -m FILE' shows what it makes of a conversation)"
		}
		p("chat template:\t%s", tmpl)
	} else if r.TokenizerError != "" {
		p("tokenizer:\tinvalid: %s", r.TokenizerError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nsize by type:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  type\ttensors\tparameters\tbytes\t")
	for _, s := range r.ByType {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t\n", s.Type, s.Tensors, humanCount(s.Parameters), humanBytes(s.Bytes))
	}
	tw.Flush()
	if len(r.Metadata) > 0 {
		fmt.Fprintln(w, "\nmetadata:")
		for _, k := range r.metadataOrder {
			fmt.Fprintf(w, "  %s = %v\n", k, r.Metadata[k])
		}
	}
	if len(r.Tensors) > 0 {
		fmt.Fprintln(w, "\ntensors:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  name\ttype\tshape\tbytes\toffset")
		for _, t := range r.Tensors {
			fmt.Fprintf(tw, "  %s\t%s\t%v\t%s\t%d\n", t.Name, t.Type, t.Shape, humanBytes(t.Bytes), t.Offset)
		}
		tw.Flush()
	}
	return nil
}

func tokenName(id int, pieces []string) string {
	if id < 0 || id >= len(pieces) {
		return "none"
	}
	return fmt.Sprintf("%d %q", id, pieces[id])
}

func optBool(b *bool) string {
	if b == nil {
		return "not set (the tokenizer's default)"
	}
	return fmt.Sprint(*b)
}

// tensorStats describes one tensor's values.
type tensorStats struct {
	tensorRow
	Min       jsonFloat `json:"min"`
	Max       jsonFloat `json:"max"`
	Mean      jsonFloat `json:"mean"`
	Std       jsonFloat `json:"std"`
	NonFinite int       `json:"non_finite"` // NaN and ±Inf values, left out of the statistics
}

// jsonFloat is a float that JSON can always carry: NaN and ±Inf (what a broken model holds, and exactly
// when one looks) are written as the strings "NaN", "+Inf" and "-Inf" instead of failing the output.
type jsonFloat float64

func (x jsonFloat) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return json.Marshal(fmt.Sprint(f))
	}
	return json.Marshal(f)
}

// finiteJSON returns a metadata value JSON can carry: non-finite floats, alone or in arrays, as strings.
func finiteJSON(v any) any {
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
	switch x := v.(type) {
	case float32:
		if bad(float64(x)) {
			return jsonFloat(x)
		}
	case float64:
		if bad(x) {
			return jsonFloat(x)
		}
	case []float32:
		if slices.ContainsFunc(x, func(f float32) bool { return bad(float64(f)) }) {
			out := make([]jsonFloat, len(x))
			for i, f := range x {
				out[i] = jsonFloat(f)
			}
			return out
		}
	case []float64:
		if slices.ContainsFunc(x, bad) {
			out := make([]jsonFloat, len(x))
			for i, f := range x {
				out[i] = jsonFloat(f)
			}
			return out
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = finiteJSON(e)
		}
		return out
	}
	return v
}

// showTensor prints one tensor's row and the statistics of its dequantized values.
func showTensor(w io.Writer, f *gguf.File, name string, asJSON bool) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("%s has no tensor %q (list them with: llamago inspect %s)", f.Path, name, f.Path)
	}
	st := tensorStats{tensorRow: tensorRow{t.Name, t.Type.String(), t.Dims, t.Size, t.Offset}}
	if t.Type.CanDequantize() {
		vals := make([]float32, t.Elements())
		if err := gguf.Dequantize(t.Type, f.TensorData(t), vals); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		var sum, sq float64
		for _, v := range vals {
			x := float64(v)
			if math.IsNaN(x) || math.IsInf(x, 0) {
				st.NonFinite++
				continue
			}
			lo, hi = math.Min(lo, x), math.Max(hi, x)
			sum += x
			sq += x * x
		}
		n := float64(len(vals) - st.NonFinite)
		if n == 0 { // nothing finite to describe
			lo, hi = math.NaN(), math.NaN()
		}
		mean := sum / n
		st.Min, st.Max, st.Mean = jsonFloat(lo), jsonFloat(hi), jsonFloat(mean)
		st.Std = jsonFloat(math.Sqrt(math.Max(0, sq/n-mean*mean)))
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if _, err := fmt.Fprintf(w, "%s: %s %v, %s at offset %d\nvalues: min %.6g, max %.6g, mean %.6g, std %.6g\n",
		st.Name, st.Type, st.Shape, humanBytes(st.Bytes), st.Offset, st.Min, st.Max, st.Mean, st.Std); err != nil {
		return err
	}
	if st.NonFinite > 0 {
		_, err := fmt.Fprintf(w, "warning: %d values are NaN or infinite (left out of the statistics)\n", st.NonFinite)
		return err
	}
	return nil
}

// dumpTensor writes one tensor, dequantized, as a float32 .npy in NumPy (row-major) order, and says so on
// stderr (as synth and quantize do: stdout carries only data).
func dumpTensor(w io.Writer, f *gguf.File, name, out string) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("%s has no tensor %q (list them with: llamago inspect %s)", f.Path, name, f.Path)
	}
	if !t.Type.CanDequantize() {
		return fmt.Errorf("tensor %q has type %s, which llamago cannot dequantize", name, t.Type)
	}
	vals := make([]float32, t.Elements())
	if err := gguf.Dequantize(t.Type, f.TensorData(t), vals); err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[len(t.Dims)-1-i] = int(d)
	}
	if err := npy.WriteFloat32File(out, shape, vals); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "wrote %s: %s %v as float32 %v\n", out, t.Type, t.Dims, shape)
	return err
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2f K", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
