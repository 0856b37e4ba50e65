# Sourced by the bench scripts: machine_desc prints what a result needs to name the machine it came from —
# cores, the CPU's model name, its CPUID family and model (the name alone says "AMD EPYC" for Zen 3 and
# Zen 4 alike, and a kernel tuned on one can lose on the other), and the kernels llamago picks on it (from
# `bin/llamago version`, which the caller has built). Fields /proc/cpuinfo lacks (arm64 has no family) print
# as "?"; under set -euo pipefail nothing here fails the caller.
machine_desc() {
  local name family model kernels
  name=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
  family=$(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | xargs || true)
  model=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | xargs || true)
  kernels=$(bin/llamago version 2>/dev/null | grep -o 'cpu ([a-z0-9+]* kernels' | sed 's/^cpu (//' || true)
  echo "$(nproc) cores, ${name:-unknown CPU} (CPUID family ${family:-?} model ${model:-?}; llamago: ${kernels:-kernels unknown})"
}
