#!/usr/bin/env bash
# One device call (H200): int8_kv with its tensor map prefetched at the kernel's start
# (var-plugins/: the build of the commit that adds this script) against 8ffe70f (stage/), two
# rounds alternating; early_launch 0 against 1 at head dim 64 (fp16 there lost ~7 points to
# it in the seventh and eighth sessions); then compute-sanitizer memcheck and racecheck over
# int8_kv's CUDA tests with the prefetching build, and validate on CUDA.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
log=$out/checks.log
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
bench() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  timeout 90 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
for round in 1 2; do
  bench pre_r$round var-plugins --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
  bench base_r$round stage/lib/attnbench/plugins --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
done
bench early_hd64 var-plugins --preset tinyllama --dtype fp16,bf16 --batch 8,32 --context 4096,32768 --sweep-tunable early_launch=0,1
python3 - "$raw" <<'PY' >> $log
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}:{r["tunables"]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
tar -czf "$out/csv.tar.gz" -C $raw .
export ATTNB_TEST_PLUGIN_DIR=$PWD/var-plugins
for tool in memcheck racecheck; do
  timeout 120 $cuda/compute-sanitizer --tool $tool stage/libexec/attnbench/tests/int8_kv_plugin_test \
      --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2 >> $log
  echo "$tool done at ${SECONDS}s" >> $log
done
timeout 100 $bin validate --plugins var-plugins --device cuda --plugin int8_kv 2>&1 | tail -1 >> $log
echo "done at ${SECONDS}s" >> $log
cat $log
