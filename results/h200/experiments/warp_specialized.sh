#!/usr/bin/env bash
# One device call (H200): the warp-specialized wgmma prefill (wgmma=2) checked on CUDA (fused's
# CUDA tests sweep every kernel and tile) and timed beside the default wgmma kernel at 4 x 4096
# causal; the decode at its new automatic tile and stages on the issue's shapes, beside int8_kv.
# Rows go to one CSV. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 200 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -4
  timeout 100 $bin validate --device cuda --plugin fused 2>&1 | tail -1
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
common=(--out "$out/rows.csv" --resume --min-time 0.2 --max-time 0.8)
timeout 150 $bin bench --plugin fused "${common[@]}" --preset llama3-8b --dtype fp16 --phase prefill \
    --batch 4 --context 4096 --sweep-tunable wgmma=1,2 --sweep-tunable tile_kv=0,32,64,128 >> "$out/bench.log" 2>&1
echo "prefill fp16 exit $?"
timeout 100 $bin bench --plugin fused "${common[@]}" --preset llama3-8b,tinyllama --dtype bf16,fp16 --phase prefill \
    --batch 4 --context 4096 --set wgmma=2 --sweep-tunable tile_kv=64,128 >> "$out/bench.log" 2>&1
echo "prefill ws presets exit $?"
timeout 150 $bin bench --plugin fused,int8_kv "${common[@]}" --preset llama3-8b --dtype fp16 --phase decode \
    --batch 1,8,32 --context 4096,32768,65536 >> "$out/bench.log" 2>&1
echo "decode exit $?"
python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/rows.csv")):
    print(" | ".join(r[k] for k in ("plugin", "preset", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s", "bandwidth_pct", "tflops", "commit")))
PY
timeout 120 $cuda/ncu --kernel-name regex:flash_prefill_ws --launch-skip 2 --launch-count 1 --section SpeedOfLight \
    --section ComputeWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy \
    $bin bench --plugin fused --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 --phase prefill --batch 4 \
    --context 4096 --set wgmma=2 --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > "$out/ncu_ws.txt" 2>&1
echo "ncu exit $?"
grep -E "Duration|Issue Slots|Pipe Tensor|Shared|Warp Cycles|Stall|Eligible|Registers|Achieved Occ" "$out/ncu_ws.txt" | head -30
