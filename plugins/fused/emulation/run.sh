#!/usr/bin/env bash
# Checks the fused CUDA kernels without a GPU: compiles them as host C++ against the SIMT
# emulator (simt.hpp, shadow/) and runs them against an fp64 reference.
#   plugins/fused/emulation/run.sh [quick|prefill|decode] [work dir]
# quick (the default) takes about a minute on two cores; prefill and decode sweep the
# tunables and take several. Needs g++ and the CUDA headers (not a GPU, not nvcc).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fused=$(dirname "$here")
root=$(cd "$fused/../.." && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}
work=${2:-$(mktemp -d)}
mkdir -p "$work/fused" "$work/common"
cp "$here/simt.hpp" "$work/"
cp "$here"/shadow/*.cuh "$root/plugins/common/plain_kv_layout.hpp" "$work/common/"
cp "$fused"/{flash_tile.cuh,flash_launch.cuh,fused_cuda.hpp,fused_tunables.hpp,fused_tunables.cpp} "$work/fused/"
# What a host compiler cannot take: kernel<<<...>>>(...) launches, extern __shared__ arrays
# and the shared-memory opt-in (a runtime call).
python3 - "$fused" "$work/fused" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
for name in ('flash_prefill', 'flash_decode'):
    s = open(f'{src}/{name}.cu').read()
    s = re.sub(r'(\w+(?:<\w+>)?)<<<(.*?)>>>\((.*?)\);', r'simt::launch(\1, \2, \3);', s, flags=re.S)
    s = s.replace('extern __shared__ __align__(128) unsigned char smem[];',
                  'unsigned char* smem = simt::block().shared.data();')
    open(f'{dst}/{name}.cpp', 'w').write(s)
s = open(f'{dst}/flash_launch.cuh').read()
start = s.index('template <typename Kernel>\nvoid allow_shared_memory')
s = s[:start] + '''template <typename Kernel>
void allow_shared_memory(Kernel, std::size_t bytes) {
  if (bytes > 227 * 1024) throw Error(ATTNB_ERR_DEVICE, "more shared memory than an H100 block has");
}

}  // namespace attnbench::fused
'''
open(f'{dst}/flash_launch.cuh', 'w').write(s)
PY
g++ -std=c++17 -O1 -w -I"$work" -I"$root/sdk/include" -I"$cuda/include" -DATTNB_WITH_CUDA \
  "$here/kernel_check.cpp" "$work"/fused/{flash_prefill,flash_decode,fused_tunables}.cpp -o "$work/kernel_check"
"$work/kernel_check" "${1:-quick}"
