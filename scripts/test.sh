#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (CUDA code too when nvcc is
# there) and runs every test suite through CTest. GPU tests skip, saying so, without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)"
