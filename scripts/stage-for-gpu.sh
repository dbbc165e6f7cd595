#!/usr/bin/env bash
# Builds here and installs into stage/ what a GPU machine needs to run attnbench and its
# test suites: the harness, the plugins, the test binaries. Carry stage/ to the device.
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own build folder, without device line tables and stripped: the stage travels under the
# device tool's 64 MiB limit. To run compute-sanitizer with source lines, stage from a build
# with ATTNB_CUDA_LINEINFO=ON and carry only the binaries the run needs.
cmake -S . -B build-stage -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNB_CUDA_LINEINFO=OFF
cmake --build build-stage -j "$(nproc)"
rm -rf stage
cmake --install build-stage --prefix stage --strip > /dev/null
cmake --install build-stage --prefix stage --strip --component tests > /dev/null
du -sh stage
