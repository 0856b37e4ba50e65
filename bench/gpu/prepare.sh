#!/usr/bin/env bash
# Builds, here (Go, no GPU), everything bench/gpu/run.sh needs on the GPU machine (no Go, no network there)
# into the git-ignored folder .gpu/: the CUDA binary, the CUDA test binary and the shared fixtures it reads —
# only those of models the CUDA backend has kernels for (the tests skip the others), and binaries without
# symbols, to stay under the device tool's 64 MiB of carried files.
# Then run on the device, carrying .gpu, with timeout_s 600:   bash bench/gpu/run.sh "$OUT"
# (it stops by LLAMAGO_GPU_DEADLINE, default 540 s, and leaves run.tgz with every log, steps.log, results.md
# and tests-summary.txt in $OUT). Check the script first, here, with bash bench/gpu/dry-run.sh OUTDIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${LLAMAGO_SHARED:-../shared}
# Weight types of the shared models that have no CUDA kernels (engine/cuda typeSuffix).
skip='-(BF16|Q4_1|Q5_0|Q5_1|Q2_K|Q3_K|Q5_K|IQ4_NL|IQ4_XS)(__|\.gguf)'
rm -rf .gpu && mkdir -p .gpu/bin .gpu/shared/models .gpu/shared/reference
eval "$(kernels/cuda-deps.sh)"
go build -tags cuda -trimpath -ldflags "-s -w" -o .gpu/bin/llamago-cuda ./cmd/llamago
go test -tags cuda -c -ldflags "-s -w" -o .gpu/bin/cuda.test ./engine/cuda
for f in "$shared"/models/*; do
  [[ $(basename "$f") =~ $skip ]] || cp "$f" .gpu/shared/models/
done
(cd "$shared/reference" && find . -type f) | while read -r f; do
  [[ $f =~ $skip ]] && continue
  mkdir -p ".gpu/shared/reference/$(dirname "$f")" && cp "$shared/reference/$f" ".gpu/shared/reference/$f"
done
du -sh .gpu
