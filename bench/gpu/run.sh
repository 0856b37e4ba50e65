#!/usr/bin/env bash
# Everything the GPU must show, in one device call: device facts and copy bandwidth, the backend conformance
# suite and end-to-end checks against ../shared/reference, decode benchmarks on synthetic models made here
# (TinyLlama-1.1B and LLaMA-2-7B shapes, Q4_0 and Q8_0) with the achieved weight bandwidth against the
# measured copy bandwidth, batched decoding (1, 8, 32, 64 sequences), prompt processing (pp512, pp2048)
# against the tensor-core ceiling (PyTorch's f16 matmul, where there is one), the other kernel choices on the Q4_0 models
# (rows per warp, layout of one-token products, unfused), decoding after LLAMAGO_GPU_DEPTH tokens of context
# with a float32 and a half-precision KV cache (--kv-type f16), and last the checks only a GPU can do:
# compute-sanitizer (memcheck, initcheck, synccheck, racecheck), the grid-wide ticket run 20 times, and ncu
# counters of the one-token products. Inputs come from bench/gpu/prepare.sh (.gpu/).
#
#   bash bench/gpu/run.sh OUTDIR          on the device: carry .gpu, OUTDIR "$OUT", timeout_s 600
#
# LLAMAGO_GPU_* variables (below) override the binaries, models, batch sizes, depth and the deadline
# (LLAMAGO_GPU_DEADLINE, seconds): bench/gpu/dry-run.sh sets them to run this script on the CPU emulator.
#
# Output. The device tool returns at most 8 files, so every log goes into a temporary folder that is packed
# into OUTDIR/run.tgz (tar xzf run.tgz) after every step and on exit. Beside it are only steps.log (each step
# with its exit status and seconds, and each step skipped and why), results.md (the tables) and
# tests-summary.txt (the failures and skips, with their messages). If the run is killed at the device's
# limit, the tarball of the steps done so far is still there.
# Deadline. LLAMAGO_GPU_DEADLINE seconds from the start (default 540, for the device's 600 s a command; set
# it 60 s under a smaller timeout_s). A step after the device facts starts only if the time left covers what
# it needs, and its timeout is capped by the time left.
# Order. Device facts; if the backend cannot start (`devices --bandwidth` fails or finds no GPU): its error,
# the loader's libcuda and `nvidia-smi -L`, then exit 1. Then the tests. If they fail: the failing tests
# again with synchronous launches (CUDA_LAUNCH_BLOCKING=1 LLAMAGO_CUDA_SYNC=1, which name the first
# faulting kernel), memcheck on the first failing test, the repeated ticket test and the other sanitizers;
# no benchmarks; exit 2. If they pass: the benchmarks, then memcheck, the repeated ticket test, initcheck,
# synccheck, ncu and racecheck, as time allows; exit 0.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: run.sh OUTDIR" >&2; exit 64; }
mkdir -p "$1" && out=$(cd "$1" && pwd) || exit 1
cd "$(dirname "$0")/../.." || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/llamago-gpu.XXXXXX") || exit 1
# Overrides, for a dry run of this script on the CPU emulator (see bench/gpu/dry-run.sh): the binaries, the
# models benchmarked, and the tools (a path, or "none").
bin=${LLAMAGO_GPU_BIN:-.gpu/bin/llamago-cuda}
tests=${LLAMAGO_GPU_TESTS:-.gpu/bin/cuda.test} # may carry flags (the dry run's -test.run)
read -ra testcmd <<< "$tests"
specs=${LLAMAGO_GPU_SPECS:-llama-1b:Q4_0 llama-1b:Q8_0 llama2-7b:Q4_0 llama2-7b:Q8_0}
sweep=${LLAMAGO_GPU_SWEEP:-llama2-7b:Q4_0} # the model every kernel choice is measured on
parallel=${LLAMAGO_GPU_PARALLEL:-1,8,32,64} # sequences decoding together, and the tokens each generates
prompts=${LLAMAGO_GPU_PROMPTS:-512,2048}    # prompt lengths read in one batch on the sweep model
pgen=${LLAMAGO_GPU_PARALLEL_GEN:-64}
depth=${LLAMAGO_GPU_DEPTH:-4096} # tokens of context before the long-context decode benchmarks
budget=${LLAMAGO_GPU_DEADLINE:-540}
[[ $budget =~ ^[0-9]+$ ]] || { echo "LLAMAGO_GPU_DEADLINE must be a number of seconds" >&2; exit 64; }
deadline=$((SECONDS + budget))
export LLAMAGO_SHARED=$PWD/.gpu/shared
# The default kernels' conformance cases, and those that go through the grid-wide ticket (last_block): the
# norm-fused products, attention's merge, and the fused RoPE/KV store with attention.
conf='TestConformance/blocks=false,rows=2/'
ticket='TestConformance/blocks=false,rows=2/(MatMulAddNorm|Attention|RoPEStoreKV)'
models=() child='' lim=0 rc=0

# pack: the work folder into $out/run.tgz (written aside, then renamed: never a half-written tarball), and
# the few plain files beside it.
pack() {
  local f
  for f in steps.log results.md tests-summary.txt; do
    if [ -f "$work/$f" ]; then cp -f "$work/$f" "$out/$f"; fi
  done
  if tar czf "$out/run.tgz.part" -C "$work" . 2> /dev/null; then mv -f "$out/run.tgz.part" "$out/run.tgz"; else rm -f "$out/run.tgz.part"; fi
}
note() { echo "$*" | tee -a "$work/steps.log"; }
step() { pack; note "== $* (at ${SECONDS}s, $((deadline - SECONDS))s left, $(date -u +%T))"; }
# fits NEED MAX WHAT: whether a step needing NEED seconds still fits before the deadline (if not, a line in
# steps.log); sets lim to MAX capped by the time left.
fits() {
  local left=$((deadline - SECONDS))
  if [ "$left" -lt "$1" ]; then
    note "skipped: $3 (needs ${1}s, ${left}s left)"
    return 1
  fi
  lim=$((left < $2 ? left : $2))
}
# capped MAX: lim for the first steps, which always run: MAX capped by the time left, at least 10 s.
capped() {
  local left=$((deadline - SECONDS))
  lim=$((left < $1 ? left : $1))
  [ "$lim" -ge 10 ] || lim=10
}
# runlog NAME OUTFILE ERRFILE CMD...: CMD under a timeout of lim seconds, stdout into OUTFILE and stderr into
# ERRFILE ("-": with stdout), both in the work folder; notes the exit status and time, packs, returns the
# status (also in rc). CMD runs in the background so that a signal reaches the trap below at once.
runlog() {
  local name=$1 o=$work/$2 e=$3 t0=$SECONDS
  shift 3
  if [ "$e" = - ]; then
    timeout -k 5 "$lim" "$@" > "$o" 2>&1 &
  else
    timeout -k 5 "$lim" "$@" > "$o" 2> "$work/$e" &
  fi
  child=$!
  wait "$child"
  rc=$?
  child=''
  local why=''
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then why=" (timed out at ${lim}s)"; fi
  note "$name: exit $rc in $((SECONDS - t0))s$why"
  pack
  return "$rc"
}
finish() {
  local status=$?
  trap - EXIT
  if [ ${#models[@]} -gt 0 ]; then rm -f "${models[@]}"; fi
  note "exit $status after ${SECONDS}s"
  pack
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
trap 'if [ -n "$child" ]; then kill -TERM "$child" 2> /dev/null; fi; note "stopped by a signal"; exit 143' TERM INT HUP

# find_tool NAME OVERRIDE: the tool on PATH, else the newest in the CUDA and Nsight Compute install folders.
find_tool() {
  local c
  if [ -n "$2" ]; then
    [ "$2" = none ] || echo "$2"
    return
  fi
  if c=$(command -v "$1"); then
    echo "$c"
    return
  fi
  shopt -s nullglob
  local found=(/usr/local/cuda*/bin/"$1" /usr/local/cuda*/compute-sanitizer/"$1" /opt/nvidia/compute-sanitizer*/"$1"
    /opt/nvidia/nsight-compute/*/"$1" /usr/local/cuda*/nsight-compute*/"$1")
  shopt -u nullglob
  [ ${#found[@]} -gt 0 ] && printf '%s\n' "${found[@]}" | sort -V | tail -n 1
}
sanitizer=$(find_tool compute-sanitizer "${LLAMAGO_GPU_SANITIZER:-}")
ncu=$(find_tool ncu "${LLAMAGO_GPU_NCU:-}")
sanitizer_broken='' ncu_broken=''

# summarize LOG: the go test lines that matter: top-level results, panics, and every failing or skipped test
# with its first messages and its last (go test -v prints them before the result line; the last is the Fatal
# or Skip); skips for weight types the backend has no kernels for are only counted.
summarize() {
  awk '
    /^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
    /^[ \t]*--- (PASS|FAIL|SKIP):/ {
      if ($2 == "PASS:") next
      m = msg[$3]
      if (n[$3] > 5) m = m (n[$3] > 6 ? "        ...\n" : "") "        " last[$3] "\n"
      if ($2 == "SKIP:") {
        r = last[$3]; sub(/^[^ \t]+\.go:[0-9]+: /, "", r)
        if (r ~ /has no .* kernels/) { skips[r]++; next }
      }
      print; printf "%s", m; next
    }
    /^(FAIL|ok|PASS)([ \t]|$)/ || /^testing: warning/ { print; next }
    /^(panic|fatal error): / || /running tests:/ { print; after = 6; next }
    after > 0 { print; after--; next }
    cur != "" {
      line = $0; sub(/^[ \t]+/, "", line); last[cur] = line
      if (n[cur]++ < 5) msg[cur] = msg[cur] "        " line "\n"
    }
    END { for (r in skips) printf "skipped %d subtests: %s\n", skips[r], r }
  ' "$1"
}
# counts LOG: how many tests and subtests passed, failed and were skipped.
counts() {
  echo "$(grep -c -- '--- PASS' "$1") passed, $(grep -c -- '--- FAIL' "$1") failed, $(grep -c -- '--- SKIP' "$1") skipped (tests and subtests)"
}
# runpat NAME: a -test.run pattern matching exactly the test NAME (each level anchored, metacharacters escaped).
runpat() {
  local parts el pat=()
  IFS=/ read -ra parts <<< "$1"
  for el in "${parts[@]}"; do
    pat+=("^$(printf '%s' "$el" | sed 's/[][\\.^$*+?(){}|]/\\&/g')\$")
  done
  (IFS=/; echo "${pat[*]}")
}
# sanitize TOOL NAME PATTERN: compute-sanitizer --tool TOOL on the tests matching PATTERN, into NAME.log.
sanitize() {
  local tool=$1 name=$2 pattern=$3
  if [ -z "$sanitizer" ]; then note "skipped: $name (no compute-sanitizer found)"; return; fi
  if [ -n "$sanitizer_broken" ]; then note "skipped: $name (compute-sanitizer does not work here: $sanitizer_broken)"; return; fi
  step "compute-sanitizer --tool $tool on $pattern"
  fits 60 150 "$name" || return
  runlog "$name" "$name.log" - "$sanitizer" --tool "$tool" --error-exitcode 9 --print-limit 50 \
    "${testcmd[@]}" -test.v -test.timeout "$((lim - 10))s" -test.run "$pattern"
  local summary
  summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$work/$name.log" | tail -n 1 | sed 's/^=* *//')
  note "$name: ${summary:-no error summary} (exit 9: errors found)"
  grep -E '^=+ +(Invalid|Uninitialized|Barrier|Race|Error|.*hazard)' "$work/$name.log" | head -n 5
  if grep -q 'Device not supported' "$work/$name.log" ||
    { [ -z "$summary" ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; }; then
    sanitizer_broken="$name exit $rc, $(grep -m 1 -E 'Error|error' "$work/$name.log" | sed 's/^=* *//' | cut -c 1-100) (see $name.log)"
    note "compute-sanitizer does not work here; the other sanitizer steps are skipped"
  fi
}
# stress: the ticket cases 20 times each without a sanitizer (the last block to arrive varies on a GPU).
stress() {
  step "the grid-wide ticket cases 20 times: $ticket"
  fits 30 120 "ticket x20" || return
  runlog "ticket x20" ticket-x20.log - "${testcmd[@]}" -test.v -test.count=20 -test.timeout "$((lim - 10))s" -test.run "$ticket"
  note "ticket x20: $(grep -cE -- '--- PASS: [^ /]+/[^ /]+/' "$work/ticket-x20.log") cases passed, $(grep -cE -- '--- FAIL: [^ /]+/[^ /]+/' "$work/ticket-x20.log") failed"
}

step "device facts"
capped 30
runlog nvidia-smi nvidia-smi.txt - bash -c 'nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory,clocks.max.sm --format=csv'
runlog version version.txt - "$bin" version
{
  echo "compute-sanitizer: ${sanitizer:-not found}"
  [ -n "$sanitizer" ] && timeout 20 "$sanitizer" --version 2>&1 | tail -n 2
  echo "ncu: ${ncu:-not found}"
  [ -n "$ncu" ] && timeout 20 "$ncu" --version 2>&1 | tail -n 2
} > "$work/tools.txt" 2>&1
cat "$work/tools.txt"
capped 120
runlog devices devices.json devices.err "$bin" devices --bandwidth --json
if [ "$rc" != 0 ] || ! grep -q '"Index"' "$work/devices.json"; then
  # The backend cannot start (no libcuda.so.1 on the loader path, context creation refused, a PTX JIT error):
  # every later step would fail the same way.
  note "the backend cannot start (devices exit $rc): nothing else is run"
  {
    echo "--- devices --bandwidth --json (exit $rc)"
    cat "$work/devices.json" "$work/devices.err"
    echo "--- ldconfig -p | grep libcuda"
    ldconfig -p | grep libcuda
    echo "--- nvidia-smi -L"
    timeout 20 nvidia-smi -L
  } > "$work/backend-start.txt" 2>&1
  cat "$work/backend-start.txt"
  exit 1
fi
cat "$work/devices.json"
device=$(python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))[0]
print(f\"{d['Name']}, {d['Memory']/2**30:.1f} GiB, sm_{d['CapMajor']}{d['CapMinor']}, {d['Multiprocs']} SMs, copy {d.get('copy_gb_per_s', 0):.0f} GB/s\")
" "$work/devices.json" 2> /dev/null || echo unknown)
copy=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[0]['copy_gb_per_s'])" "$work/devices.json" 2> /dev/null || echo 0)
echo "# GPU run $(date -u +%F): $device; $(head -n 1 "$work/version.txt")" > "$work/results.md"

step "conformance suite and end-to-end checks"
failed=0
if fits 30 300 "tests"; then
  runlog tests tests.log - "${testcmd[@]}" -test.v -test.timeout "$((lim > 40 ? lim - 15 : lim - 5))s"
  [ "$rc" = 0 ] || failed=1
  {
    echo "tests exit $rc: $(counts "$work/tests.log")"
    [ "$rc" = 0 ] || echo "the last test started: $(sed -nE 's/^=== RUN +//p' "$work/tests.log" | tail -n 1)"
    summarize "$work/tests.log"
  } > "$work/tests-summary.txt"
  head -n 40 "$work/tests-summary.txt"
fi

if [ "$failed" = 1 ]; then
  # The failing tests (the leaves of the tree of failures, in the order they ran), or the test that was
  # running when the binary died.
  mapfile -t fails < <(sed -nE 's/^[[:space:]]*--- FAIL: ([^ ]+) .*/\1/p' "$work/tests.log")
  leaves=()
  for i in "${!fails[@]}"; do
    [[ ${fails[i + 1]:-} == "${fails[i]}"/* ]] || leaves+=("${fails[i]}")
  done
  if [ ${#leaves[@]} -eq 0 ]; then
    mapfile -t leaves < <(sed -nE 's/^=== RUN +([^ ]+).*/\1/p' "$work/tests.log" | tail -n 1)
  fi
  failpat='' first=''
  for t in "${leaves[@]}"; do
    p=$(runpat "$t")
    failpat=${failpat:+$failpat|}$p first=${first:-$p}
  done
  echo "benchmarks skipped: the tests failed (tests-summary.txt)" >> "$work/results.md"
  note "the tests failed, so no benchmarks; failing tests: ${#leaves[@]}, the first: ${leaves[0]:-none found}"

  step "the failing tests again with synchronous launches, stopping at the first failure"
  [ -n "$failpat" ] || note "skipped: synchronous rerun (tests.log names no failing test)"
  if [ -n "$failpat" ] && fits 20 150 "synchronous rerun"; then
    runlog "synchronous rerun" tests-sync.log - env CUDA_LAUNCH_BLOCKING=1 LLAMAGO_CUDA_SYNC=1 \
      "${testcmd[@]}" -test.v -test.failfast -test.timeout "$((lim > 30 ? lim - 10 : lim))s" -test.run "$failpat"
    { echo; echo "again with CUDA_LAUNCH_BLOCKING=1 LLAMAGO_CUDA_SYNC=1: exit $rc: $(counts "$work/tests-sync.log")"; summarize "$work/tests-sync.log"; } |
      tee -a "$work/tests-summary.txt" | head -n 30
  fi
  if [ -n "$first" ]; then sanitize memcheck memcheck "$first"; fi
  stress
  sanitize initcheck initcheck "$conf"
  sanitize synccheck synccheck "$conf"
  sanitize racecheck racecheck "$conf"
  step "done"
  exit 2
fi

# Decode benchmarks: first the default kernels on every model (the sweep model first), then batched decoding,
# then the other kernel choices, so that the deadline cuts the least telling rows.
{
  echo
  echo "| model | variant | weights GiB | tg128 t/s | achieved GB/s | copy GB/s | % of copy |"
  echo "|---|---|---|---|---|---|---|"
} >> "$work/results.md"
# bench_one MODEL VARIANT [ENV=VALUE ...] [-- FLAGS ...]: one decode benchmark and its row of the table.
bench_one() {
  local m=$1 variant=$2 envs=() flags=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  flags=("$@")
  local res
  res="bench-$(basename "$m" .gguf)-${variant//[^A-Za-z0-9]/-}"
  if ! fits 30 180 "benchmark $(basename "$m") $variant"; then
    echo "| $(basename "$m") | $variant | skipped: no time left | | | | |" >> "$work/results.md"
    return
  fi
  runlog "benchmark $(basename "$m") $variant" "$res.json" "$res.err" \
    env "${envs[@]}" "$bin" bench -m "$m" -p 0 -n 128 -r 3 --json "${flags[@]}"
  python3 - "$m" "$variant" "$work/$res.json" "$copy" >> "$work/results.md" << 'PY'
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
  tail -n 1 "$work/results.md"
  pack
}
model() { echo ".gpu/models/${1%%:*}-${1##*:}.gguf"; }
order=()
for spec in $specs; do [ "$spec" = "$sweep" ] && order+=("$spec"); done
for spec in $specs; do [ "$spec" = "$sweep" ] || order+=("$spec"); done
mkdir -p .gpu/models
for spec in "${order[@]}"; do
  preset=${spec%%:*} type=${spec##*:} m=$(model "$spec")
  step "decode benchmark of $spec"
  fits 45 180 "synth $spec and its benchmarks" || continue
  models+=("$m")
  if ! runlog "synth $spec" "synth-$preset-$type.log" - "$bin" synth --preset "$preset" --type "$type" -o "$m" -q; then
    rm -f "$m"
    continue
  fi
  bench_one "$m" default
  # Only the Q4_0 models are measured again, with the other kernel choices.
  [ "$spec" = "$sweep" ] || [ "$type" = Q4_0 ] || rm -f "$m"
done

# Decoding after $depth tokens of context on the sweep model, the KV cache in float32 and in half precision
# (--kv-type f16, the _f16 kernels): attention then reads the whole cache every token besides the weights
# (the table's bandwidth column counts the weights only).
m=$(model "$sweep")
step "long-context decoding on $m"
if [ -f "$m" ]; then
  bench_one "$m" "d$depth, f32 cache" -- -d "$depth"
  bench_one "$m" "d$depth, f16 cache" -- -d "$depth" --kv-type f16
else
  note "skipped: long-context decoding (no $m)"
fi

# Many sequences per step (the paged KV cache and the batched forward pass) on the sweep model: aggregate
# decoding with 1, 8, 32 and 64 sequences (LLAMAGO_GPU_PARALLEL), prompts of 32 tokens.
m=$(model "$sweep")
step "batched decoding on $m"
[ -f "$m" ] || note "skipped: batched decoding (no $m)"
if [ -f "$m" ] && fits 45 150 "batched decoding"; then
  runlog "batched decoding" parallel.md parallel.err "$bin" bench -m "$m" -p 32 -n "$pgen" -r 1 --parallel "$parallel"
  {
    echo
    echo "Batched decoding on $(basename "$m"), prompts of 32 tokens, $pgen tokens generated by each sequence (exit $rc):"
    echo
    cat "$work/parallel.md"
  } >> "$work/results.md"
  cat "$work/parallel.md"
fi

# Prompt processing on the sweep model (pp512, pp2048) against the tensor-core ceiling measured in the same
# run: a large f16 matrix product through the machine's PyTorch, where it has one. A prompt token costs
# 2 × parameters floating-point operations, so pp t/s × 2 × params is the rate the kernels reach.
m=$(model "$sweep")
step "prompt processing on $m, and the tensor-core ceiling"
tflops=0
if python3 -c 'import torch; assert torch.cuda.is_available()' > /dev/null 2>&1 && fits 30 60 "the tensor-core ceiling"; then
  runlog "tensor-core ceiling (PyTorch f16 matmul)" tensorcore.txt tensorcore.err python3 -c '
import torch, time
n = 8192
a = torch.randn(n, n, dtype=torch.float16, device="cuda"); b = torch.randn(n, n, dtype=torch.float16, device="cuda")
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.perf_counter(); k = 20
for _ in range(k): a @ b
torch.cuda.synchronize(); s = time.perf_counter() - t
print(f"{2 * n**3 * k / s / 1e12:.1f}")'
  tflops=$(tail -n 1 "$work/tensorcore.txt" 2> /dev/null)
  [[ $tflops =~ ^[0-9.]+$ ]] || tflops=0
else
  note "no tensor-core ceiling: no PyTorch with CUDA here (or no time)"
fi
echo "tensor-core ceiling (PyTorch f16 8192³ matmul): ${tflops} TFLOP/s" | tee -a "$work/steps.log"
if [ -f "$m" ] && fits 40 150 "prompt processing"; then
  runlog "prompt processing" prompts.json prompts.err "$bin" bench -m "$m" -p "$prompts" -n 0 -r 2 --json
  python3 - "$work/prompts.json" "$tflops" "$(basename "$m")" >> "$work/results.md" << 'PY'
import json, sys
path, tf, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
print(f"\nPrompt processing on {name} (tensor-core ceiling {tf:.1f} TFLOP/s, PyTorch f16):\n")
print("| test | t/s | TFLOP/s (2 × params × t/s) | % of the ceiling |")
print("|---|---|---|---|")
try:
    for r in json.load(open(path)):
        rate = 2 * r["params"] * r["tokens_per_second"] / 1e12
        print(f"| {r['test']} | {r['tokens_per_second']:.0f} | {rate:.1f} | {100 * rate / tf if tf else 0:.0f}% |")
except Exception as e:
    print(f"| failed: {e} | | | |")
PY
  tail -n 4 "$work/results.md"
fi
# ratio_table A.json B.json "A's column" "B's column": the tests of two llamago bench --json runs side by
# side with A/B, appended to results.md.
ratio_table() {
  python3 - "$1" "$2" "$3" "$4" >> "$work/results.md" << 'PY'
import json, sys
a_path, b_path, a_name, b_name = sys.argv[1:5]
try:
    a = {r["test"]: r["tokens_per_second"] for r in json.load(open(a_path))}
    print(f"\n| test | {a_name} t/s | {b_name} t/s | ratio |\n|---|---|---|---|")
    for r in json.load(open(b_path)):
        t, u = a.get(r["test"]), r.get("tokens_per_second") or 0
        ratio = f"{t / u:.2f}" if t is not None and u > 0 else "–"
        print(f"| {r['test']} | {'–' if t is None else f'{t:.0f}'} | {u:.0f} | {ratio} |")
except Exception as e:
    print(f"\n{a_name} against {b_name}: failed: {e}")
PY
  tail -n 7 "$work/results.md"
}

# The same prompts with the attention of decoding (each query's keys split across blocks), against the
# query tiles (attention_tile_f32) that prompt chunks take by default.
if [ -f "$m" ] && fits 40 150 "prompt processing with split attention"; then
  LLAMAGO_CUDA_ATTENTION=splits runlog "prompt processing, LLAMAGO_CUDA_ATTENTION=splits" prompts-splits.json prompts-splits.err \
    "$bin" bench -m "$m" -p "$prompts" -n 0 -r 2 --json
  ratio_table "$work/prompts.json" "$work/prompts-splits.json" "query tiles (default)" "split attention"
fi

# The tensor cores' crossover: small prompts with every product on the tensor-core tiles
# (LLAMAGO_CUDA_MMA_MIN=1) and with none (the CUDA-core kernels, 8 tokens a pass); the default takes them
# from 32 tokens (engine/cuda/matvec.go, tensorCores).
if [ -f "$m" ] && fits 40 200 "the tensor cores' crossover"; then
  LLAMAGO_CUDA_MMA_MIN=1 runlog "prompts, every product on the tensor cores" mma-on.json mma-on.err \
    "$bin" bench -m "$m" -p 8,16,32,64,128 -n 0 -r 2 --json
  LLAMAGO_CUDA_MMA_MIN=1000000 runlog "prompts, no tensor cores" mma-off.json mma-off.err \
    "$bin" bench -m "$m" -p 8,16,32,64,128 -n 0 -r 2 --json
  ratio_table "$work/mma-on.json" "$work/mma-off.json" "tensor cores" "CUDA cores"
fi

# The tensor-core products' cp.async stages against reading the weights directly (LLAMAGO_CUDA_STAGES=off).
if [ -f "$m" ] && fits 40 150 "prompts without cp.async stages"; then
  LLAMAGO_CUDA_STAGES=off runlog "prompt processing, LLAMAGO_CUDA_STAGES=off" prompts-nostages.json prompts-nostages.err \
    "$bin" bench -m "$m" -p "$prompts" -n 0 -r 2 --json
  ratio_table "$work/prompts.json" "$work/prompts-nostages.json" "cp.async stages (default)" "weights read directly"
fi

# What each choice is worth (default: coalesced one-token Q4_0/Q8_0 products, 2 rows per warp, fused
# kernels); "blocks,rows=1" is the first kernel design (a lane per block, a row per warp).
for spec in "${order[@]}"; do
  m=$(model "$spec")
  [ -f "$m" ] || continue
  step "other kernel choices on $spec"
  if [ "$spec" = "$sweep" ]; then
    bench_one "$m" rows=1 LLAMAGO_CUDA_ROWS=1
    bench_one "$m" rows=4 LLAMAGO_CUDA_ROWS=4
    bench_one "$m" blocks,rows=2 LLAMAGO_CUDA_MATVEC=blocks
    bench_one "$m" blocks,rows=4 LLAMAGO_CUDA_MATVEC=blocks LLAMAGO_CUDA_ROWS=4
  fi
  if [ "${spec##*:}" = Q4_0 ]; then
    bench_one "$m" blocks,rows=1 LLAMAGO_CUDA_MATVEC=blocks LLAMAGO_CUDA_ROWS=1
    bench_one "$m" unfused -- --unfused
    bench_one "$m" graphs=off LLAMAGO_CUDA_GRAPHS=off
  fi
  [ "$spec" = "$sweep" ] || rm -f "$m"
done
# What the CUDA graphs did in each benchmark (llamago bench reports it on standard error).
if grep -qh "CUDA graphs" "$work"/bench-*.err 2>/dev/null; then
  { echo; echo "CUDA graphs, per benchmark:"; echo
    for f in "$work"/bench-*.err; do
      line=$(grep -h "CUDA graphs" "$f" | tail -n 1)
      if [ -n "$line" ]; then echo "- $(basename "$f" .err): ${line#*CUDA graphs: }"; fi
    done; } >> "$work/results.md"
fi
cat "$work/results.md"

# As time allows, where the machine's runtime lets the tools work (on Firecracker machines they do, on gVisor
# ones they do not): the sanitizers on the default kernels' conformance cases (the emulator zero-fills
# memory, lets barriers wait only for live threads, and runs blocks in index order), and hardware counters of
# the one-token products.
# ncu_one NAME ENV=VALUE...: ncu's counters of 8 one-token products on the sweep model, in ncu-NAME.csv.
ncu_one() {
  local name=$1 m
  shift
  m=$(model "$sweep")
  if [ -z "$ncu" ]; then note "skipped: ncu $name (no ncu found)"; return; fi
  if [ ! -f "$m" ]; then note "skipped: ncu $name (no $m)"; return; fi
  if [ -n "$ncu_broken" ]; then note "skipped: ncu $name (ncu does not work here: $ncu_broken)"; return; fi
  step "ncu counters of the one-token products ($name) on $m"
  fits 45 120 "ncu $name" || return
  runlog "ncu $name" "ncu-$name.out" "ncu-$name.err" env "$@" "$ncu" --clock-control none -k regex:matvec \
    --launch-skip 300 --launch-count 8 --section SpeedOfLight --section MemoryWorkloadAnalysis --csv \
    --log-file "$work/ncu-$name.csv" "$bin" bench -m "$m" -p 0 -n 8 -r 1
  if grep -qE 'LibraryNotLoaded|Failed to initialize|ERR_NVGPUCTRPERM' "$work/ncu-$name.csv" "$work/ncu-$name.err" 2> /dev/null; then
    ncu_broken="ncu $name could not read the counters (see ncu-$name.csv)"
    note "ncu does not work here; the other ncu steps are skipped"
  fi
}
sanitize memcheck memcheck "TestLaunchesPerToken|$conf"
stress
sanitize initcheck initcheck "$conf"
sanitize synccheck synccheck "$conf"
ncu_one default LLAMAGO_CUDA_MATVEC=coalesced
sanitize racecheck racecheck "$conf"
ncu_one blocks-rows-1 LLAMAGO_CUDA_MATVEC=blocks LLAMAGO_CUDA_ROWS=1
step "done"
