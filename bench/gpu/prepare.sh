#!/usr/bin/env bash
# Builds, here (Go, no GPU), everything bench/gpu/run.sh needs on the GPU machine (no Go, no network there)
# into the git-ignored folder .gpu/: the CUDA binary, the CUDA test binary and the shared fixtures it reads.
# Then run on the device, carrying .gpu:   bash bench/gpu/run.sh "$OUT"
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${LLAMAGO_SHARED:-../shared}
rm -rf .gpu && mkdir -p .gpu/bin .gpu/shared
make -s cuda
cp bin/llamago-cuda .gpu/bin/
eval "$(kernels/cuda-deps.sh)"
go test -tags cuda -c -o .gpu/bin/cuda.test ./engine/cuda
cp -r "$shared/models" "$shared/reference" .gpu/shared/
du -sh .gpu
