#!/usr/bin/env bash
# One device call (fourth session): the decode launched early (programmatic dependent launch)
# with its in-kernel split merge, checked, then measured. Run from the repository root after
# `tar xf stage.tar.xz`. To $OUT: gpu_check.log (validate, check and the tests of fused and
# int8_kv on CUDA), headline.csv (their decode at the headline shapes), pages.csv (fused at
# 1 x 65536 with other page layouts), session.log (with the memcheck runs and Nsight
# Compute's view of each decode kernel alone: duration, DRAM bytes, SM activity).
set -uo pipefail
out=${OUT:?}
bin=stage/bin/attnbench
fp16=(--preset llama3-8b --dtype fp16)
step() {  # a time limit each, so one hung step cannot eat the call
  local limit=$1
  shift
  echo "\$ $*"
  timeout --kill-after=5 "$limit" "$@"
  local rc=$?
  echo "# exit status $rc"
  return $rc
}
{
  echo "# $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
  GPU_CHECK_PLUGINS=fused,int8_kv GPU_CHECK_TESTS='fused_plugin|int8_kv_plugin|plugin_correctness|split_kv|int8_accuracy' \
      GPU_CHECK_STEP_S=150 OUT="$out" step 280 scripts/gpu-check.sh > /dev/null
  grep -E '^validate:|^check:|FAILED|^# exit' "$out/gpu_check.log" | head -20
  export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
  tests=stage/libexec/attnbench/tests
  step 90 compute-sanitizer --tool memcheck --error-exitcode 1 --print-limit 5 "$tests/fused_plugin_test" \
      --gtest_filter='*SplitDecodeEqualsUnsplitDecode/cuda*' | tail -4
  step 90 compute-sanitizer --tool memcheck --error-exitcode 1 --print-limit 5 "$tests/int8_kv_plugin_test" \
      --gtest_filter='*LongDecodeMatchesForEverySplitCount/cuda*' | tail -4
  step 150 "$bin" bench --out "$out/headline.csv" --isolate --plugin fused,int8_kv "${fp16[@]}" \
      --phase decode --batch 1,8,32 --context 4096,32768,65536
  for layout in "--pages contiguous" "--page-size 64"; do
    step 40 "$bin" bench --out "$out/pages.csv" --plugin fused "${fp16[@]}" --min-time 0.1 --max-time 0.5 \
        --phase decode --batch 1 --context 65536 $layout
  done
  metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,launch__grid_size
  for run in "fused 32 4096" "fused 1 65536" "int8_kv 32 4096" "int8_kv 1 65536"; do
    read -r plugin batch context <<< "$run"
    echo "## ncu $plugin $batch x $context"
    timeout --kill-after=5 60 ncu --clock-control none --metrics "$metrics" -k 'regex:decode_kernel|append_kernel|quantize_kernel' \
        --launch-skip 4 --launch-count 4 --csv --page raw \
        "$bin" bench --out /tmp/ncu_bench.csv --plugin "$plugin" "${fp16[@]}" --phase decode \
        --batch "$batch" --context "$context" --min-time 0.001 --max-time 0.05 2> /dev/null | grep -v '^==PROF=='
    echo "# exit status ${PIPESTATUS[0]}"
  done
} 2>&1 | tee "$out/session.log"
