#!/usr/bin/env bash
# Aggregate decoding with N sequences together, llamago against llama.cpp's llama-batched-bench (the native
# build of ../shared/peer/llama-cpp.sh), on the same model file and thread count, one after the other.
# Prints the machine, then one row per N: both engines' decoding speed (all sequences together), the ratio,
# and each engine's speed-up over one sequence.
#
#   bench/batched.sh [-t THREADS] [-p PROMPT] [-n GEN] [-l 1,4,8,16] [-A BITS] [MODEL.gguf]
#
# BITS is llamago's activation precision (--activations: 16, its default, or 8, llama.cpp's rounding).
# Without a model it uses (making it with `llamago synth` when missing) the TinyLlama-1.1B shape in Q4_0.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/machine.sh
threads=2 pp=32 tg=128 npl=1,4,8,16 bits=16
while getopts "t:p:n:l:A:" o; do
  case $o in t) threads=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;; l) npl=$OPTARG ;; A) bits=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
make -s build
model=${1:-models/bench/tinyllama-shape-Q4_0.gguf}
if [ ! -f "$model" ]; then
  [ $# -eq 0 ] || { echo "batched.sh: $model does not exist" >&2; exit 2; }
  mkdir -p models/bench
  bin/llamago synth --preset llama-1b --type Q4_0 -o "$model"
fi
shared=${LLAMAGO_SHARED:-../shared}
peer=$(LLAMA_CPP_HOME=${LLAMA_CPP_HOME:-$HOME/.cache/llamago/llama.cpp-3f545bec} bash "$shared/peer/llama-cpp.sh" | tail -n1)
maxn=$(tr , '\n' <<<"$npl" | sort -n | tail -n1)
ctx=$(( maxn * (pp + tg) + 16 ))
echo "machine: $(machine_desc); threads $threads; $(date -u +%F)"
echo "model: $model; prompts of $pp tokens, $tg generated per sequence; llamago --activations $bits"
ours=$(bin/llamago bench --backend cpu --activations "$bits" -m "$model" -p "$pp" -n "$tg" -r 1 -t "$threads" --parallel "$npl" --json)
theirs=$("$peer/llama-batched-bench" -m "$model" -c "$ctx" -b 2048 -ub 512 -npp "$pp" -ntg "$tg" -npl "$npl" -t "$threads" --output-format jsonl 2>/dev/null)
python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours = {r["parallel"]: r for r in json.loads(sys.argv[1])}
theirs = {}
for line in sys.argv[2].splitlines():
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        theirs[r["pl"]] = r
print("| N | llamago decode t/s | llama.cpp decode t/s | ratio | llamago vs N=1 | llama.cpp vs N=1 |")
print("|---|---|---|---|---|---|")
o1, t1 = ours.get(1, {}).get("tokens_per_second"), theirs.get(1, {}).get("speed_tg")
for n in sorted(ours):
    o, t = ours[n]["tokens_per_second"], theirs.get(n, {}).get("speed_tg", float("nan"))
    ov = f"{o/o1:.2f}×" if o1 else "-"
    tv = f"{t/t1:.2f}×" if t1 else "-"
    print(f"| {n} | {o:.2f} | {t:.2f} | {o/t:.2f} | {ov} | {tv} |")
PY
