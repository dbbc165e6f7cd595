#!/usr/bin/env bash
# One device call (H200): where inside fused's decode kernel the time goes, block by block.
# var-fused/fused.so is e9ea5ec with fused_trace.patch applied (experiment only: thread 0 of
# every block stamps %globaltimer at its start, after starting its first copies, when its first
# tile has landed, after its last tile and at its end, after the merge where it is the last of
# its group; the 60th decode call of the process writes them to ATTNB_FUSED_TRACE_FILE),
# summarized by trace_summary.py. One bench case per process; the same shapes with stage/'s
# fused (af2c4f2, the same kernel without the stamps) for the stamps' cost.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/trace.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
median() { python3 -c "import csv,sys;print([(r['tpot_p50_s'], r['bandwidth_pct'][:5]) for r in csv.DictReader(open(sys.argv[1]))])" "$1"; }
for shape in "32 4096" "1 65536" "8 32768"; do
  set -- $shape
  for v in base trace; do
    dir=stage/lib/attnbench/plugins; [[ $v == trace ]] && dir=var-fused
    ATTNB_FUSED_TRACE_FILE=$out/trace_${1}x$2.csv timeout 60 $bin bench --plugins $dir --plugin fused \
        --preset llama3-8b --dtype fp16 --phase decode --batch $1 --context $2 --min-time 0.2 --max-time 0.4 \
        --out /tmp/${v}_$1_$2.csv > /dev/null 2>&1
    echo "== $1 x $2 $v: exit $?; step median, % of copy $(median /tmp/${v}_$1_$2.csv)" >> $log
  done
  python3 results/h200/experiments/trace_summary.py $out/trace_${1}x$2.csv >> $log 2>&1
done
cat $log
