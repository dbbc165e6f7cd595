#!/usr/bin/env bash
# One device call (H200), 26c509b against HEAD b056efb (old-plugins/): the decode blocks' end
# with the last split block to ARRIVE (its loop ended) merging: it does not write its partials but
# waits (polling the counter) until the others' are written and merges its own rows from shared
# memory with theirs; the warps stage only query-head rows, float2 stores, padded rows. Checks,
# where ptxas spilled, then three rounds alternating. Measured: a gain at 2-8 splits, a loss of
# 5-10 points at batch 1 (49-64 splits); replaced by epilogue_arrival.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
tests=stage/libexec/attnbench/tests
st=stage/lib/attnbench/plugins
export ATTNB_TEST_PLUGIN_DIR=$PWD/$st
log=$out/checks.log
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  for t in fused int8_kv; do
    timeout 120 $tests/${t}_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
    timeout 150 $cuda/compute-sanitizer --tool memcheck $tests/${t}_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
    timeout 150 $cuda/compute-sanitizer --tool racecheck $tests/${t}_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  done
  timeout 120 $tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*_cuda*' 2>&1 | tail -2
  timeout 150 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  echo "checks done at ${SECONDS}s"
  # Spills: where the local-memory stores and loads sit against the arrival's atomic.
  $cuda/cuobjdump -sass $st/fused.so | awk '/Function :/{f=$3; n=0} /\/\*[0-9a-f]{4}\*\//{n++} /STL|LDL|ATOMG|RED\.|EXIT/{if (f ~ /Li128ELi64ELi2E/) print f" #"n": "$0}' | sed 's/  */ /g' | cut -c1-200 | head -30
} > $log 2>&1
cat $log
bench() {  # name dir plugin extra...
  local name=$1 dir=$2 plugin=$3; shift 3
  timeout 90 $bin bench --plugins $dir --plugin $plugin --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
for round in 1 2 3; do
  for v in old new; do
    dir=$st; [[ $v == old ]] && dir=old-plugins
    bench f_${v}_r$round $dir fused --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
    bench f_${v}_long_r$round $dir fused --preset llama3-8b --dtype fp16 --batch 1,32 --context 65536
    bench f_${v}_bf16_r$round $dir fused --preset llama3-8b --dtype bf16 --batch 1,8 --context 32768
    bench f_${v}_hd64_r$round $dir fused --preset tinyllama --dtype fp16 --batch 1,8,32 --context 32768
    bench i_${v}_r$round $dir int8_kv --preset llama3-8b --dtype fp16 --batch 1,8,32 --context 4096,32768
    bench i_${v}_long_r$round $dir int8_kv --preset llama3-8b --dtype fp16 --batch 1 --context 65536
    bench i_${v}_bf16_r$round $dir int8_kv --preset llama3-8b --dtype bf16 --batch 1,8 --context 32768
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
