#!/usr/bin/env bash
# One device call (fourth session): every plugin checked on CUDA after the shared split merge
# kernel and the append kernels changed (scripts/gpu-check.sh: validate, check, the INT8
# accuracy study, every test suite), then Nsight Compute's view of each decode step's kernels
# alone (L2 flushed clean before each, as ncu does): duration, DRAM bytes, SM activity, for
# fused and int8_kv at 32 x 4096 and 1 x 65536. Run from the repository root after
# `tar xf stage.tar.xz`. To $OUT: gpu_check.log, ncu.csv, session.log.
set -uo pipefail
out=${OUT:?}
bin=stage/bin/attnbench
{
  echo "# $(date -u +%FT%TZ)"
  OUT="$out" timeout --kill-after=5 300 scripts/gpu-check.sh > /dev/null
  echo "# gpu-check exit status $?"
  grep -E '^validate:|^check:|FAILED' "$out/gpu_check.log" | head -20
  metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,sm__cycles_elapsed.max
  for run in "fused 32 4096" "fused 1 65536" "int8_kv 32 4096" "int8_kv 1 65536"; do
    read -r plugin batch context <<< "$run"
    echo "## ncu $plugin $batch x $context"
    timeout --kill-after=5 60 ncu --clock-control none --metrics "$metrics" \
        -k 'regex:decode_kernel|append_kernel|quantize_kernel' --launch-skip 4 --launch-count 4 --csv \
        "$bin" bench --out "/tmp/ncu_${plugin}_${batch}_${context}.csv" --plugin "$plugin" \
        --preset llama3-8b --dtype fp16 --phase decode --batch "$batch" --context "$context" \
        --min-time 0.001 --max-time 0.05 2> /dev/null | grep -v '^==' | sed "s/^/\"$plugin\",\"$batch\",\"$context\",/" >> "$out/ncu.csv"
    echo "# exit status ${PIPESTATUS[0]}"
  done
} 2>&1 | tee "$out/session.log"
