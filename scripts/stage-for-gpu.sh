#!/usr/bin/env bash
# Builds here and installs into stage/ what a GPU machine needs to run attnbench and its
# test suites: the harness, the plugins, the test binaries; then packs it into stage.tar.xz.
# Carry stage.tar.xz to the device and unpack it there first (tar xf stage.tar.xz): stage/
# itself (about 52 MiB) and the working tree do not fit the device tool's 64 MiB together.
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own build folder, without device line tables, stripped. To run compute-sanitizer with
# source lines, stage from a build with ATTNB_CUDA_LINEINFO=ON and carry only the binaries
# the run needs.
cmake -S . -B build-stage -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNB_CUDA_LINEINFO=OFF
cmake --build build-stage -j "$(nproc)"
rm -rf stage
cmake --install build-stage --prefix stage --strip > /dev/null
cmake --install build-stage --prefix stage --strip --component tests > /dev/null
tar -cJf stage.tar.xz stage
du -sh stage stage.tar.xz
