package arch

import "github.com/llamago/llamago/gguf"

// Llama is the LLaMA architecture (LLaMA 1–3, TinyLlama, Mistral-style files): pre-norm blocks of grouped-
// query attention with rotary positions and a SwiGLU feed-forward, RMSNorm everywhere.
var Llama = &Arch{Name: "llama", Tensors: []Tensor{
	{Key: "token_embd.weight", Kind: Embedding, Shape: vocabByEmbd},
	{Key: "attn_norm.weight", Block: true, Kind: Norm, Shape: embd},
	{Key: "attn_q.weight", Block: true, Kind: Matrix, Shape: func(c *gguf.LlamaConfig) (int, int) { return c.HeadCount * c.HeadDim(), c.EmbeddingLength }},
	{Key: "attn_k.weight", Block: true, Kind: Matrix, Shape: kvByEmbd},
	{Key: "attn_v.weight", Block: true, Kind: Matrix, Shape: kvByEmbd},
	{Key: "attn_output.weight", Block: true, Kind: Matrix, Residual: true,
		Shape: func(c *gguf.LlamaConfig) (int, int) { return c.EmbeddingLength, c.HeadCount * c.HeadDim() }},
	{Key: "ffn_norm.weight", Block: true, Kind: Norm, Shape: embd},
	{Key: "ffn_gate.weight", Block: true, Kind: Matrix, Shape: ffByEmbd},
	{Key: "ffn_up.weight", Block: true, Kind: Matrix, Shape: ffByEmbd},
	{Key: "ffn_down.weight", Block: true, Kind: Matrix, Residual: true,
		Shape: func(c *gguf.LlamaConfig) (int, int) { return c.EmbeddingLength, c.FeedForwardLength }},
	{Key: "output_norm.weight", Kind: Norm, Shape: embd},
	{Key: "rope_freqs.weight", Kind: Factors, Optional: true,
		Shape: func(c *gguf.LlamaConfig) (int, int) { return 1, c.RopeDimensionCount / 2 }},
	{Key: "output.weight", Kind: Matrix, Optional: true, Shape: vocabByEmbd}, // absent: tied to token_embd
}}

func init() { Register(Llama) }

func embd(c *gguf.LlamaConfig) (int, int)        { return 1, c.EmbeddingLength }
func vocabByEmbd(c *gguf.LlamaConfig) (int, int) { return c.VocabSize, c.EmbeddingLength }
func kvByEmbd(c *gguf.LlamaConfig) (int, int)    { return c.HeadCountKV * c.HeadDim(), c.EmbeddingLength }
func ffByEmbd(c *gguf.LlamaConfig) (int, int)    { return c.FeedForwardLength, c.EmbeddingLength }
