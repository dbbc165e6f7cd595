#!/usr/bin/env bash
# One device call (H200): is int8_kv's early launch slower at head dim 64 (tinyllama, fp16:
# 53.7% against 61.1% at 32 x 32768 in experiments/int8_pdl)? The same build and the previous
# one (old-plugins/), alternating, two rounds, three shapes, the split counts swept.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
for round in 1 2; do
  for which in new prev; do
    dir=stage/lib/attnbench/plugins; [[ $which == prev ]] && dir=old-plugins
    timeout 60 $bin bench --plugins $dir --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode \
        --preset tinyllama --dtype fp16,bf16 --out "$out/hd64_${which}_r$round.csv" --batch 8,32 --context 4096,32768 \
        --sweep-tunable kv_splits=0,4,8 > /dev/null 2>&1
    echo "$which round $round exit $?"
  done
done
python3 - "$out" <<'PY'
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["dtype"], r["batch"], r["context"], r["tunables"])
        rows.setdefault(key, []).append(f'{os.path.basename(path)[5:-4]}={float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
