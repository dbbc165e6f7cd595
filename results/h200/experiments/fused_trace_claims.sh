#!/usr/bin/env bash
# One device call (H200): why do claimed tiles lose at two splits? var-fused/fused.so is 0e69cf1
# with fused_trace_claims.patch (fused_trace.patch's stamps, claims from two splits on); fused's
# decode at 32 x 4096 and 32 x 32768, the 32-key tile in 3 stages pinned, claim_tiles 0 then 1,
# each case its own process, summarized by trace_summary.py. Run from the repository root
# over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/trace.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
for shape in "32 4096" "32 32768"; do
  set -- $shape
  for claims in 0 1; do
    name=${1}x$2_claims$claims
    ATTNB_FUSED_TRACE_FILE=$out/trace_$name.csv timeout 60 $bin bench --plugins var-fused --plugin fused \
        --preset llama3-8b --dtype fp16 --phase decode --batch $1 --context $2 --min-time 0.2 --max-time 0.4 \
        --set tile_kv=32 --set decode_stages=3 --set claim_tiles=$claims --out /tmp/$name.csv > /dev/null 2>&1
    echo "== $name: exit $?; step median, % of copy $(python3 -c "import csv,sys;print([(r['tpot_p50_s'], r['bandwidth_pct'][:5]) for r in csv.DictReader(open(sys.argv[1]))])" /tmp/$name.csv)" >> $log
    python3 results/h200/experiments/trace_summary.py $out/trace_$name.csv >> $log 2>&1
  done
done
cat $log
