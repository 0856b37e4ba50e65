#!/usr/bin/env bash
# Side-by-side CPU comparison of llamago and llama.cpp (node-llama-cpp's prebuilt CPU libraries) on the same
# model files and thread count. Prints one table row per model and test with both speeds and their ratio.
#
#   bench/compare.sh [-t THREADS] [-p PP] [-n TG] [-r REPS] [MODEL.gguf ...]
#
# Without model arguments it uses (making them with `llamago synth` when missing) the TinyLlama-1.1B shape
# in Q4_0, Q8_0 and Q4_K_M under models/bench/. node-llama-cpp is installed once into bench/peer/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 pp=512 tg=128 reps=3
while getopts "t:p:n:r:" o; do
  case $o in t) threads=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;; r) reps=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
make -s build
models=("$@")
for m in "${models[@]}"; do
  [ -f "$m" ] || { echo "compare.sh: $m does not exist (run without model arguments to make the TinyLlama-shape defaults)" >&2; exit 2; }
done
if [ ${#models[@]} -eq 0 ]; then
  mkdir -p models/bench
  for t in Q4_0 Q8_0 Q4_K_M; do
    f=models/bench/tinyllama-shape-$t.gguf
    [ -f "$f" ] || bin/llamago synth --preset llama-1b --type "$t" -o "$f"
    models+=("$f")
  done
fi
if [ ! -d bench/peer/node_modules/node-llama-cpp ]; then
  (cd bench/peer && npm install --no-audit --no-fund --silent node-llama-cpp@3.21.1 >/dev/null)
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); threads $threads; $(date -u +%F)"
printf '| %-32s | %-6s | %14s | %14s | %6s |\n' model test "llamago t/s" "llama.cpp t/s" ratio
printf '| %s | %s | %s | %s | %s |\n' "--------------------------------" ------ -------------- -------------- ------
for m in "${models[@]}"; do
  ours=$(bin/llamago bench -m "$m" -p "$pp" -n "$tg" -r "$reps" -t "$threads" --json)
  peer=$(cd bench/peer && node llamacpp_bench.mjs "$(realpath "../../$m" 2>/dev/null || realpath "$m")" "$pp" "$tg" "$reps" "$threads")
  python3 - "$m" "$ours" "$peer" <<'PY'
import json, sys, os
m, ours, peer = sys.argv[1], json.loads(sys.argv[2]), [json.loads(l) for l in sys.argv[3].splitlines() if l.strip()]
p = {r["test"]: r for r in peer}
for r in ours:
    q = p.get(r["test"])
    if not q:
        continue
    a, b = r["tokens_per_second"], q["tokens_per_second"]
    print(f"| {os.path.basename(m):32s} | {r['test']:6s} | {a:8.2f} ± {r['stddev']:3.1f} | {b:8.2f} ± {q['stddev']:3.1f} | {a/b:6.2f} |")
PY
done
