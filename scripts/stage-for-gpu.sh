#!/usr/bin/env bash
# Builds here and installs into stage/ what a GPU machine needs to run attnbench and its
# test suites: the harness, the plugins, the test binaries. Carry stage/ to the device.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
rm -rf stage
# Stripped: the stage travels under the device tool's 64 MiB limit.
cmake --install build --prefix stage --strip > /dev/null
cmake --install build --prefix stage --strip --component tests > /dev/null
du -sh stage
