#!/usr/bin/env bash
# One device call (fourth session): is the in-kernel split merge right on the GPU, and what do
# it and the L2 evict-first hint on the K/V copies buy? Run from the repository root after
# `tar xf stage.tar.xz` (scripts/stage-for-gpu.sh). Writes to $OUT: ab.csv (fused and int8_kv
# decode, kv_evict_first 0 and 1, the headline shapes), gpu_check.log, ncu.csv (decode kernels
# alone: duration, DRAM bytes, SM activity; L2 flushed clean by ncu), session.log.
set -uo pipefail
out=${OUT:?}
bin=stage/bin/attnbench
fp16=(--preset llama3-8b --dtype fp16)
step() {  # a time limit each, so one hung step cannot eat the call
  local limit=$1
  shift
  echo "\$ $*"
  timeout --kill-after=5 "$limit" "$@"
  echo "# exit status $?"
}
{
  echo "# $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
  step 200 "$bin" bench --out "$out/ab.csv" --isolate --plugin fused,int8_kv "${fp16[@]}" \
      --min-time 0.1 --max-time 0.5 --phase decode --batch 1,8,32 --context 4096,32768,65536 \
      --sweep-tunable kv_evict_first=0,1
  GPU_CHECK_PLUGINS=fused,int8_kv GPU_CHECK_TESTS='fused_plugin|int8_kv_plugin|plugin_correctness|split_kv' \
      GPU_CHECK_STEP_S=150 OUT="$out" step 280 scripts/gpu-check.sh > /dev/null
  tail -3 "$out/gpu_check.log"
  export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
  tests=stage/libexec/attnbench/tests
  step 90 compute-sanitizer --tool memcheck --error-exitcode 1 "$tests/fused_plugin_test" \
      --gtest_filter='*SplitDecodeEqualsUnsplitDecode/cuda*'
  step 90 compute-sanitizer --tool memcheck --error-exitcode 1 "$tests/int8_kv_plugin_test" \
      --gtest_filter='*LongDecodeMatchesForEverySplitCount/cuda*'
  metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,launch__grid_size
  for run in "fused 32 4096" "fused 1 65536" "int8_kv 32 4096" "int8_kv 1 65536"; do
    read -r plugin batch context <<< "$run"
    echo "## ncu $plugin $batch x $context"
    timeout --kill-after=5 60 ncu --clock-control none --metrics "$metrics" -k regex:decode_kernel \
        --launch-skip 3 --launch-count 3 --csv --page raw \
        "$bin" bench --out /tmp/ncu_bench.csv --plugin "$plugin" "${fp16[@]}" --phase decode \
        --batch "$batch" --context "$context" --min-time 0 --max-time 0.05 2> /dev/null |
        grep -v '^==PROF==' | sed "s/^/$plugin,$batch,$context,/" >> "$out/ncu.csv"
    echo "# exit status ${PIPESTATUS[0]}"
  done
} 2>&1 | tee "$out/session.log"
