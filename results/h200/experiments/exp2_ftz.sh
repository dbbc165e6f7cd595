#!/usr/bin/env bash
# One device call (H200): the softmax's 2^x on ex2.approx.ftz (three instructions a score fewer)
# in every fused kernel. fused checked on CUDA (tests, validate, compute-sanitizer on the
# prefill tests); the prefill kernels and tiles at 4 x 4096 causal (fp16, bf16, D 64); the
# decode defaults on the issue's shapes; Nsight Compute's pipes on the warp-specialized prefill.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 200 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 100 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  timeout 120 $cuda/compute-sanitizer --tool memcheck stage/libexec/attnbench/tests/fused_plugin_test \
      --gtest_brief=1 --gtest_filter='*EveryTileShape*/cuda' 2>&1 | tail -3
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
common=(--out "$out/rows.csv" --resume --min-time 0.2 --max-time 0.8)
timeout 150 $bin bench --plugin fused "${common[@]}" --preset llama3-8b --dtype fp16 --phase prefill \
    --batch 4 --context 4096 --sweep-tunable wgmma=1,2 --sweep-tunable tile_kv=32,64,128 >> "$out/bench.log" 2>&1
echo "prefill sweep exit $?"
timeout 100 $bin bench --plugin fused "${common[@]}" --preset llama3-8b,tinyllama --dtype bf16,fp16 --phase prefill \
    --batch 4 --context 4096 --sweep-tunable wgmma=1,2 >> "$out/bench.log" 2>&1
echo "prefill presets exit $?"
timeout 120 $bin bench --plugin fused,int8_kv "${common[@]}" --preset llama3-8b --dtype fp16 --phase decode \
    --batch 1,8,32 --context 4096,32768,65536 >> "$out/bench.log" 2>&1
echo "decode exit $?"
python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/rows.csv")):
    print(" | ".join(r[k] for k in ("plugin", "preset", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s", "bandwidth_pct", "tflops", "commit")))
PY
timeout 120 $cuda/ncu --kernel-name regex:flash_prefill_ws --launch-skip 2 --launch-count 1 --section SpeedOfLight \
    --section ComputeWorkloadAnalysis --section WarpStateStats --section SchedulerStats \
    --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_wait_per_issue_active.ratio,smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio,smsp__average_warps_issue_stalled_membar_per_issue_active.ratio,smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_sleeping_per_issue_active.ratio,smsp__average_warps_issue_stalled_dispatch_stall_per_issue_active.ratio \
    $bin bench --plugin fused --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 --phase prefill --batch 4 \
    --context 4096 --set wgmma=2 --set tile_kv=128 --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > "$out/ncu_ws.txt" 2>&1
echo "ncu exit $?"
grep -E "Duration|Issue Slots|tensor|stalled|Eligible" "$out/ncu_ws.txt" | head -30
