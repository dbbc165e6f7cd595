#!/usr/bin/env bash
# One device call (H200): int8_kv's S^T = K Q^T on the integer tensor cores (mma.m16n8k32.s8,
# K's int8 rows used as they are, Q in two int8 parts) against the previous kernel (HEAD's
# int8_kv.so, carried in old-plugins/), same process conditions, alternating. (1) int8_kv on
# CUDA: its tests, validate, the accuracy study; (2) decode A/B on the issue's shapes, fp16 and
# bf16, head dim 128 and 64; (3) Nsight Compute on the new kernel at 8 x 32768; (4) what else
# the device offers for profiling. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  git rev-parse --short HEAD 2>/dev/null
  timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 90 stage/libexec/attnbench/tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*int8_kv_cuda*' 2>&1 | tail -3
  timeout 100 $bin validate --device cuda --plugin int8_kv 2>&1 | tail -1
  timeout 120 $bin validate --device cuda --plugin int8_kv --accuracy --dtype fp16 --head-dim 128,64 \
      --q-heads 32 --kv-heads 8 --seed 20261123 2>&1 | tail -14
  ls $cuda | grep -E "^(nsys|ncu)$"
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
common=(--plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode)
for round in 1 2; do
  for which in new old; do
    dir=stage/lib/attnbench/plugins; [[ $which == old ]] && dir=old-plugins
    timeout 60 $bin bench --plugins $dir "${common[@]}" --out "$out/ab_$which.csv" --resume \
        --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768,65536 > /dev/null 2>&1
    echo "$which fp16 round $round exit $?"
    [[ $round == 1 ]] || continue
    timeout 60 $bin bench --plugins $dir "${common[@]}" --out "$out/ab_$which.csv" --resume \
        --preset llama3-8b,tinyllama --dtype bf16,fp16 --batch 32 --context 32768 > /dev/null 2>&1
    echo "$which bf16/hd64 exit $?"
  done
  [[ $round == 1 ]] && for f in "$out"/ab_*.csv; do mv "$f" "${f%.csv}_r1.csv"; done
done
python3 - "$out" <<'PY'
import csv, sys, glob, os
for path in sorted(glob.glob(f"{sys.argv[1]}/ab_*.csv")):
    for r in csv.DictReader(open(path)):
        print(os.path.basename(path), "|", " | ".join(r[k] for k in ("preset", "dtype", "batch", "context", "status", "time_p50_s", "tokens_per_s", "gbps", "bandwidth_pct")))
PY
timeout 150 $cuda/ncu --kernel-name regex:int8_flash_decode_kernel --launch-skip 5 --launch-count 1 --set full \
    --import-source no \
    $bin bench "${common[@]}" --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 --batch 8 --context 32768 \
    --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > "$out/ncu_int8_8x32768.txt" 2>&1
echo "ncu exit $?"
grep -E "Duration|DRAM Throughput|Memory Throughput|Issue Slots|Issued Ipc|Eligible|No Eligible|Registers|Achieved Occupancy|Warp Cycles Per Issued|Stall" "$out/ncu_int8_8x32768.txt" | head -40
# (4) fused's decode step as a timeline, if Nsight Systems is there: the append, the decode
# kernel and the gap between them, at 1 x 65536 and 32 x 4096 (kernel durations from the
# trace; the bench's L2 flush shows as its own kernel or memset).
nsys=$(command -v nsys || ls $cuda/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
echo "nsys: ${nsys:-none}"
if [[ -n $nsys ]]; then
  for shape in "1 65536" "32 4096"; do
    set -- $shape
    timeout 120 $nsys profile --trace cuda --sample none --cpuctxsw none -o /tmp/tl_$1 --force-overwrite true \
        $bin bench --plugin fused,int8_kv --out /tmp/tl.csv --preset llama3-8b --dtype fp16 --phase decode \
        --batch $1 --context $2 --warmup 0.05 --min-time 0.05 --max-time 0.1 > /dev/null 2>&1
    timeout 120 $nsys stats --report cuda_gpu_trace --format csv --output /tmp/tl_$1 /tmp/tl_$1.nsys-rep > /dev/null 2>&1
    python3 - /tmp/tl_$1_cuda_gpu_trace.csv "$1x$2" <<'PY' | tee -a "$out/timeline.txt"
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
prev_end, prev_name = None, None
gaps = {}
for r in rows:
    name = r["Name"].replace("void ", "").replace("attnbench::", "").replace("(anonymous namespace)::", "")[:70]
    start, dur = float(r["Start (ns)"]), float(r["Duration (ns)"])
    by.setdefault(name, []).append(dur)
    if prev_end is not None:
        gaps.setdefault((prev_name, name), []).append(start - prev_end)
    prev_end, prev_name = start + dur, name
print(sys.argv[2])
for name, d in sorted(by.items(), key=lambda kv: -len(kv[1])):
    print(f"  {len(d):6d} x median {statistics.median(d)/1000:8.2f} us  {name}")
for (a, b), g in sorted(gaps.items(), key=lambda kv: -len(kv[1]))[:8]:
    print(f"  gap {len(g):6d} x median {statistics.median(g)/1000:8.2f} us  {a[:30]} -> {b[:30]}")
PY
  done
fi
