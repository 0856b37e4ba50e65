#!/usr/bin/env bash
# Installs what building llamago's CUDA backend needs on a Debian 12 machine without a GPU, into a cache
# folder (default ~/.cache/llamago/cuda, or $LLAMAGO_CUDA_HOME): cuda.h and the other CUDA 11.8 headers, the
# stub libcuda.so to link against, and nvcc/ptxas to compile and check the kernels. Idempotent: a second run
# finds everything in place and returns at once. Prints the environment to use:
#
#   eval "$(kernels/cuda-deps.sh)"   # sets CUDA_HOME, CGO_CFLAGS, CGO_LDFLAGS, NVCC, PTXAS
#
# (nvcc and ptxas are not put on PATH: the toolkit's bin folder also holds gcc/g++ wrappers that would
# shadow the compiler cgo uses.)
#
# Packages come from Debian's non-free component (nvidia-cuda-dev, nvidia-cuda-toolkit), fetched with
# apt-get download and unpacked with dpkg-deb: nothing is installed system-wide except the apt source.
set -euo pipefail
home=${LLAMAGO_CUDA_HOME:-$HOME/.cache/llamago/cuda}
stamp=$home/.complete
log() { echo "cuda-deps: $*" >&2; }

if [ ! -f "$stamp" ]; then
  mkdir -p "$home/debs" "$home/root"
  src=/etc/apt/sources.list.d/llamago-nonfree.sources
  if ! apt-cache policy nvidia-cuda-dev 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    if [ ! -f "$src" ]; then
      uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 | awk '{print $2}')
      uri=${uri:-http://deb.debian.org/debian}
      log "adding Debian's contrib and non-free components ($uri) for the CUDA 11.8 packages"
      printf 'Types: deb\nURIs: %s\nSuites: bookworm\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
    fi
    apt-get update -qq >&2
  fi
  cd "$home/debs"
  for p in nvidia-cuda-dev nvidia-cuda-toolkit; do
    ls ${p}_*.deb >/dev/null 2>&1 || { log "downloading $p"; apt-get download -q "$p" >&2; }
  done
  log "unpacking headers, the stub libcuda and nvcc/ptxas into $home/root"
  dpkg-deb --fsys-tarfile nvidia-cuda-dev_*.deb | tar -x -C "$home/root" ./usr/include ./usr/lib/x86_64-linux-gnu/stubs/libcuda.so
  dpkg-deb -x nvidia-cuda-toolkit_*.deb "$home/root"
  rm -f "$home"/debs/*.deb
  touch "$stamp"
fi

nvcc=$(find "$home/root" -type f -name nvcc | head -n1)
ptxas=$(find "$home/root" -type f -name ptxas | head -n1)
[ -n "$nvcc" ] && [ -n "$ptxas" ] || { log "nvcc or ptxas missing under $home: remove $home and run again"; exit 1; }
# The packaged nvcc.profile (a link to /etc/nvcc.profile) points at a system install: replace it with one
# for the unpacked copy.
bindir=$(dirname "$nvcc")
rm -f "$bindir/nvcc.profile"
cat > "$bindir/nvcc.profile" <<PROFILE
TOP = $home/root/usr/lib/nvidia-cuda-toolkit
NVVMIR_LIBRARY_DIR = \$(TOP)/libdevice
PATH += $bindir:$(dirname "$ptxas"):
INCLUDES += "-I$home/root/usr/include" \$(_SPACE_)
LIBRARIES =+ \$(_SPACE_) "-L$home/root/usr/lib/x86_64-linux-gnu/stubs"
CUDAFE_FLAGS +=
PTXAS_FLAGS +=
PROFILE
cat <<ENV
export CUDA_HOME=$home/root/usr
export CGO_CFLAGS="-I$home/root/usr/include"
export CGO_LDFLAGS="-L$home/root/usr/lib/x86_64-linux-gnu/stubs"
export NVCC=$nvcc
export PTXAS=$ptxas
ENV
