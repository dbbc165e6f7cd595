#!/usr/bin/env bash
# One device call (fourth session): int8_kv checked on CUDA, then its decode rows measured
# again (43da730: its session-start kernel) and its serve runs. Run from the repository root.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
GPU_CHECK_PLUGINS=int8_kv GPU_CHECK_TESTS='int8_kv_plugin|plugin_correctness|split_kv|int8_accuracy' \
    GPU_CHECK_STEP_S=150 OUT="$out" scripts/gpu-check.sh > /dev/null || { echo "checks failed"; exit 1; }
grep -E '^validate:|^check:' "$out/gpu_check.log"
H100_PLUGINS=int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=330 \
    scripts/h100-results.sh device headline decode tunables bf16 hd64 tune > /dev/null
rm -f "$out/peers.csv" "$out/stages-done.txt"
SERVE_GPU_PLUGINS="int8_kv" OUT="$out" timeout --kill-after=5 60 scripts/serve-gpu.sh > /dev/null
tail -3 "$out/device.log"
