// Package cuda is the NVIDIA GPU backend: engine.Backend on gorgonia.org/cu (the CUDA driver API), with
// the kernels of ../../kernels loaded from their embedded PTX. It exists only under the `cuda` build tag
// (gorgonia.org/cu exits the process at start-up where no driver is), so this file is all a default build
// sees. Build with `make cuda`; check without a GPU with `make cuda-check`.
//
// Weights are uploaded in their GGUF block layout, straight from the mapped file; activations are float32
// device buffers, the KV cache float32 or half precision (--kv-type f16: the _f16 kernels); every operation is enqueued on one stream and nothing waits for the
// GPU until Read copies results back.
//
// Files: backend.go (opening a GPU, health, closing), launch.go (every kernel's arguments as a struct,
// checked against the compiled PTX), memory.go (allocations, the arena a runner reserves and gives back,
// scratch arrays, buffers and copies), matvec.go (weights and the matrix products), norm.go (elementwise
// operations), attention.go (the paged KV cache, RoPE and attention), graph.go (CUDA graphs of decoding
// passes), bandwidth.go (the copy bandwidth devices reports), driver*.go (the driver on a GPU and on the CPU
// emulator of the kernels).
package cuda
