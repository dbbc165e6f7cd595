#!/usr/bin/env bash
# One device call (H200): the decode blocks' end made shorter (fused and int8_kv, shared code in
# flash_warp_tile.cuh and split_merge.cuh). A split block's thread 0 arrives as soon as its loop
# ends (the atomic's trip overlapping the warps' merge and the partials' writes); the last to
# arrive merges at once if its ticket shows every other block's partials written, without a fence
# or a second atomic; else the block whose publication is the group's last merges, as before. The
# warps stage only the rows that are query heads, with float2 stores into padded rows.
# (1) The new build's fused and int8_kv CUDA tests (int8_kv's ConsecutiveSplitDecodesMatch among
# them), compute-sanitizer memcheck and racecheck over both, every plugin's CUDA correctness
# cases, validate. (2) old-plugins/ (HEAD b056efb) against stage/, alternating, three rounds.
# Run from the repository root over stage.tar.xz.
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
