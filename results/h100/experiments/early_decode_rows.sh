#!/usr/bin/env bash
# One device call (fourth session, run twice): the decode rows of fused and int8_kv measured
# again after their kernels changed (split merge inside the kernel, decode launched early;
# then claimed tiles). Run from the
# repository root after `tar xf stage.tar.xz`. Checks first (validate, check and the tests of
# both plugins on CUDA; nothing is measured if they fail), then the decode stages of
# scripts/h100-results.sh for the two plugins only, then scripts/serve-gpu.sh for them.
set -uo pipefail
out=${OUT:?}
GPU_CHECK_PLUGINS=fused,int8_kv GPU_CHECK_TESTS='fused_plugin|int8_kv_plugin|plugin_correctness|split_kv|int8_accuracy' \
    GPU_CHECK_STEP_S=150 OUT="$out" scripts/gpu-check.sh > /dev/null || {
  echo "early_decode_rows.sh: the checks failed (gpu_check.log); nothing measured"
  exit 1
}
H100_PLUGINS=fused,int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=${H100_DEADLINE_S:-400} \
    scripts/h100-results.sh device headline decode tunables window bf16 hd64 tune > /dev/null
rm -f "$out/peers.csv" "$out/stages-done.txt"  # unchanged; at most eight files come back
SERVE_GPU_PLUGINS="int8_kv fused" OUT="$out" timeout --kill-after=5 110 scripts/serve-gpu.sh > /dev/null
tail -5 "$out/device.log"
