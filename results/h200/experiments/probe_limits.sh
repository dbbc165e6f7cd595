#!/usr/bin/env bash
# One device call (H200), no code change: where the remaining time goes. (1) Nsight Compute's
# full set on the default wgmma prefill (fp16, D 128, 128 x 32 tiles) at 4 x 4096 causal:
# is it bound by shared-memory bandwidth, the tensor pipe, issue or barriers? (2) fused's
# decode tunables on the issue's shapes (tile x stages at the automatic split count; splits
# x claims at the defaults). (3) int8_kv's splits at the same shapes. Run from the
# repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$out/device.txt"
common=(--preset llama3-8b --dtype fp16 --phase decode --min-time 0.2 --max-time 0.6)
timeout 150 $bin bench --plugin fused --out "$out/decode_sweep.csv" --resume "${common[@]}" \
    --batch 32 --context 4096 --sweep-tunable tile_kv=32,64,128 --sweep-tunable decode_stages=2,3 > "$out/decode_sweep.log" 2>&1
echo "sweep 32x4096 exit $?"
timeout 150 $bin bench --plugin fused --out "$out/decode_sweep.csv" --resume "${common[@]}" \
    --batch 8 --context 32768 --sweep-tunable tile_kv=32,64,128 --sweep-tunable decode_stages=2,3 >> "$out/decode_sweep.log" 2>&1
echo "sweep 8x32768 exit $?"
timeout 150 $bin bench --plugin fused --out "$out/decode_splits.csv" --resume "${common[@]}" \
    --batch 8 --context 32768 --sweep-tunable num_splits=0,2,4,8 --sweep-tunable claim_tiles=0,1 > "$out/decode_splits.log" 2>&1
echo "splits 8x32768 exit $?"
timeout 150 $bin bench --plugin fused --out "$out/decode_splits.csv" --resume "${common[@]}" \
    --batch 1 --context 65536 --sweep-tunable num_splits=0,16,32 --sweep-tunable claim_tiles=0,1 >> "$out/decode_splits.log" 2>&1
echo "splits 1x65536 exit $?"
timeout 120 $bin bench --plugin int8_kv --out "$out/int8_splits.csv" --resume "${common[@]}" \
    --batch 32,8 --context 4096,32768 --sweep-tunable kv_splits=0,1,2,4 > "$out/int8_splits.log" 2>&1
echo "int8 exit $?"
python3 - "$out" <<'PY'
import csv, sys, os
for f in ("decode_sweep.csv", "decode_splits.csv", "int8_splits.csv"):
    path = f"{sys.argv[1]}/{f}"
    if not os.path.exists(path): continue
    for r in csv.DictReader(open(path)):
        print(" | ".join(r[k] for k in ("plugin", "batch", "context", "tunables", "status", "time_p50_s", "gbps", "bandwidth_pct")))
PY
timeout 200 $cuda/ncu --kernel-name regex:flash_prefill_wgmma --launch-skip 2 --launch-count 1 --set full \
    --import-source no --print-details all \
    $bin bench --plugin fused --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 \
    --phase prefill --batch 4 --context 4096 \
    --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > "$out/ncu_prefill_default.txt" 2>&1
echo "ncu exit $?"
grep -E "Duration|Throughput|Pipe|Shared|Bank|Issue|Eligible|Stall|Registers|Occupancy|Warp Cycles" "$out/ncu_prefill_default.txt" | head -60
# The decode kernel alone (no append; Nsight Compute flushes L2 clean before it): its own
# duration and DRAM throughput at the two shapes of the 90% target.
for shape in "32 4096" "8 32768"; do
  set -- $shape
  timeout 120 $cuda/ncu --kernel-name regex:flash_decode_kernel --launch-skip 5 --launch-count 1 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats --section Occupancy \
      $bin bench --plugin fused --out /tmp/ncu_decode_$1.csv --preset llama3-8b --dtype fp16 \
      --phase decode --batch $1 --context $2 --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 \
      > "$out/ncu_decode_${1}x$2.txt" 2>&1
  echo "ncu decode $1 x $2 exit $?"
  grep -E "Duration|DRAM Throughput|Memory Throughput|Grid Size|Waves|Achieved Occupancy" "$out/ncu_decode_${1}x$2.txt" | head -8
done
