#!/usr/bin/env bash
# Runs bench/gpu/run.sh here, on the CPU emulator of the CUDA kernels, with a tiny model: it checks the
# script itself (steps, table, variants) before it spends device time. The numbers mean nothing.
#   bash bench/gpu/dry-run.sh OUTDIR
set -euo pipefail
out=${1:?usage: dry-run.sh OUTDIR}
cd "$(dirname "$0")/../.."
go build -tags cudaemu -o bin/llamago-emu ./cmd/llamago
go test -tags cudaemu -c -o bin/cuda-emu.test ./engine/cuda
LLAMAGO_GPU_BIN=bin/llamago-emu LLAMAGO_GPU_TESTS="bin/cuda-emu.test -test.run TestLaunchesPerToken" \
  LLAMAGO_GPU_SPECS="tiny:Q4_0 tiny:Q8_0" LLAMAGO_GPU_SWEEP=tiny:Q4_0 LLAMAGO_GPU_PARALLEL=1,2 LLAMAGO_GPU_PARALLEL_GEN=4 \
  bash bench/gpu/run.sh "$out"
