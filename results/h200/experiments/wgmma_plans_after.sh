#!/usr/bin/env bash
# One device call (H200): the wgmma prefill with its page plans after the wgmmas and two
# blocks an SM at small tiles. Fused validated on CUDA and its CUDA tests; the prefill at
# 4 x 4096 causal fp16 over the wgmma kernel's tiles (mma.sync's best beside it); then Nsight
# Compute's warp-state and scheduler sections on one launch of two tile shapes, to see what
# the warps wait for. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
timeout 120 $bin validate --device cuda --plugin fused > "$out/validate_fused.log" 2>&1
echo "validate exit $?"; tail -1 "$out/validate_fused.log"
timeout 120 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' \
    > "$out/fused_tests.log" 2>&1
echo "fused tests exit $?"; tail -1 "$out/fused_tests.log"
fp16=(--preset llama3-8b --dtype fp16)
timeout 150 $bin bench --plugin fused --out "$out/prefill_tiles.csv" "${fp16[@]}" \
    --phase prefill --batch 4 --context 4096 --set wgmma=1 \
    --sweep-tunable tile_q=64,128 --sweep-tunable tile_kv=32,64,128 > "$out/prefill_tiles.log" 2>&1
timeout 60 $bin bench --plugin fused --out "$out/prefill_mma_sync.csv" "${fp16[@]}" \
    --phase prefill --batch 4 --context 4096 --set wgmma=0 --set tile_q=128 --set tile_kv=64 \
    > "$out/prefill_mma_sync.log" 2>&1
echo "prefill exit $?"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2> /dev/null)
echo "ncu: ${ncu:-none}"
if [[ -n $ncu ]]; then
  for tiles in "128 128" "128 64"; do
    read -r tq tkv <<< "$tiles"
    timeout 100 "$ncu" --kernel-name regex:flash_prefill_wgmma --launch-skip 2 --launch-count 1 \
        --section LaunchStats --section Occupancy --section SchedulerStats --section WarpStateStats \
        --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SpeedOfLight \
        $bin bench --plugin fused --out "/tmp/ncu_${tq}_${tkv}.csv" "${fp16[@]}" --phase prefill --batch 4 \
        --context 4096 --set wgmma=1 --set tile_q=$tq --set tile_kv=$tkv --warmup 0 --min-time 0.01 \
        --max-time 0.05 --repetitions 1 > "$out/ncu_tq${tq}_tkv${tkv}.txt" 2>&1
    echo "ncu $tq/$tkv exit $?"
  done
  grep -hE 'Duration|Registers|Achieved Occupancy|Warp Cycles Per Issued|Stall|Issue Slot|Compute \(SM\)|Memory Throughput|L2 Hit|Block Limit' "$out"/ncu_*.txt | head -60
fi
python3 - "$out" <<'PY'
import csv, sys
keys = ("plugin", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s", "tflops",
        "compute_pct", "ceiling_tflops", "rel_l2_error")
for name in ("prefill_tiles.csv", "prefill_mma_sync.csv"):
    try:
        rows = list(csv.DictReader(open(f"{sys.argv[1]}/{name}")))
    except OSError:
        continue
    for r in rows:
        print(" | ".join(r.get(k, "") for k in keys))
PY
