// Command llamago runs LLaMA-family GGUF models on the CPU (and, built with -tags cuda, on NVIDIA GPUs),
// inspects and synthesizes model files, and shows what the attention heads do.
package main

import "os"

func main() { os.Exit(execute(os.Args[1:])) }
