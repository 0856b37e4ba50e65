#!/usr/bin/env bash
# Side-by-side CPU comparison of llamago with the native peers on the same model files and thread count:
# llama.cpp (built for this machine by ../shared/peer/llama-cpp.sh) and ik_llama.cpp with -rtr 1 (weights
# repacked at load, its fastest CPU mode; ../shared/peer/ik-llama-cpp.sh), the engines taking turns on each
# model, repetition by repetition, in an order that rotates. The machine's read bandwidth is measured in
# the same run, before the engines and after each model's (BenchmarkReadBandwidth: 512 MiB streamed with the
# same threads), and every decode row says what fraction of the largest reading each engine reaches
# (tokens/s × the weights' bytes, which decoding reads once per token).
#
#   bench/compare.sh [-t THREADS] [-p PP] [-n TG] [-d DEPTH] [-r REPS] [-P PEERS] [-A BITS] [-K KVTYPE] [MODEL.gguf ...]
#
# With -d DEPTH the tests run after DEPTH tokens of context instead ("tg128 @ d2048": what a long
# conversation costs, attention reading the whole KV cache; llama-bench's -d, ik_llama.cpp's -gp, which
# measures generation only, so its prompt cells stay empty). Their decode rows have no read-bandwidth
# fraction: the KV cache read with the weights differs by engine (llamago keeps it in 32-bit floats by
# default, the peers in 16; -K f16 runs llamago with --kv-type f16, as the peers keep theirs).
#
# PEERS is a comma list of llama.cpp and ik (default both). BITS lists llamago's activation precisions to
# run (--activations; default 16,8): 16 is llamago's default, 8 rounds as llama.cpp does (its arithmetic),
# so that row compares like with like. A peer that cannot be built here is left out,
# said so; where the native llama.cpp cannot be built, node-llama-cpp's prebuilt libraries stand in for it
# when bench/peer/node_modules has them (a generic build, about 30% slower: said so in the table).
# Without model arguments it uses (making them with `llamago synth` when missing) the TinyLlama-1.1B shape
# in Q4_0, Q8_0 and Q4_K_M under models/bench/. Run it on a quiet machine: nothing else using the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/machine.sh
threads=2 pp=512 tg=128 depth=0 reps=4 peers=llama.cpp,ik bits=16,8 kv=f32
while getopts "t:p:n:d:r:P:A:K:" o; do
  case $o in t) threads=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;; d) depth=$OPTARG ;; r) reps=$OPTARG ;; P) peers=$OPTARG ;; A) bits=$OPTARG ;; K) kv=$OPTARG ;; *) exit 2 ;; esac
done
[[ $kv == f32 || $kv == f16 ]] || { echo "compare.sh: -K takes f32 or f16 (llamago's --kv-type), got $kv" >&2; exit 2; }
[[ $depth =~ ^[0-9]+$ ]] || { echo "compare.sh: -d takes a number of tokens, got $depth" >&2; exit 2; }
ikargs=(-p "$pp" -n "$tg")
[ "$depth" -gt 0 ] && ikargs=(-p 0 -n 0 -gp "$depth,$tg") # generation after DEPTH tokens; no prompt at depth
if [ "$depth" -gt 0 ] && [ "$tg" -eq 0 ] && [[ ,$peers, == *,ik,* ]]; then
  peers=${peers//ik/}
  echo "ik_llama.cpp measures only generation at a depth (-gp): left out of a -d run with -n 0" >&2
fi
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
shared=${LLAMAGO_SHARED:-../shared}

# The peers: name, then how to run it (native: its llama-bench folder; node: node-llama-cpp).
llama="" ik="" node=""
if [[ ,$peers, == *,llama.cpp,* ]]; then
  if llama=$(LLAMA_CPP_HOME=${LLAMA_CPP_HOME:-$HOME/.cache/llamago/llama.cpp-3f545bec} bash "$shared/peer/llama-cpp.sh" 2>/tmp/compare-llama.log | tail -n1) && [ -x "$llama/llama-bench" ]; then
    :
  else
    llama=""
    if [ -d bench/peer/node_modules/node-llama-cpp ]; then
      node=1
      echo "llama.cpp could not be built here (see /tmp/compare-llama.log): node-llama-cpp's generic build stands in for it" >&2
    else
      echo "llama.cpp could not be built here (see /tmp/compare-llama.log): left out" >&2
    fi
  fi
fi
if [[ ,$peers, == *,ik,* ]]; then
  ik=$(bash "$shared/peer/ik-llama-cpp.sh" 2>/tmp/compare-ik.log | tail -n1) || ik=""
  if [ -z "$ik" ] || [ ! -x "$ik/llama-bench" ]; then
    ik=""
    echo "ik_llama.cpp could not be built here (see /tmp/compare-ik.log): left out" >&2
  fi
fi

# The read bandwidth, measured before the engines and again after each model's: on a shared machine what a
# core gets moves within minutes, so the decode fractions use the largest the run saw.
cpu_test=$(mktemp)
go test -c -o "$cpu_test" ./cpu
probe() { "$cpu_test" -test.run '^$' -test.bench ReadBandwidth -test.benchtime 8x -test.cpu "$threads" | awk '/^BenchmarkReadBandwidth/ {print $(NF-1)}'; }
bws=("$(probe)")
if [ "$depth" -gt 0 ] && [ -n "$node" ]; then
  node=""
  echo "node-llama-cpp's bench has no context depth: left out of a -d run" >&2
fi
echo "machine: $(machine_desc); threads $threads; depth $depth; llamago's KV cache $kv (the peers': f16); $(date -u +%F)"
peer1="left out" peer2="left out"
[ -n "$node" ] && peer1="node-llama-cpp's generic build (standing in for the native one)"
[ -n "$llama" ] && peer1="native build ($llama)"
[ -n "$ik" ] && peer2="native build, -rtr 1 ($ik)"
echo "peers: llama.cpp: $peer1; ik_llama.cpp: $peer2"

results=$(mktemp)
trap 'rm -f "$results" "$cpu_test"' EXIT
# Each repetition runs every engine once (-r 1, after its own warm-up run), the engines in an order that
# rotates from one repetition to the next: on these shared machines the read bandwidth moves by half
# within minutes, and engines run one after the other in a fixed order would each meet another machine.
# The table gives the mean and standard deviation over the repetitions, and each ratio as the median of
# the repetitions' ratios (the engines of one repetition run one right after the other) with their range.
# With as many repetitions as engines (the default: 4, for two precisions and two peers) each engine runs
# once in every place of the order. Every run loads its model again (ik_llama.cpp repacks it, llamago
# packs it): the whole takes about twice as long as back-to-back repetitions did.
for m in "${models[@]}"; do
  echo "model $m $(stat -c %s "$m")" >> "$results"
  engines=()
  for b in ${bits//,/ }; do engines+=("llamago/$b"); done
  if [ -n "$llama" ]; then engines+=(llama.cpp); elif [ -n "$node" ]; then engines+=(node); fi
  [ -n "$ik" ] && engines+=(ik)
  for ((rep = 0; rep < reps; rep++)); do
    for ((i = 0; i < ${#engines[@]}; i++)); do
      e=${engines[$(((i + rep) % ${#engines[@]}))]}
      case $e in
        llamago/*) echo "$e $rep $(bin/llamago bench --backend cpu --activations "${e#llamago/}" --kv-type "$kv" -m "$m" -p "$pp" -n "$tg" -d "$depth" -r 1 -t "$threads" --json | tr -d '\n')" ;;
        llama.cpp) echo "llama.cpp $rep $("$llama/llama-bench" -m "$m" -p "$pp" -n "$tg" -d "$depth" -r 1 -t "$threads" -o json 2>/dev/null | tr -d '\n')" ;;
        node) echo "node $rep $(cd bench/peer && node llamacpp_bench.mjs "$(realpath "../../$m" 2>/dev/null || realpath "$m")" "$pp" "$tg" 1 "$threads" |
          python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in sys.stdin if l.strip()]))')" ;;
        ik) echo "ik $rep $("$ik/llama-bench" -m "$m" "${ikargs[@]}" -r 1 -t "$threads" -rtr 1 -o json 2>/dev/null | tr -d '\n')" ;;
      esac >> "$results"
    done
  done
  bws+=("$(probe)")
done
bw=$(printf '%s\n' "${bws[@]}" | sort -g | tail -n1)
echo "read bandwidth: ${bws[*]} MB/s (BenchmarkReadBandwidth, $threads threads: before the engines, then after each model's; the fractions below use the largest)"
python3 - "$results" "$bw" <<'PY'
import json, os, sys
lines = open(sys.argv[1]).read().splitlines()
bw = float(sys.argv[2] or 0) * 1e6  # bytes/s
runs, order = {}, []
def add(d, test, ts):  # repetition n's tokens per second of a test
    d.setdefault(test, {})[n] = ts
for line in lines:
    kind, _, rest = line.partition(" ")
    if kind != "model":  # an engine's line: its repetition, then its JSON
        n, _, rest = rest.partition(" ")
    else:
        path, size = rest.rsplit(" ", 1)
        cur = {"size": int(size)}
        runs[path] = cur
        order.append(path)
        continue
    try:  # an engine that failed (or died half way through its JSON) loses its cells, not the table
        if kind.startswith("llamago/"):
            d = cur.setdefault("llamago", {}).setdefault(kind.split("/")[1], {})
            for r in json.loads(rest):
                add(d, r["test"], r["tokens_per_second"])
        elif kind in ("llama.cpp", "ik"):
            d = cur.setdefault(kind, {})
            for r in json.loads(rest):
                if "@pp" in r.get("test", ""):  # ik_llama.cpp's -gp: generation after n_prompt tokens
                    test = f"tg{r['n_gen']} @ d{r['n_prompt']}"
                else:
                    test = f"pp{r['n_prompt']}" if r.get("n_gen", 0) == 0 else f"tg{r['n_gen']}"
                    if r.get("n_depth", 0):
                        test += f" @ d{r['n_depth']}"
                add(d, test, r["avg_ts"])
        elif kind == "node":  # node-llama-cpp standing in for llama.cpp
            d = cur.setdefault("llama.cpp", {})
            for r in json.loads(rest):
                add(d, r["test"], r["tokens_per_second"])
    except Exception as e:
        print(f"compare.sh: {kind} on {order[-1]} gave no results ({e})", file=sys.stderr)
def stat(v):  # mean and sample standard deviation of the repetitions, and the repetitions by number
    x = list(v.values())
    m = sum(x) / len(x)
    return m, (sum((y - m) ** 2 for y in x) / (len(x) - 1)) ** 0.5 if len(x) > 1 else 0.0, v
def ratio(a, p):  # the ratio cell: the median of the ratios of the repetitions both engines finished
    both = sorted(set(a) & set(p))
    if not both:
        return "–"
    q = sorted(a[k] / p[k] for k in both)
    mid = len(q) // 2
    cell = f"**{q[mid] if len(q) % 2 else (q[mid - 1] + q[mid]) / 2:.2f}**"
    if len(q) > 1:
        cell += f" ({q[0]:.2f}–{q[-1]:.2f})"
    if len(both) < max(len(a), len(p)):
        cell += f" [{len(both)} paired repetitions]"
    return cell
for r in runs.values():
    for k, v in r.items():
        if k == "llamago":
            r[k] = {b: {t: stat(x) for t, x in tests.items()} for b, tests in v.items()}
        elif k != "size":
            r[k] = {t: stat(x) for t, x in v.items()}
peers = [p for p in ("llama.cpp", "ik") if any(p in r for r in runs.values())]
name = {"llama.cpp": "llama.cpp", "ik": "ik_llama.cpp"}
head = ["model", "test", "llamago (activations)", "t/s"]
for p in peers:
    head += [f"{name[p]} t/s", "ratio"]
head += ["% of read bw (llamago" + "".join(f" / {name[p]}" for p in peers) + ")"]
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for path in order:
    r = runs[path]
    if not r.get("llamago"):
        print(f"| {os.path.basename(path)} | – | llamago failed (see above) |" + " |" * (len(head) - 3))
        continue
    rows = [(test, b, v) for b, tests in r["llamago"].items() for test, v in tests.items()]
    rows.sort(key=lambda x: (not x[0].startswith("pp"), x[0], -int(x[1])))
    for test, b, (a, sa, av) in rows:
        row = [os.path.basename(path), test, f"{b}-bit", f"{a:.2f} ± {sa:.1f}"]
        fracs = [a]
        for p in peers:
            pv = r.get(p, {}).get(test)
            if pv:
                row += [f"{pv[0]:.2f} ± {pv[1]:.1f}", ratio(av, pv[2])]
                fracs.append(pv[0])
            else:
                row += ["–", "–"]
                fracs.append(None)
        if test.startswith("tg") and "@" not in test and bw > 0:
            row.append(" / ".join("–" if f is None else f"{100 * f * r['size'] / bw:.0f}%" for f in fracs))
        else:
            row.append("")
        print("| " + " | ".join(row) + " |")
print("\n(t/s: mean ± standard deviation over the repetitions; ratio: the median of each repetition's llamago ÷ peer,"
      " the two run in the same repetition, with the range of those ratios.)")
PY
