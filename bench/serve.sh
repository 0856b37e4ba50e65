#!/usr/bin/env bash
# What a client of `llamago serve` sees under load: starts the server on a free loopback port, waits for
# /health, runs bench/loadgen (streaming completions from 1, 4, 8 and 16 concurrent clients in turn, the
# same requests at every level) and prints its table: aggregate tokens/s, speed-up over one client, TTFT
# and ITL p50/p99, errors (greedy answers that change with the load count as errors). The server is
# stopped by its PID when the script ends, however it ends.
#
#   bench/serve.sh [-t THREADS] [-r REQUESTS] [-n MAX_TOKENS] [-l 1,4,8,16] [-c CTX] [-A BITS] [MODEL.gguf [PARALLEL]]
#
# BITS is the server's activation precision (--activations: 16, the default, or 8, llama.cpp's rounding).
# Defaults: 2 threads, 32 requests of 64 generated tokens per level, --parallel 16, a context of
# MAX_TOKENS + 128 positions (the prompts are short story openings). Without a model it uses (making it
# with `llamago synth` when missing) the TinyLlama-1.1B shape in Q4_0. Exits 1 when a request failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/machine.sh
threads=2 requests=32 tg=64 levels=1,4,8,16 ctx= bits=16
while getopts "t:r:n:l:c:A:" o; do
  case $o in t) threads=$OPTARG ;; r) requests=$OPTARG ;; n) tg=$OPTARG ;; l) levels=$OPTARG ;; c) ctx=$OPTARG ;; A) bits=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
model=${1:-models/bench/tinyllama-shape-Q4_0.gguf}
parallel=${2:-16}
ctx=${ctx:-$((tg + 128))}
make -s build
go build -trimpath -o bin/loadgen ./bench/loadgen
if [ ! -f "$model" ]; then
  [ $# -eq 0 ] || { echo "serve.sh: $model does not exist" >&2; exit 2; }
  mkdir -p models/bench
  bin/llamago synth --preset llama-1b --type Q4_0 -o "$model"
fi

log=$(mktemp)
bin/llamago serve --backend cpu --activations "$bits" -m "$model" --host 127.0.0.1 --port 0 --parallel "$parallel" -t "$threads" -c "$ctx" 2>"$log" &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT
trap 'exit 130' INT TERM

# --port 0: the server picks a free port and logs it; then /health turns 200 once the model is loaded.
url=
for _ in $(seq 600); do
  kill -0 "$pid" 2>/dev/null || { echo "serve.sh: the server exited:" >&2; cat "$log" >&2; exit 1; }
  [ -n "$url" ] || url=$(grep -o 'addr=http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 | cut -d= -f2 || true)
  if [ -n "$url" ] && curl -sf -o /dev/null "$url/health"; then break; fi
  sleep 0.2
done
curl -sf -o /dev/null "$url/health" || { echo "serve.sh: the server was not ready after 120 s:" >&2; cat "$log" >&2; exit 1; }

echo "machine: $(machine_desc); threads $threads; $(date -u +%F); load average $(cut -d' ' -f1-3 /proc/loadavg) before"
echo "model: $model; llamago serve --parallel $parallel -t $threads -c $ctx --activations $bits; $(git log -1 --format='commit %h' 2>/dev/null || true)"
echo "load: bin/loadgen -requests $requests -clients $levels -max-tokens $tg (streaming, ignore_eos, temperature 0)"
echo
status=0
bin/loadgen -url "$url" -requests "$requests" -clients "$levels" -max-tokens "$tg" || status=$?
# on a shared machine, a load average well above the server's threads means other work shared the cores
echo
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after (1, 5, 15 min)"
exit "$status"
