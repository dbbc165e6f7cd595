#!/usr/bin/env bash
# One device call (fourth session): fused checked on CUDA, then its decode rows measured again
# (fixed splits computing their tiles instead of reading the claim ring) and its serve runs.
# Run from the repository root after `tar xf stage.tar.xz`.
set -uo pipefail
out=${OUT:?}
GPU_CHECK_PLUGINS=fused GPU_CHECK_TESTS='fused_plugin|plugin_correctness|split_kv' \
    GPU_CHECK_STEP_S=150 OUT="$out" scripts/gpu-check.sh > /dev/null || { echo "checks failed"; exit 1; }
grep -E '^validate:|^check:' "$out/gpu_check.log"
H100_PLUGINS=fused H100_DECODE_ONLY=1 H100_DEADLINE_S=330 \
    scripts/h100-results.sh device headline decode tunables window bf16 hd64 tune > /dev/null
rm -f "$out/peers.csv" "$out/stages-done.txt"
SERVE_GPU_PLUGINS="fused" OUT="$out" timeout --kill-after=5 60 scripts/serve-gpu.sh > /dev/null
tail -3 "$out/device.log"
