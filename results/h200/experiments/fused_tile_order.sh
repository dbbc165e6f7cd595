#!/usr/bin/env bash
# One device call (H200): is it the claims' order of tiles or their mechanism that makes every
# tile slower at two splits (fused_trace_claims)? fused_tile_order.patch over 5cb0306 (the
# trace stamps, claims from two splits on) built twice: var1-fused/ (ATTNB_EXP_ORDER 1: with
# claims on, the atomics and the ring run but each block gets its fixed range's tiles) and
# var2-fused/ (ATTNB_EXP_ORDER 2: with claims off, fixed splits in strided order, block s taking
# tiles s, s + splits, ..., the order claims tend to give). Cases: var1 claim_tiles 0 (fixed,
# contiguous: the baseline), var1 1 (mechanism only), var2 0 (order only), var2 1 (claims).
# 32 x 4096 and 32 x 32768, the 32-key tile in 3 stages pinned; each case its own process,
# summarized by trace_summary.py. The two builds' fused CUDA tests first. Run from the
# repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/trace.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
for v in var1 var2; do
  ATTNB_TEST_PLUGIN_DIR=$PWD/$v-fused timeout 60 stage/libexec/attnbench/tests/fused_plugin_test \
      --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -1 >> $log
done
for shape in "32 4096" "32 32768"; do
  set -- $shape
  for vc in "var1 0" "var1 1" "var2 0" "var2 1"; do
    set -- $shape $vc
    name=${1}x$2_$3_claims$4
    ATTNB_FUSED_TRACE_FILE=$out/trace_$name.csv timeout 60 $bin bench --plugins $3-fused --plugin fused \
        --preset llama3-8b --dtype fp16 --phase decode --batch $1 --context $2 --min-time 0.2 --max-time 0.4 \
        --set tile_kv=32 --set decode_stages=3 --set claim_tiles=$4 --out /tmp/$name.csv > /dev/null 2>&1
    echo "== $name: exit $?; step median, % of copy $(python3 -c "import csv,sys;print([(r['tpot_p50_s'], r['bandwidth_pct'][:5]) for r in csv.DictReader(open(sys.argv[1]))])" /tmp/$name.csv)" >> $log
    python3 results/h200/experiments/trace_summary.py $out/trace_$name.csv 2>&1 | grep -v "blocks in their loop" >> $log
  done
done
(cd $out && tar -czf traces.tar.gz trace_*.csv && rm trace_*.csv)
cat $log
