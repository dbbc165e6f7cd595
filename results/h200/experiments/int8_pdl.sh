#!/usr/bin/env bash
# One device call (H200), build with the L2 hint taken out: (1) fused and int8_kv on CUDA
# (test suites, the other plugins' CUDA correctness, validate); (2) int8_kv with its decode
# launched early (programmatic dependent launch), its append a warp per row at once and the
# split merge launched early, against the previous build (f9350c3, old-plugins/),
# alternating, two rounds; fp16/bf16, head dim 128/64 at 32 x 32768; (3) Nsight Compute on
# the int8 kernel at 8 x 32768. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 200 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 90 stage/libexec/attnbench/tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*_cuda*' 2>&1 | tail -3
  timeout 150 $bin validate --device cuda 2>&1 | tail -1
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
dec=(--min-time 0.2 --max-time 0.6 --phase decode)
for round in 1 2; do
  for which in new prev; do
    dir=stage/lib/attnbench/plugins; [[ $which == prev ]] && dir=old-plugins
    timeout 60 $bin bench --plugins $dir --plugin int8_kv "${dec[@]}" --preset llama3-8b --dtype fp16 \
        --out "$out/int8_${which}_r$round.csv" --batch 1,8,32 --context 4096,32768,65536 > /dev/null 2>&1
    echo "int8 $which round $round exit $?"
  done
done
for which in new prev; do
  dir=stage/lib/attnbench/plugins; [[ $which == prev ]] && dir=old-plugins
  timeout 60 $bin bench --plugins $dir --plugin int8_kv "${dec[@]}" --out "$out/int8_${which}_other.csv" \
      --preset llama3-8b,tinyllama --dtype bf16,fp16 --batch 32 --context 32768 > /dev/null 2>&1
  echo "int8 $which bf16/hd64 exit $?"
done
python3 - "$out" <<'PY'
import csv, sys, glob, os
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        print(os.path.basename(path)[:-4], "|", " | ".join(r[k] for k in ("preset", "dtype", "batch", "context", "status", "time_p50_s", "tokens_per_s", "bandwidth_pct")), r["message"][:80])
PY
timeout 150 $cuda/ncu --kernel-name regex:int8_flash_decode_kernel --launch-skip 5 --launch-count 1 --set full \
    --import-source no \
    $bin bench --plugin int8_kv --phase decode --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 --batch 8 --context 32768 \
    --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > /tmp/ncu_int8.txt 2>&1
echo "ncu exit $?"
grep -E "Duration|DRAM Throughput|Memory Throughput|Issue Slots Busy|Issued Ipc|Eligible Warps|No Eligible|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Stall|stall|Smsp__pcsamp" /tmp/ncu_int8.txt | head -40 | tee "$out/ncu_int8_summary.txt"
tail -5 /tmp/ncu_int8.txt
