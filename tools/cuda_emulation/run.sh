#!/usr/bin/env bash
# Checks every plugin's CUDA path without a GPU (README.md): builds the plugins from their
# translated CUDA sources against the SIMT emulator and runs them against the fp64 reference.
#   tools/cuda_emulation/run.sh [quick|full] [build folder] [driver options...]
# quick (the default, also the CTest tests labelled emulation) takes about 70 s on one core
# once built; full about 21 minutes. The build folder (default build-emu) is configured
# CPU-only when new; an existing one is reused as it is. Needs g++ or clang++, CMake, Python 3
# and the CUDA headers (not nvcc, not a GPU). Driver options: --seed N, --plugins a,b.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:-quick}
build=${2:-$root/build-emu}
case $mode in
  quick | full) ;;
  *) echo "run.sh: mode must be quick or full, got '$mode'" >&2; exit 2 ;;
esac
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$build" "${generator[@]}" -DATTNB_WITH_CUDA=OFF > /dev/null
fi
cmake --build "$build" -j"$(nproc)" --target cuda_emulation_check
exec "$build/bin/cuda_emulation_check" "$mode" "${@:3}" "$build/lib/attnbench/emulated"
