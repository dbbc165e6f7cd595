#!/usr/bin/env bash
# One device call (H200): where the end of fused's decode blocks goes. var-fused/fused.so is
# a9af59f with fused_trace_epilogue.patch (fused_trace.patch's stamps, and inside the epilogue:
# after the partial rows are written, after the fence and the semaphore, and whether the block
# was its group's last; thread 0 keeps them in a local array, so the epilogue's code differs a
# little from the kernel's). 32 x 4096 and 1 x 65536 at the defaults, one process each,
# summarized by trace_summary.py. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/trace.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
for shape in "32 4096" "1 65536"; do
  set -- $shape
  ATTNB_FUSED_TRACE_FILE=$out/trace_${1}x$2.csv timeout 60 $bin bench --plugins var-fused --plugin fused \
      --preset llama3-8b --dtype fp16 --phase decode --batch $1 --context $2 --min-time 0.2 --max-time 0.4 \
      --out /tmp/$1_$2.csv > /dev/null 2>&1
  echo "== $1 x $2: exit $?; step median, % of copy $(python3 -c "import csv,sys;print([(r['tpot_p50_s'], r['bandwidth_pct'][:5]) for r in csv.DictReader(open(sys.argv[1]))])" /tmp/$1_$2.csv)" >> $log
  python3 results/h200/experiments/trace_summary.py $out/trace_${1}x$2.csv 2>&1 | grep -v "blocks in their loop" >> $log
done
cat $log
