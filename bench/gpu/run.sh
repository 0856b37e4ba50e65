#!/usr/bin/env bash
# Everything the GPU must show, in one run (under 8 minutes on an H100): device facts and copy bandwidth,
# the backend conformance suite and end-to-end checks against ../shared/reference, then decode benchmarks on
# synthetic models made here (TinyLlama-1.1B and LLaMA-2-7B shapes, Q4_0 and Q8_0) with the achieved
# weight bandwidth against the measured copy bandwidth. Inputs come from bench/gpu/prepare.sh (.gpu/).
#   bash bench/gpu/run.sh OUTDIR
set -uo pipefail
out=${1:?usage: run.sh OUTDIR}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
bin=.gpu/bin/llamago-cuda
export LLAMAGO_SHARED=$PWD/.gpu/shared
step() { echo "== $* ($(date -u +%T))" | tee -a "$out/steps.log"; }

step device
{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv; } > "$out/nvidia-smi.txt" 2>&1
$bin version > "$out/version.txt" 2>&1
timeout 120 $bin devices --bandwidth --json > "$out/devices.json" 2> "$out/devices.err"
cat "$out/devices.json"

step "conformance suite and end-to-end checks"
timeout 300 .gpu/bin/cuda.test -test.v -test.timeout 280s > "$out/tests.log" 2>&1
echo "tests exit $?" | tee -a "$out/steps.log"
grep -E "^(--- FAIL|FAIL|ok|PASS)" "$out/tests.log" | head -40

step "decode benchmarks"
mkdir -p .gpu/models
echo "| model | weights GiB | tg128 t/s | achieved GB/s | copy GB/s | % of copy |" > "$out/results.md"
echo "|---|---|---|---|---|---|" >> "$out/results.md"
copy=$(python3 -c "import json;print(json.load(open('$out/devices.json'))[0]['copy_gb_per_s'])" 2>/dev/null || echo 0)
for spec in llama-1b:Q4_0 llama-1b:Q8_0 llama2-7b:Q4_0 llama2-7b:Q8_0; do
  preset=${spec%%:*} type=${spec##*:}
  m=.gpu/models/$preset-$type.gguf
  timeout 180 $bin synth --preset "$preset" --type "$type" -o "$m" -q >> "$out/synth.log" 2>&1 || { echo "synth $spec failed" | tee -a "$out/steps.log"; continue; }
  timeout 180 $bin bench -m "$m" -p 0 -n 128 -r 3 --json > "$out/bench-$preset-$type.json" 2> "$out/bench-$preset-$type.err"
  python3 - "$m" "$out/bench-$preset-$type.json" "$copy" >> "$out/results.md" <<'PY'
import json, os, sys
m, res, copy = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3])
size = os.path.getsize(m)  # the weights dominate the file; every decode step reads them all
tps = res[0]["tokens_per_second"]
gbs = size * tps / 1e9
print(f"| {os.path.basename(m)} | {size/2**30:.2f} | {tps:.1f} | {gbs:.0f} | {copy:.0f} | {100*gbs/copy if copy else 0:.0f}% |")
PY
  rm -f "$m"
done
cat "$out/results.md"
step done
