#!/usr/bin/env bash
# One device call (H200): int8_kv's tensor copies with their lines marked L2 evict-first (the
# new tunable l2_evict_first) against the same build without. The bench's flush (a memset of
# twice L2) leaves L2 full of dirty lines, which a decode that streams its cache through L2
# writes back while it reads; read-once lines marked evict-first should leave L2 before them.
# The CUDA tests (every tunable value), two rounds of the decode shapes with both values, other
# dtypes and head dims, and Nsight Compute's DRAM bytes read and written by the decode kernel
# under the bench's own flush (no cache control) with each value.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
log=$out/checks.log
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins timeout 90 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' >> $log 2>&1
echo "int8_kv_plugin_test (cuda) exit $?" >> $log
tail -2 $log
bench() {  # name extra...
  local name=$1; shift
  timeout 90 $bin bench --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode --sweep-tunable l2_evict_first=0,1 \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s"
}
for round in 1 2; do
  bench r$round --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
done
bench long --preset llama3-8b --dtype fp16 --batch 1,32 --context 65536
bench other --preset llama3-8b,tinyllama --dtype bf16,fp16 --batch 8,32 --context 32768
bench tiny4096 --preset tinyllama --dtype fp16 --batch 32 --context 4096
for v in 0 1; do
  for shape in "32 4096" "8 32768"; do
    set -- $shape
    timeout 120 $cuda/ncu --cache-control none --clock-control none --kernel-name regex:int8_flash_decode \
        --launch-skip 5 --launch-count 3 --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
        $bin bench --plugin int8_kv --set l2_evict_first=$v --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 \
        --phase decode --batch $1 --context $2 --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 \
        > /tmp/ncu_${v}_$1.txt 2>&1
    echo "ncu l2_evict_first=$v $1 x $2 exit $?" | tee -a "$out/kernel_bytes.txt"
    grep -E "gpu__time_duration|dram__bytes" /tmp/ncu_${v}_$1.txt | head -9 | tee -a "$out/kernel_bytes.txt"
  done
done
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' | tee "$out/summary.txt"
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}:{r["tunables"]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
