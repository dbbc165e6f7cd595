#!/usr/bin/env bash
# The main job: installs what is missing, builds, lists the plugins and checks every one
# against the fp64 reference (on the CPU with small shapes without a GPU, on the GPU too
# when there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
build/bin/attnbench list
build/bin/attnbench validate
