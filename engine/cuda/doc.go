// Package cuda is the NVIDIA GPU backend: engine.Backend on gorgonia.org/cu (the CUDA driver API), with
// the kernels of ../../kernels loaded from their embedded PTX. It exists only under the `cuda` build tag
// (gorgonia.org/cu exits the process at start-up where no driver is), so this file is all a default build
// sees. Build with `make cuda`; check without a GPU with `make cuda-check`.
//
// Weights are uploaded in their GGUF block layout, straight from the mapped file; activations and the KV
// cache are float32 device buffers; every operation is enqueued on one stream and nothing waits for the
// GPU until Read copies results back.
package cuda
