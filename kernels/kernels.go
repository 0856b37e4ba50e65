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
	"matvec": {"matvec_f32", "matvec_f16", "matvec_q4_0", "matvec_q8_0", "matvec_q4_k", "matvec_q6_k",
		"embed_f32", "embed_f16", "embed_q4_0", "embed_q8_0", "embed_q4_k", "embed_q6_k"},
	"norm":      {"rmsnorm_f32", "swiglu_f32", "add_f32"},
	"rope":      {"rope_f32"},
	"attention": {"attention_split_f32", "attention_merge_f32", "kv_store_f32"},
}

// PTX returns the PTX text of a kernel family, NUL-terminated as cuModuleLoadData expects.
func PTX(family string) (string, error) {
	b, err := ptx.ReadFile("ptx/" + family + ".ptx")
	if err != nil {
		return "", fmt.Errorf("kernels: no PTX for %q (run make kernels): %w", family, err)
	}
	return string(b) + "\x00", nil
}
