#!/usr/bin/env bash
# One device call (H200): where inside int8_kv's decode kernel the time goes, block by block.
# var-plugins/int8_kv.so is c965568 with int8_trace.patch applied (experiment only: thread 0
# of every block stamps %globaltimer at its start, after starting its first copies, when its
# first tile has landed, after its last tile and at its end; the 60th decode call of the
# process writes them to ATTNB_INT8_TRACE_FILE). One bench case per process.
# Run a second time with var-plugins/ built from the tree with int8_trace_3stages.patch
# instead (the same stamps, three shared-memory stages): files in int8_trace_3stages/.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $out/trace.txt
for shape in "32 4096" "8 32768" "32 32768"; do
  set -- $shape
  ATTNB_INT8_TRACE_FILE=$out/trace_${1}x$2.csv timeout 60 $bin bench --plugins var-plugins --plugin int8_kv \
      --preset llama3-8b --dtype fp16 --phase decode --batch $1 --context $2 --min-time 0.2 --max-time 0.4 \
      --out /tmp/trace_$1_$2.csv > /dev/null 2>&1
  echo "== $1 x $2: exit $?; step median $(python3 -c "import csv;print([r['tpot_p50_s'] for r in csv.DictReader(open('/tmp/trace_$1_$2.csv'))])")" >> $out/trace.txt
  python3 - $out/trace_${1}x$2.csv >> $out/trace.txt <<'PY'
import csv, sys, statistics as st
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
t0 = min(int(r["start"]) for r in rows)
cols = ["start", "first_copy", "first_tile", "loop_end", "end"]
us = {c: sorted((int(r[c]) - t0) / 1e3 for r in rows) for c in cols}
def q(v, p): return v[min(len(v) - 1, int(p * len(v)))]
print(f"{len(rows)} blocks, tiles {sorted(set(r['tiles'] for r in rows))}")
for c in cols:
    v = us[c]
    print(f"  {c:10s} min {v[0]:7.2f}  p10 {q(v,.1):7.2f}  median {q(v,.5):7.2f}  p90 {q(v,.9):7.2f}  max {v[-1]:7.2f} us")
dur = sorted((int(r["loop_end"]) - int(r["first_tile"])) / 1e3 for r in rows)
print(f"  loop (first tile landed .. last tile): min {dur[0]:.2f} median {q(dur,.5):.2f} max {dur[-1]:.2f} us")
lat = sorted((int(r["first_tile"]) - int(r["first_copy"])) / 1e3 for r in rows)
print(f"  first copy .. landed: min {lat[0]:.2f} median {q(lat,.5):.2f} max {lat[-1]:.2f} us")
per_sm = {}
for r in rows: per_sm.setdefault(r["sm"], []).append(r)
counts = sorted(len(v) for v in per_sm.values())
print(f"  SMs used {len(per_sm)}, blocks per SM: min {counts[0]} max {counts[-1]}")
end = us["end"][-1]
bins = [0] * (int(end // 2) + 1)
for r in rows:
    a, b = (int(r["first_tile"]) - t0) / 1e3, (int(r["loop_end"]) - t0) / 1e3
    for k in range(len(bins)):
        lo, hi = 2 * k, 2 * k + 2
        bins[k] += max(0.0, min(b, hi) - max(a, lo)) / 2
print("  blocks in their loop, per 2 us: " + " ".join(f"{x:.0f}" for x in bins))
PY
done
cat $out/trace.txt
