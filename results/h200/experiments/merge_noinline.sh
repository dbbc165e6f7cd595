#!/usr/bin/env bash
# One device call (H200): the last split block's merge called, not inlined, in every decode that
# merges inside (split_merge.cuh's merge_if_last_split, used by fused and int8_kv). (1) The new
# build's fused and int8_kv CUDA tests, compute-sanitizer memcheck over both, racecheck over
# int8_kv's, every plugin's CUDA correctness cases, validate. (2) fused: old-fused/ (HEAD
# 682296c, the merge inlined) against stage/, alternating, two rounds. (3) int8_kv: old-plugins/
# (HEAD: the merge kernel) against stage/, two rounds. Run from the repository root over
# stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
tests=stage/libexec/attnbench/tests
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
log=$out/checks.log
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  for t in fused int8_kv; do
    timeout 120 $tests/${t}_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
    timeout 150 $cuda/compute-sanitizer --tool memcheck $tests/${t}_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  done
  timeout 100 $cuda/compute-sanitizer --tool racecheck $tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 120 $tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*_cuda*' 2>&1 | tail -2
  timeout 150 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  echo "checks done at ${SECONDS}s"
} > $log 2>&1
cat $log
bench() {  # name dir plugin extra...
  local name=$1 dir=$2 plugin=$3; shift 3
  timeout 90 $bin bench --plugins $dir --plugin $plugin --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
st=stage/lib/attnbench/plugins
for round in 1 2; do
  for v in old new; do
    fdir=$st; idir=$st; [[ $v == old ]] && fdir=old-fused && idir=old-plugins
    bench f_${v}_r$round $fdir fused --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
    bench f_${v}_long_r$round $fdir fused --preset llama3-8b --dtype fp16 --batch 1,32 --context 65536
    bench f_${v}_bf16_r$round $fdir fused --preset llama3-8b --dtype bf16 --batch 1,8 --context 32768
    bench f_${v}_hd64_r$round $fdir fused --preset tinyllama --dtype fp16 --batch 1,8,32 --context 32768
    bench i_${v}_r$round $idir int8_kv --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
    bench i_${v}_long_r$round $idir int8_kv --preset llama3-8b --dtype fp16 --batch 1 --context 65536
    bench i_${v}_bf16_r$round $idir int8_kv --preset llama3-8b --dtype bf16 --batch 1,8 --context 32768
  done
done
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' >> $log
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["plugin"], r["preset"], r["dtype"], r["batch"], r["context"])
        val = f'{float(r["bandwidth_pct"]):.1f}' if r.get("status") == "ok" else r.get("status", "?")
        rows.setdefault(key, []).append(f"{os.path.basename(path)[:-4]}={val}")
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(sorted(v, key=lambda x: ("new" in x, x))))
PY
cat $log
