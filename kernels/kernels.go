// Package kernels holds llamago's CUDA C kernels (one .cu file per op family, common.cuh shared) and their
// PTX, compiled for compute_80 by `make kernels` and committed, so building the CUDA backend needs no nvcc.
// The driver JIT-compiles the PTX for the card it runs on (A100, L4, RTX 30/40, H100, H200, …).
package kernels

import (
	"embed"
	"fmt"
)

//go:embed ptx/*.ptx
var ptx embed.FS

// Sources holds the kernel sources and the CPU emulator's headers. The emulator build of the CUDA backend
// (engine/cuda, tag cudaemu) compiles them with g++ and refers to this variable, so that Go's build cache
// sees a change of a kernel as a change of that package's inputs and compiles it again.
//
//go:embed *.cu *.cuh emu/*.h
var Sources embed.FS

// Families lists the kernel families (one PTX module each).
var Families = []string{"matvec", "norm", "rope", "attention"}

// Names lists the kernels (extern "C" entry points) of each family that the CUDA backend launches.
var Names = map[string][]string{
	"matvec":    matvecNames(),
	"norm":      {"rmsnorm_f32", "swiglu_f32", "add_f32"},
	"rope":      {"rope_f32", "rope_store_f32", "rope_store_f16"},
	"attention": {"attention_f32", "attention_tile_f32", "kv_store_f32", "attention_f16", "attention_tile_f16", "kv_store_f16"},
}

// WeightTypes are the suffixes of the weight types the matvec family has kernels for.
var WeightTypes = []string{"f32", "f16", "q4_0", "q8_0", "q4_k", "q6_k"}

// CoalescedTypes are the weight types whose one-token products also have kernels that read the
// activations coalesced (matvec1c_*).
var CoalescedTypes = []string{"q4_0", "q8_0"}

// TensorCoreTypes are the weight types whose prompt-sized products have tensor-core kernels (matmul_tc_T).
var TensorCoreTypes = []string{"f16", "q4_0", "q8_0", "q4_k", "q6_k"}

// matvecNames: per weight type, the matrix products (a batch of up to 8 tokens; one token with 2 or 4 rows
// per warp), the products fused with SwiGLU (batch; one token) and the embedding row fetch; then the
// coalesced one-token kernels (1, 2 or 4 rows per warp; SwiGLU).
func matvecNames() []string {
	var names []string
	for _, t := range WeightTypes {
		for _, k := range []string{"matvec_", "matvec1_rows2_", "matvec1_rows4_", "matvec_swiglu_", "matvec1_swiglu_", "embed_"} {
			names = append(names, k+t)
		}
	}
	for _, t := range CoalescedTypes {
		for _, k := range []string{"matvec1c_rows1_", "matvec1c_rows2_", "matvec1c_rows4_", "matvec1c_swiglu_"} {
			names = append(names, k+t)
		}
	}
	for _, t := range TensorCoreTypes {
		names = append(names, "matmul_tc_"+t)
	}
	return names
}

// PTX returns the PTX text of a kernel family, NUL-terminated as cuModuleLoadData expects.
func PTX(family string) (string, error) {
	b, err := ptx.ReadFile("ptx/" + family + ".ptx")
	if err != nil {
		return "", fmt.Errorf("kernels: no PTX for %q (run make kernels): %w", family, err)
	}
	return string(b) + "\x00", nil
}
