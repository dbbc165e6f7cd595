#!/usr/bin/env bash
# One device call (H200): can claims even out the tail if a group's blocks sit on SMs of unequal
# speed? A group's two blocks are launched next to each other and land on neighbouring SMs of
# about the same speed (int8_trace). var3-fused/ is fused_split_major.patch over 5cb0306 (the
# trace stamps, claims from two splits on, the grid split-major: a group's blocks
# batch x KV heads apart); var1-fused/ is fused_tile_order's ATTNB_EXP_ORDER 1 build (claims
# off: HEAD's fixed ranges, the baseline). 32 x 4096 and 32 x 32768 with the 32-key tile in 3
# stages pinned: var1 claims 0, var3 claims 0, var3 claims 1; 8 x 32768 at the defaults (claims
# on at six splits): var1, var3. Each case its own process, summarized by trace_summary.py.
# var3's fused CUDA tests first. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/trace.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
ATTNB_TEST_PLUGIN_DIR=$PWD/var3-fused timeout 60 stage/libexec/attnbench/tests/fused_plugin_test \
    --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -1 >> $log
run() {  # name dir batch context extra...
  local name=$1 dir=$2 batch=$3 context=$4; shift 4
  ATTNB_FUSED_TRACE_FILE=$out/trace_$name.csv timeout 60 $bin bench --plugins $dir --plugin fused \
      --preset llama3-8b --dtype fp16 --phase decode --batch $batch --context $context --min-time 0.2 \
      --max-time 0.4 "$@" --out /tmp/$name.csv > /dev/null 2>&1
  echo "== $name: exit $?; step median, % of copy $(python3 -c "import csv,sys;print([(r['tpot_p50_s'], r['bandwidth_pct'][:5]) for r in csv.DictReader(open(sys.argv[1]))])" /tmp/$name.csv)" >> $log
  python3 results/h200/experiments/trace_summary.py $out/trace_$name.csv 2>&1 | grep -v "blocks in their loop" >> $log
}
pin=(--set tile_kv=32 --set decode_stages=3)
for ctx in 4096 32768; do
  run 32x${ctx}_var1_claims0 var1-fused 32 $ctx "${pin[@]}" --set claim_tiles=0
  run 32x${ctx}_var3_claims0 var3-fused 32 $ctx "${pin[@]}" --set claim_tiles=0
  run 32x${ctx}_var3_claims1 var3-fused 32 $ctx "${pin[@]}" --set claim_tiles=1
done
run 8x32768_var1 var1-fused 8 32768
run 8x32768_var3 var3-fused 8 32768
(cd $out && tar -czf traces.tar.gz trace_*.csv && rm trace_*.csv)
cat $log
