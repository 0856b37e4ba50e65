#!/usr/bin/env bash
# Runs bench/gpu/run.sh here, on the CPU emulator of the CUDA kernels, with a tiny model: it checks the
# script itself (steps, table, variants, the packed output) before it spends device time. The numbers mean
# nothing. The environment passes through: LLAMAGO_GPU_DEADLINE=20 shows steps skipped at the deadline,
# LLAMAGO_GPU_BIN=/bin/false the early stop when the backend cannot start. Then it checks what the device
# tool would return: at most 8 files in OUTDIR, and a run.tgz holding the logs.
#   bash bench/gpu/dry-run.sh OUTDIR
set -euo pipefail
out=${1:?usage: dry-run.sh OUTDIR}
cd "$(dirname "$0")/../.."
go build -tags cudaemu -o bin/llamago-emu ./cmd/llamago
go test -tags cudaemu -c -o bin/cuda-emu.test ./engine/cuda
rc=0
LLAMAGO_GPU_BIN=${LLAMAGO_GPU_BIN:-bin/llamago-emu} LLAMAGO_GPU_TESTS=${LLAMAGO_GPU_TESTS:-bin/cuda-emu.test -test.run TestLaunchesPerToken} \
  LLAMAGO_GPU_SPECS="tiny:Q4_0 tiny:Q8_0" LLAMAGO_GPU_SWEEP=tiny:Q4_0 LLAMAGO_GPU_PARALLEL=1,2 LLAMAGO_GPU_PARALLEL_GEN=4 LLAMAGO_GPU_PROMPTS=16,32 LLAMAGO_GPU_DEPTH=64 \
  bash bench/gpu/run.sh "$out" || rc=$?
echo "run.sh exit $rc"
n=$(find "$out" -type f | wc -l)
echo "$n files in $out:"
ls -l "$out"
echo "run.tgz:"
tar tzvf "$out/run.tgz"
[ "$n" -le 8 ] || { echo "more than 8 files in $out: the device tool would leave some behind" >&2; exit 1; }
exit "$rc"
