#!/usr/bin/env bash
# Everything the GPU must show, in one run (under 8 minutes on an H100): device facts and copy bandwidth,
# the backend conformance suite and end-to-end checks against ../shared/reference, then decode benchmarks on
# synthetic models made here (TinyLlama-1.1B and LLaMA-2-7B shapes, Q4_0 and Q8_0) with the achieved
# weight bandwidth against the measured copy bandwidth, and for the Q4_0 models the other kernel choices
# (rows per warp, layout of one-token products, unfused), then batched decoding (1, 8, 32 sequences). Inputs come from bench/gpu/prepare.sh (.gpu/).
#   bash bench/gpu/run.sh OUTDIR
set -uo pipefail
out=${1:?usage: run.sh OUTDIR}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
# Overrides, for a dry run of this script on the CPU emulator (see bench/gpu/dry-run.sh): the binaries
# and the models benchmarked.
bin=${LLAMAGO_GPU_BIN:-.gpu/bin/llamago-cuda}
tests=${LLAMAGO_GPU_TESTS:-.gpu/bin/cuda.test}
specs=${LLAMAGO_GPU_SPECS:-llama-1b:Q4_0 llama-1b:Q8_0 llama2-7b:Q4_0 llama2-7b:Q8_0}
sweep=${LLAMAGO_GPU_SWEEP:-llama2-7b:Q4_0} # the model every kernel choice is measured on
parallel=${LLAMAGO_GPU_PARALLEL:-1,8,32}   # sequences decoding together, and the tokens each generates
pgen=${LLAMAGO_GPU_PARALLEL_GEN:-64}
export LLAMAGO_SHARED=$PWD/.gpu/shared
step() { echo "== $* ($(date -u +%T))" | tee -a "$out/steps.log"; }

step device
{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv; } > "$out/nvidia-smi.txt" 2>&1
$bin version > "$out/version.txt" 2>&1
timeout 120 $bin devices --bandwidth --json > "$out/devices.json" 2> "$out/devices.err"
cat "$out/devices.json"

step "conformance suite and end-to-end checks"
timeout 300 $tests -test.v -test.timeout 280s > "$out/tests.log" 2>&1
echo "tests exit $?" | tee -a "$out/steps.log"
grep -E "^(--- FAIL|FAIL|ok|PASS)" "$out/tests.log" | head -40

step "decode benchmarks"
mkdir -p .gpu/models
echo "| model | variant | weights GiB | tg128 t/s | achieved GB/s | copy GB/s | % of copy |" > "$out/results.md"
echo "|---|---|---|---|---|---|---|" >> "$out/results.md"
copy=$(python3 -c "import json;print(json.load(open('$out/devices.json'))[0]['copy_gb_per_s'])" 2>/dev/null || echo 0)
# bench_one MODEL VARIANT [ENV=VALUE ...] -- [FLAGS ...]: one decode benchmark and its row of the table.
bench_one() {
  local m=$1 variant=$2 envs=() flags=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  flags=("$@")
  local res="$out/bench-$(basename "$m" .gguf)-${variant//[^A-Za-z0-9]/-}"
  env "${envs[@]}" timeout 180 $bin bench -m "$m" -p 0 -n 128 -r 3 --json "${flags[@]}" > "$res.json" 2> "$res.err"
  python3 - "$m" "$variant" "$res.json" "$copy" >> "$out/results.md" <<'PY'
import json, os, sys
m, variant, copy = sys.argv[1], sys.argv[2], float(sys.argv[4])
try:
    tps = json.load(open(sys.argv[3]))[0]["tokens_per_second"]
except Exception as e:
    print(f"| {os.path.basename(m)} | {variant} | failed: {e} | | | | |")
    sys.exit()
size = os.path.getsize(m)  # the weights dominate the file; every decode step reads them all
gbs = size * tps / 1e9
print(f"| {os.path.basename(m)} | {variant} | {size/2**30:.2f} | {tps:.1f} | {gbs:.0f} | {copy:.0f} | {100*gbs/copy if copy else 0:.0f}% |")
PY
}
for spec in $specs; do
  preset=${spec%%:*} type=${spec##*:}
  m=.gpu/models/$preset-$type.gguf
  timeout 180 $bin synth --preset "$preset" --type "$type" -o "$m" -q >> "$out/synth.log" 2>&1 || { echo "synth $spec failed" | tee -a "$out/steps.log"; continue; }
  bench_one "$m" default
  # What each choice is worth (default: coalesced one-token Q4_0/Q8_0 products, 2 rows per warp, fused
  # kernels); "blocks,rows=1" is the first kernel design (a lane per block, a row per warp).
  if [ "$spec" = "$sweep" ]; then
    bench_one "$m" rows=1 LLAMAGO_CUDA_ROWS=1
    bench_one "$m" rows=4 LLAMAGO_CUDA_ROWS=4
    bench_one "$m" blocks,rows=2 LLAMAGO_CUDA_MATVEC=blocks
    bench_one "$m" blocks,rows=4 LLAMAGO_CUDA_MATVEC=blocks LLAMAGO_CUDA_ROWS=4
  fi
  if [ "$type" = Q4_0 ]; then
    bench_one "$m" blocks,rows=1 LLAMAGO_CUDA_MATVEC=blocks LLAMAGO_CUDA_ROWS=1
    bench_one "$m" unfused -- --unfused
  fi
  [ "$spec" = "$sweep" ] || rm -f "$m"
done
cat "$out/results.md"

# Many sequences per step (the paged KV cache and the batched forward pass) on the sweep model: aggregate
# decoding with 1, 8 and 32 sequences (LLAMAGO_GPU_PARALLEL), prompts of 32 tokens.
m=.gpu/models/${sweep%%:*}-${sweep##*:}.gguf
step "batched decoding on $m"
if [ -f "$m" ]; then
  timeout 150 $bin bench -m "$m" -p 32 -n "$pgen" -r 1 --parallel "$parallel" > "$out/parallel.md" 2> "$out/parallel.err"
  echo "parallel exit $?" | tee -a "$out/steps.log"
  cat "$out/parallel.md"
fi

# Last, as time allows (the device tool returns what is under $OUT when a run times out): a memory check of
# the kernels and hardware counters of the one-token products, where the machine's runtime lets the tools
# work (on Firecracker machines they do, on gVisor ones they do not).
step "compute-sanitizer memcheck (a decode on a small model, the conformance of the default kernels)"
if command -v compute-sanitizer > /dev/null; then
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 $tests \
    -test.run 'TestLaunchesPerToken|TestConformance/blocks=false,rows=2/' > "$out/memcheck.log" 2>&1
  echo "memcheck exit $? (9: errors found; see memcheck.log)" | tee -a "$out/steps.log"
  grep -E "ERROR SUMMARY|Invalid" "$out/memcheck.log" | head -5
fi
step "ncu counters of the one-token products on $m"
if command -v ncu > /dev/null && [ -f "$m" ]; then
  for v in default:LLAMAGO_CUDA_MATVEC=coalesced blocks-rows-1:LLAMAGO_CUDA_MATVEC=blocks:LLAMAGO_CUDA_ROWS=1; do
    name=${v%%:*} envs=${v#*:}
    env ${envs//:/ } timeout 120 ncu --clock-control none -k regex:matvec --launch-skip 300 --launch-count 8 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --csv \
      $bin bench -m "$m" -p 0 -n 8 -r 1 > "$out/ncu-$name.csv" 2> "$out/ncu-$name.err"
    echo "ncu $name exit $?" | tee -a "$out/steps.log"
  done
fi
rm -f "$m"
step done
