#!/usr/bin/env bash
# One device call (H200): does the order of the decode's blocks matter? The claimed-tiles
# build (int8_claims) was 1.5-8 points slower even with its claims off; it had changed the
# 3-D grid to a 1-D one in split-major order besides adding the tile queue. Three builds of
# HEAD's kernel, alternating, two rounds: stage/ (the 3-D grid, a group's splits adjacent),
# var1-plugins/ (int8_block_order.patch with ATTNB_EXP_ORDER 1: a 1-D grid, same order) and
# var2-plugins/ (ATTNB_EXP_ORDER 2: a 1-D grid, split-major, a group's blocks far apart).
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
raw=/tmp/raw; mkdir -p $raw
tar xf stage.tar.xz
bin=stage/bin/attnbench
log=$out/checks.log
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $log
bench() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  timeout 90 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
      --out "$raw/$name.csv" "$@" > /dev/null 2>&1
  echo "$name exit $? at ${SECONDS}s" >> $log
}
for round in 1 2; do
  for v in base var1 var2; do
    dir=stage/lib/attnbench/plugins; [[ $v != base ]] && dir=$v-plugins
    bench ${v}_r$round $dir --preset llama3-8b --dtype fp16 --batch 8,32 --context 4096,32768
    bench ${v}_hd64_r$round $dir --preset tinyllama --dtype fp16 --batch 32 --context 32768
  done
done
tar -czf "$out/csv.tar.gz" -C $raw .
python3 - "$raw" <<'PY' >> $log
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[:-4]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
cat $log
